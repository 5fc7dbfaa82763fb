"""Every error leaves the API as RFC 9457 ``application/problem+json``; this is the one mapping."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from indunet.core.errors import IndunetError
from indunet.core.i18n import catalog, pick_language, translate
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


def _localised(request: Request, key: str | None, fallback: str, params: dict[str, Any]) -> str:
    language = pick_language(request.headers.get("accept-language"))
    if key and key in catalog(language):
        return translate(key, language, **params)
    return fallback


async def _indunet_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, IndunetError)
    extra: dict[str, Any] = {}
    errors = getattr(exc, "errors", None)
    if errors:
        extra["errors"] = errors
    title = _localised(request, f"problem.{exc.code}", exc.code.replace("-", " "), {})
    detail = _localised(request, exc.key, exc.message, exc.params)
    return problem(exc.status, exc.code, title, detail, request, **extra)


async def _validation_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
    title = _localised(request, "problem.invalid-input", "invalid input", {})
    return problem(422, "invalid-input", title, detail, request, errors=errors)


async def _http_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not-found", 405: "method-not-allowed", 401: "authentication-failed"}.get(
        exc.status_code, "http"
    )
    response = problem(exc.status_code, code, str(exc.detail), str(exc.detail), request)
    # Starlette's headers carry meaning, e.g. the ``Allow`` list that RFC 9110 requires on a 405.
    response.headers.update(exc.headers or {})
    return response


async def _unexpected(request: Request, exc: Exception) -> FastJSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal", "internal error", "the server failed; the error was logged", request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(IndunetError, _indunet_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
