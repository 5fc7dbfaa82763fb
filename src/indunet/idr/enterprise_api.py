"""The enterprise API over HTTP, beside the Handle REST API: templates, batch registration, search.

    GET  /api/v1/idr/templates                     every template (latest version, identifiers using it)
    PUT  /api/v1/idr/templates/{name}              save; 201 with a new version, 200 when unchanged
    GET  /api/v1/idr/templates/{name}[?version=N]  one template; /versions lists them all
    POST /api/v1/idr/templates/{name}/validate     {"data": {...}} -> {"valid", "errors"}
    POST /api/v1/idr/identifiers                   {"template", "version"?, "items": [{"handle", "data", "values"?}]}
    GET  /api/v1/idr/identifiers/{handle}          the identifier's template, typed data and values
    GET  /api/v1/idr/search?template=T&field.F=X&prefix.F=Y&under=P&limit=N&after=H

Who the caller is comes from ``caller_of``: Handle-style Basic authentication on a stand-alone node,
the platform's login in the console. Errors are problem+json with every validation problem listed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from indunet.idr import enterprise
from indunet.idr.enterprise import Item
from indunet.idr.records import Caller, InvalidValue
from indunet.idr.rest import parse_value, read_json, value_json
from indunet.idr.store import HandleStore
from indunet.idr.templates import Template

CallerOf = Callable[[Request], Awaitable[Caller]]
MAX_TEMPLATE_BYTES = 256 * 1024
MAX_BATCH_BYTES = 32 * 1024 * 1024
"""10,000 identifiers with a few kilobytes of metadata each."""


def _template_json(template: Template, used: int | None = None) -> dict[str, Any]:
    out = template.as_json()
    if used is not None:
        out["identifiers"] = used
    return out


def _items(raw: Any) -> list[Item]:
    if not isinstance(raw, list):
        raise InvalidValue("items is a list of {handle, data}")
    if not 0 < len(raw) <= enterprise.MAX_BATCH:
        raise InvalidValue(f"a batch holds 1 to {enterprise.MAX_BATCH} identifiers")
    out = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("handle"), str):
            raise InvalidValue(f"items[{n}] is an object with a handle")
        extra = item.get("values", [])
        if not isinstance(extra, list) or len(extra) > 20:
            raise InvalidValue(f"items[{n}].values is a list of up to 20 values")
        out.append(Item(item["handle"], item.get("data", {}), tuple(parse_value(v) for v in extra)))
    return out


def _conditions(request: Request) -> list[tuple[str, str, bool]]:
    out = []
    for key, value in request.query_params.multi_items():
        kind, dot, name = key.partition(".")
        if dot and kind in ("field", "prefix") and name:
            out.append((name, value, kind == "prefix"))
    return out


def create_enterprise_router(
    store: HandleStore, caller_of: CallerOf, *, prefix: str = "/api/v1/idr"
) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["identifier templates"])

    @router.get("/templates")
    async def list_templates() -> list[dict[str, Any]]:
        found = await run_in_threadpool(enterprise.templates, store)
        return [_template_json(t, used) for t, used in found]

    @router.put("/templates/{name}")
    async def put_template(name: str, request: Request) -> JSONResponse:
        caller = await caller_of(request)
        spec = await read_json(request, MAX_TEMPLATE_BYTES)
        saved, made = await run_in_threadpool(enterprise.save_template, store, name, spec, caller)
        return JSONResponse(_template_json(saved), status_code=201 if made else 200)

    @router.get("/templates/{name}")
    async def get_template(name: str, version: Annotated[int | None, Query(ge=1)] = None) -> dict[str, Any]:
        return _template_json(await run_in_threadpool(enterprise.template, store, name, version))

    @router.get("/templates/{name}/versions")
    async def get_versions(name: str) -> list[dict[str, Any]]:
        return [_template_json(t) for t in await run_in_threadpool(enterprise.versions, store, name)]

    @router.post("/templates/{name}/validate")
    async def validate(
        name: str, request: Request, version: Annotated[int | None, Query(ge=1)] = None
    ) -> dict[str, Any]:
        body = await read_json(request, MAX_TEMPLATE_BYTES)
        found = await run_in_threadpool(enterprise.template, store, name, version)
        problems = enterprise.validate(found, body.get("data") if isinstance(body, dict) else None)
        return {
            "template": found.ref,
            "valid": not problems,
            "errors": [{"path": p, "message": m} for p, m in problems],
        }

    @router.post("/identifiers", status_code=201)
    async def register(request: Request) -> dict[str, Any]:
        caller = await caller_of(request)
        body = await read_json(request, MAX_BATCH_BYTES)
        if not isinstance(body, dict):
            raise InvalidValue("the body is an object with template and items")
        name, version = body.get("template"), body.get("version")
        if not isinstance(name, str) or not (version is None or (isinstance(version, int) and version > 0)):
            raise InvalidValue("template is a name and version, when given, a positive integer")
        items = _items(body.get("items"))
        count = await run_in_threadpool(enterprise.register, store, name, items, caller, version)
        return {"registered": count}

    @router.get("/identifiers/{handle:path}")
    async def describe(handle: str, request: Request) -> dict[str, Any]:
        caller = await caller_of(request)
        found, data, shown = await run_in_threadpool(enterprise.describe, store, handle, caller)
        return {
            "handle": handle,
            "template": found.ref if found else None,
            "data": data,
            "values": [value_json(v) for v in shown],
        }

    @router.get("/search")
    async def search(
        request: Request,
        template: str,
        under: str | None = None,
        limit: Annotated[int, Query(ge=1, le=enterprise.MAX_SEARCH_RESULTS)] = 100,
        after: str = "",
    ) -> dict[str, Any]:
        conditions = _conditions(request)
        handles = await run_in_threadpool(
            lambda: enterprise.search(store, template, conditions, prefix=under, limit=limit, after=after)
        )
        return {"handles": handles, "next": handles[-1] if len(handles) == limit else None}

    return router
