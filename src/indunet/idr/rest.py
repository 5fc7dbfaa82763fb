"""The Handle.Net REST API (``/api/handles``) over the record operations.

Theory of operation: requests and responses follow the Handle.Net server's JSON API, so its clients
(pyhandle, B2HANDLE, curl scripts written for Handle.Net) work unchanged:

- ``GET /api/handles/{handle}``: ``index`` and ``type`` (repeatable) select values, ``publicOnly``
  hides non-public ones (default: true when anonymous).
- ``PUT /api/handles/{handle}``: body ``{"values": [...]}``, a bare list or one value. Without
  ``index`` it creates the identifier or, with ``overwrite`` (default true), replaces its record;
  with ``index`` parameters it adds or replaces just those values (``overwrite=false``: only adds).
  ``mintNewSuffix=true`` appends a fresh random suffix to the given name.
- ``DELETE /api/handles/{handle}``: the identifier, or with ``index`` just those values.
- ``GET /api/handles?prefix=P&page=&pageSize=``: the identifiers under a prefix (administrators).

Every answer is ``{"responseCode": ..., "handle": ...}`` with the Handle protocol response code and
the HTTP status Handle.Net gives it; errors add ``"message"``. Administrators authenticate with HTTP
Basic: user ``INDEX:HANDLE`` (percent-encoded, as pyhandle sends it) and the HS_SECKEY secret. The
body, the number of values, indexes and types, and the identifier's length are all bounded.

Value JSON: ``{"index", "type", "data": {"format", "value"}, "ttl", "timestamp"}`` plus, when not
the defaults, ``ttlType`` (1: absolute), ``permissions`` (``adminRead adminWrite publicRead
publicWrite`` as four 0/1 characters) and ``references``. Data formats: ``string`` (UTF-8 text),
``base64``, ``hex``, ``admin`` (``{"handle", "index", "permissions": "011111110011"}``) and ``vlist``
(``[{"handle", "index"}]``); a bare JSON string is taken as ``string`` data, as pyhandle sends it.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from indunet.idr import http_native, records
from indunet.idr.model import (
    HS_ADMIN,
    HS_VLIST,
    MAX_HANDLE_BYTES,
    MAX_VALUES,
    HandleValue,
    Permission,
    Reference,
    TtlType,
)
from indunet.idr.records import (
    ANONYMOUS,
    BadCredentials,
    Caller,
    HandleError,
    InvalidHandleName,
    InvalidValue,
)
from indunet.idr.recursive import Found, Recursor
from indunet.idr.store import HandleStore
from indunet.idr.wire.codes import ResponseCode
from indunet.idr.wire.errors import WireError
from indunet.idr.wire.values import AdminRecord, decode_admin, decode_vlist, encode_admin, encode_vlist
from indunet.web.responses import FastJSONResponse

MAX_BODY_BYTES: Final = 4 * 1024 * 1024
MAX_QUERY_ITEMS: Final = MAX_VALUES
MAX_VLIST_ENTRIES: Final = 1000

_STATUS: Final = {
    ResponseCode.RC_SUCCESS: 200,
    ResponseCode.RC_ERROR: 500,
    ResponseCode.RC_HANDLE_NOT_FOUND: 404,
    ResponseCode.RC_HANDLE_ALREADY_EXIST: 409,
    ResponseCode.RC_INVALID_HANDLE: 400,
    ResponseCode.RC_VALUE_NOT_FOUND: 400,
    ResponseCode.RC_VALUE_ALREADY_EXIST: 409,
    ResponseCode.RC_VALUE_INVALID: 400,
    ResponseCode.RC_SERVER_NOT_RESP: 400,
    ResponseCode.RC_NOT_AUTHORIZED: 403,
    ResponseCode.RC_ACCESS_DENIED: 403,
    ResponseCode.RC_AUTHEN_NEEDED: 401,
    # Handle.Net answers 403 here; 401 is HTTP's word for wrong credentials, and pyhandle reports it as
    # an authentication error instead of a generic one.
    ResponseCode.RC_AUTHEN_FAILED: 401,
    ResponseCode.RC_OPERATION_DENIED: 403,
    ResponseCode.RC_SERVER_BUSY: 429,
}


class BodyTooLarge(InvalidValue):
    status = 413


# --- JSON <-> values ----------------------------------------------------------------------------


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _value_permissions(permissions: Permission) -> str:
    order = (Permission.ADMIN_READ, Permission.ADMIN_WRITE, Permission.PUBLIC_READ, Permission.PUBLIC_WRITE)
    return "".join("1" if p in permissions else "0" for p in order)


def _parse_permissions(text: Any) -> Permission:
    if not isinstance(text, str) or len(text) != 4 or set(text) - {"0", "1"}:
        raise InvalidValue("permissions is four 0/1 characters: adminRead adminWrite publicRead publicWrite")
    order = (Permission.ADMIN_READ, Permission.ADMIN_WRITE, Permission.PUBLIC_READ, Permission.PUBLIC_WRITE)
    result = Permission(0)
    for bit, flag in zip(text, order, strict=True):
        if bit == "1":
            result |= flag
    return result


def _data_json(value: HandleValue) -> dict[str, Any]:
    if value.type == HS_ADMIN:
        try:
            admin = decode_admin(value.data)
            return {
                "format": "admin",
                "value": {
                    "handle": admin.handle,
                    "index": admin.index,
                    "permissions": records.admin_bits(admin.permissions),
                },
            }
        except WireError:
            pass
    if value.type == HS_VLIST:
        try:
            members = decode_vlist(value.data)
            return {"format": "vlist", "value": [{"handle": r.handle, "index": r.index} for r in members]}
        except WireError:
            pass
    try:
        return {"format": "string", "value": value.data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"format": "base64", "value": base64.b64encode(value.data).decode("ascii")}


def value_json(value: HandleValue) -> dict[str, Any]:
    out: dict[str, Any] = {"index": value.index, "type": value.type, "data": _data_json(value)}
    if value.ttl_type is TtlType.ABSOLUTE:
        out["ttlType"] = 1
    out["ttl"] = value.ttl
    out["timestamp"] = _iso(value.timestamp)
    if value.permissions != Permission.default():
        out["permissions"] = _value_permissions(value.permissions)
    if value.references:
        out["references"] = [{"handle": r.handle, "index": r.index} for r in value.references]
    return out


def _int(raw: Any, what: str, low: int, high: int) -> int:
    # pyhandle writes some indexes as strings ("200"), so digit strings count as integers.
    if isinstance(raw, str) and raw.strip().isdigit() and len(raw) <= 12:
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise InvalidValue(f"{what} must be an integer in {low}..{high}")
    return raw


def _text(raw: Any, what: str) -> str:
    if not isinstance(raw, str):
        raise InvalidValue(f"{what} must be a string")
    try:
        # JSON may carry lone surrogates ("\ud800"), which no database column accepts as text.
        raw.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidValue(f"{what} is not valid Unicode") from exc
    return raw


def _ref(raw: Any) -> tuple[str, int]:
    if not isinstance(raw, dict):
        raise InvalidValue("a reference is {handle, index}")
    handle = _text(raw.get("handle"), "reference handle")
    if len(handle.encode("utf-8", "surrogatepass")) > MAX_HANDLE_BYTES:
        raise InvalidValue("reference handle is too long")
    return handle, _int(raw.get("index"), "reference index", 0, records.MAX_INDEX)


def _data_bytes(raw: Any) -> bytes:
    if isinstance(raw, str):
        return _text(raw, "data").encode("utf-8")
    if not isinstance(raw, dict):
        raise InvalidValue("data is a string or {format, value}")
    fmt = raw.get("format", "string")
    value = raw.get("value")
    try:
        if fmt == "string":
            return _text(value, "data value").encode("utf-8")
        if fmt == "base64":
            return base64.b64decode(_text(value, "data value"), validate=True)
        if fmt == "hex":
            return bytes.fromhex(_text(value, "data value"))
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise InvalidValue(f"data is not valid {fmt}") from exc
    if fmt == "admin":
        if not isinstance(value, dict):
            raise InvalidValue("admin data is {handle, index, permissions}")
        handle, index = _ref(value)
        try:
            permissions = records.parse_admin_bits(_text(value.get("permissions"), "permissions"))
        except ValueError as exc:
            raise InvalidValue(str(exc)) from exc
        return encode_admin(AdminRecord(permissions, handle, index))
    if fmt == "vlist":
        if not isinstance(value, list) or len(value) > MAX_VLIST_ENTRIES:
            raise InvalidValue(f"vlist data is a list of up to {MAX_VLIST_ENTRIES} references")
        return encode_vlist(tuple(Reference(*_ref(item)) for item in value))
    raise InvalidValue(f"unknown data format {str(fmt)[:40]!r}")


def parse_value(raw: Any) -> HandleValue:
    """One value from its JSON form; InvalidValue when it is not one."""
    if not isinstance(raw, dict):
        raise InvalidValue("a value is a JSON object")
    index = _int(raw.get("index"), "index", 1, records.MAX_INDEX)
    value_type = _text(raw.get("type"), "type")
    if "data" not in raw:
        raise InvalidValue(f"value {index} has no data")
    ttl_type = TtlType(_int(raw.get("ttlType", 0), "ttlType", 0, 1))
    refs = raw.get("references", [])
    if not isinstance(refs, list) or len(refs) > MAX_VALUES:
        raise InvalidValue("references is a list")
    return HandleValue(
        index=index,
        type=value_type,
        data=_data_bytes(raw["data"]),
        ttl_type=ttl_type,
        ttl=_int(raw.get("ttl", 86_400), "ttl", 0, records.MAX_TTL),
        permissions=_parse_permissions(raw["permissions"]) if "permissions" in raw else Permission.default(),
        references=tuple(Reference(h, i) for h, i in (_ref(r) for r in refs)),
    )


def parse_values(body: Any) -> list[HandleValue]:
    """The values of a PUT body: ``{"values": [...]}``, a list of values, or a single value."""
    if isinstance(body, dict) and "values" in body:
        body = body["values"]
    items = body if isinstance(body, list) else [body]
    if len(items) > MAX_VALUES:
        raise InvalidValue(f"at most {MAX_VALUES} values")
    return [parse_value(item) for item in items]


# --- request plumbing ---------------------------------------------------------------------------


def _answer(code: ResponseCode, status: int, handle: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"responseCode": int(code)}
    if handle is not None:
        body["handle"] = handle
    body.update(extra)
    return FastJSONResponse(body, status_code=status)


def found_json(handle: str, shown: Iterable[HandleValue]) -> dict[str, Any]:
    """The REST answer of a successful resolution (the route's and the quick path's)."""
    return {
        "responseCode": int(ResponseCode.RC_SUCCESS),
        "handle": handle,
        "values": [value_json(v) for v in shown],
    }


def status_of(code: int) -> int:
    """The HTTP status answering a Handle response code (500 for codes with no better match)."""
    try:
        return _STATUS.get(ResponseCode(code), 500)
    except ValueError:
        return 500


def error_response(exc: HandleError, handle: str | None = None) -> JSONResponse:
    status = getattr(exc, "status", 0) if isinstance(exc, BodyTooLarge) else status_of(exc.response_code)
    response = _answer(exc.response_code, status, handle, message=exc.message)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="handle"'
    return response


def _flag(request: Request, name: str, default: bool | None) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise InvalidValue(f"{name} is true or false")
    return raw.lower() == "true"


def _list(request: Request, name: str) -> list[str]:
    items = request.query_params.getlist(name)
    if len(items) > MAX_QUERY_ITEMS:
        raise InvalidValue(f"at most {MAX_QUERY_ITEMS} {name} parameters")
    return items


def _indexes(request: Request) -> list[int]:
    return [_int(i, "index", 1, records.MAX_INDEX) for i in _list(request, "index")]


def _check_name(handle: str) -> str:
    if len(handle.encode("utf-8", "surrogatepass")) > MAX_HANDLE_BYTES:
        raise InvalidHandleName(f"an identifier is at most {MAX_HANDLE_BYTES} bytes")
    return handle


async def read_json(request: Request, limit: int) -> Any:
    """The request's JSON body, read up to ``limit`` bytes (BodyTooLarge beyond, InvalidValue when
    it is not JSON)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, RecursionError) as exc:
        raise InvalidValue(f"the body is not JSON: {str(exc)[:120]}") from exc


def _credentials(request: Request) -> tuple[str, bytes] | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        raise BadCredentials("only HTTP Basic authentication is supported")
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadCredentials("the Basic credentials are not base64") from exc
    user, colon, secret = decoded.partition(b":")
    if not colon:
        raise BadCredentials("the Basic credentials have no password")
    try:
        return unquote(user.decode("utf-8"), errors="strict"), secret
    except UnicodeDecodeError as exc:
        raise BadCredentials("the user name is not UTF-8") from exc


async def caller_of_request(request: Request, store: HandleStore) -> Caller:
    """Who sent ``request``: anonymous, or the administrator its Basic credentials prove."""
    creds = _credentials(request)
    if creds is None:
        return ANONYMOUS
    return await run_in_threadpool(records.authenticate, store, creds[0], creds[1])


Handler = Callable[[Request], Awaitable[JSONResponse]]


def _guarded(handler: Handler) -> Handler:
    async def run(request: Request) -> JSONResponse:
        handle = request.path_params.get("handle")
        try:
            return await handler(request)
        except HandleError as exc:
            return error_response(exc, handle)

    return run


# --- routes -------------------------------------------------------------------------------------


def create_router(store: HandleStore, *, max_body_bytes: int = MAX_BODY_BYTES) -> APIRouter:
    """The Handle REST API routes under ``/api/handles``, over ``store``."""
    router = APIRouter(tags=["identifiers"])

    @_guarded
    async def get_handle(request: Request) -> JSONResponse:
        handle = _check_name(request.path_params["handle"])
        caller = await caller_of_request(request, store)
        indexes, types = _indexes(request), _list(request, "type")
        public_only = _flag(request, "publicOnly", None)
        try:
            if public_only or (public_only is None and not caller.authenticated):
                # Public values only: one point read on the driver, cheaper than a hop to a thread.
                shown = records.resolve(store, handle, caller, indexes=indexes, types=types, public_only=True)
            else:
                shown = await run_in_threadpool(
                    records.resolve,
                    store,
                    handle,
                    caller,
                    indexes=indexes,
                    types=types,
                    public_only=public_only,
                )
        except records.ValuesNotFound:
            # In resolution "values not found" is an answer, not a failure (Handle.Net: 200).
            return _answer(ResponseCode.RC_VALUE_NOT_FOUND, 200, handle, values=[])
        return FastJSONResponse(found_json(handle, shown))

    @_guarded
    async def put_handle(request: Request) -> JSONResponse:
        handle = _check_name(request.path_params["handle"])
        caller = await caller_of_request(request, store)
        body = await read_json(request, max_body_bytes)
        values = parse_values(body)
        indexes = _indexes(request)
        overwrite = bool(_flag(request, "overwrite", True))
        if _flag(request, "mintNewSuffix", False):
            # The name in the URL is the start of the new one: ``88.100.1/`` or ``88.100.1/batch-``.
            handle = _check_name(handle + ("" if "/" in handle else "/") + str(uuid.uuid4()))
        if indexes:
            selected = [v for v in values if v.index in set(indexes)]
            if len(selected) != len(set(indexes)):
                raise InvalidValue("every index parameter needs a value in the body, once")
            added, _replaced = await run_in_threadpool(
                records.put_values, store, handle, selected, caller, overwrite=overwrite
            )
            return _answer(ResponseCode.RC_SUCCESS, 201 if added else 200, handle)
        created = await run_in_threadpool(
            records.create_handle, store, handle, values, caller, overwrite=overwrite
        )
        return _answer(ResponseCode.RC_SUCCESS, 201 if created else 200, handle)

    @_guarded
    async def delete_handle(request: Request) -> JSONResponse:
        handle = _check_name(request.path_params["handle"])
        caller = await caller_of_request(request, store)
        indexes = _indexes(request)
        if indexes:
            await run_in_threadpool(records.remove_values, store, handle, indexes, caller)
        else:
            await run_in_threadpool(records.delete_handle, store, handle, caller)
        return _answer(ResponseCode.RC_SUCCESS, 200, handle)

    @_guarded
    async def list_handles(request: Request) -> JSONResponse:
        prefix = request.query_params.get("prefix")
        if not prefix:
            raise InvalidHandleName("prefix is required")
        caller = await caller_of_request(request, store)
        page = _int(request.query_params.get("page", "0"), "page", 0, 10**9)
        size = _int(request.query_params.get("pageSize", "1000"), "pageSize", 1, records.MAX_PAGE_SIZE)
        total, handles = await run_in_threadpool(
            records.list_handles, store, prefix, caller, page=page, page_size=size
        )
        return _answer(
            ResponseCode.RC_SUCCESS,
            200,
            None,
            prefix=prefix,
            totalCount=str(total),
            page=page,
            pageSize=size,
            handles=handles,
        )

    router.add_api_route("/api/handles", list_handles, methods=["GET"], include_in_schema=True)
    for method, endpoint in (("GET", get_handle), ("PUT", put_handle), ("DELETE", delete_handle)):
        router.add_api_route("/api/handles/{handle:path}", endpoint, methods=[method])
    return router


def create_app(store: HandleStore, *, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """A stand-alone ASGI app serving only the Handle REST API (an identifier server's HTTP interface)."""
    app = FastAPI(title="indunet identifier service", docs_url=None, redoc_url=None)
    app.include_router(create_router(store, max_body_bytes=max_body_bytes))
    return app


def create_recursive_app(recursor: Recursor) -> FastAPI:
    """A recursive node's HTTP interface: ``GET /api/handles/{handle}`` resolved through ``recursor``,
    in the Handle.Net REST API's shape (writes go to the node that holds the identifier)."""
    app = FastAPI(title="indunet recursive identifier resolver", docs_url=None, redoc_url=None)
    app.router.routes.append(http_native.route(recursor))

    @_guarded
    async def get_handle(request: Request) -> JSONResponse:
        handle = _check_name(request.path_params["handle"])
        outcome = await recursor.resolve(handle, _indexes(request), _list(request, "type"))
        if isinstance(outcome, Found):
            return FastJSONResponse(found_json(handle, outcome.values))
        if outcome.code == ResponseCode.RC_VALUE_NOT_FOUND:
            return _answer(ResponseCode.RC_VALUE_NOT_FOUND, 200, handle, values=[])
        body: dict[str, Any] = {"responseCode": outcome.code, "handle": handle, "message": outcome.message}
        return JSONResponse(body, status_code=status_of(outcome.code))

    app.add_api_route("/api/handles/{handle:path}", get_handle, methods=["GET"])
    return app


class QuickReads:
    """ASGI middleware answering the commonest request, an anonymous ``GET /api/handles/{handle}``
    with no query, without the framework's routing and dependency machinery (several times the cost
    of the read itself). Anything else, and any failure of the read, goes to the wrapped app, which
    answers exactly as it always does."""

    def __init__(self, app: Any, store: HandleStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["query_string"]
            or not path.startswith(_HANDLES)
            or any(name == b"authorization" for name, _ in scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        handle = path[len(_HANDLES) :]
        try:
            shown = records.resolve(self.store, handle, public_only=True)
        except HandleError:
            await self.app(scope, receive, send)  # the route words the refusal
            return
        body = orjson.dumps(found_json(handle, shown))
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


_HANDLES: Final = "/api/handles/"
