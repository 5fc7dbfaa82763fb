"""Every error leaves the API as RFC 9457 ``application/problem+json``; this is the one mapping."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from indunet.core.errors import IndunetError
from indunet.core.i18n import catalog, localise_error, pick_language, translate
from indunet.web.responses import FastJSONResponse

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
_TYPE_BASE = "https://indunet.dev/problems/"

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
# Declared on every operation so the OpenAPI document tells clients (and schema fuzzers) the truth:
# errors are problem+json, not FastAPI's default ``HTTPValidationError`` JSON, which this module replaces.
RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "Client error (RFC 9457)", "content": {PROBLEM: {"schema": _PROBLEM_SCHEMA}}},
    "5XX": {"description": "Server error (RFC 9457)", "content": {PROBLEM: {"schema": _PROBLEM_SCHEMA}}},
}


def problem(
    status: int, code: str, title: str, detail: str, request: Request, **extra: Any
) -> FastJSONResponse:
    body = {
        "type": _TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="indunet"'} if status == 401 else None
    return FastJSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _language(request: Request) -> str:
    return pick_language(request.headers.get("accept-language"))


def _title(request: Request, code: str) -> str:
    key = f"problem.{code}"
    language = _language(request)
    return translate(key, language) if key in catalog(language) else code.replace("-", " ")


async def _indunet_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, IndunetError)
    extra: dict[str, Any] = {}
    errors = getattr(exc, "errors", None)
    if errors:
        extra["errors"] = errors
    title = _title(request, exc.code)
    detail = localise_error(exc.key, exc.message, _language(request), **exc.params)
    return problem(exc.status, exc.code, title, detail, request, **extra)


async def _validation_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            # A JSON syntax error's own explanation sits in ctx; "JSON decode error" alone says little.
            "msg": str(e.get("msg", ""))
            + (f" ({e['ctx']['error']})" if e.get("ctx", {}).get("error") else ""),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
    title = _title(request, "invalid-input")
    return problem(422, "invalid-input", title, detail, request, errors=errors)


async def _http_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not-found", 405: "method-not-allowed", 401: "authentication-failed"}.get(
        exc.status_code, "http"
    )
    response = problem(exc.status_code, code, str(exc.detail), str(exc.detail), request)
    # Starlette's headers carry meaning, e.g. the ``Allow`` list that RFC 9110 requires on a 405.
    response.headers.update(exc.headers or {})
    if exc.status_code == 405 and (allowed := _allowed_methods(request)):
        response.headers["Allow"] = allowed
    return response


def _allowed_methods(request: Request) -> str:
    """The methods of the request's path in the OpenAPI document.

    Starlette's ``Allow`` names only the methods of the first route whose path matches, and FastAPI
    makes one route per method, so ``GET /api/devices`` would hide ``POST /api/devices``. As OpenAPI
    resolves paths, a concrete one (``/api/device-types/import-aas``) wins over a templated one.
    """
    paths = request.app.openapi()["paths"]
    matching = [t for t in paths if _path_regex(t).match(request.scope["path"])]
    if not matching:
        return ""
    fewest = min(t.count("{") for t in matching)
    methods = {m.upper() for t in matching if t.count("{") == fewest for m in paths[t]}
    if "GET" in methods:
        methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
    return ", ".join(sorted(methods))


@functools.cache
def _path_regex(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]


async def _unexpected(request: Request, exc: Exception) -> FastJSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal", "internal error", "the server failed; the error was logged", request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(IndunetError, _indunet_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
