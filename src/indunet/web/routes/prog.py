"""NASA prog_server's REST API (``/api/v1``) over indunet's remaining-useful-life models
(apps/phm/prognostics.py): prog_server's paths, form fields and answers, so its ``prog_client`` and
tools written for it work unchanged.

prog_client sends no credentials of its own; like any ``requests`` program it sends those of the
user's ``.netrc`` as HTTP Basic. Besides a bearer token or ``X-API-Key``, these routes take HTTP
Basic whose password is an API key (the user name is not used), so ``machine <host> login apikey
password ink_…`` in ``.netrc`` is all a prog_client user needs.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from indunet.apps.phm import prognostics
from indunet.core.errors import AuthenticationFailed, InvalidInput
from indunet.security import Principal
from indunet.web.deps import PlatformDep, authenticate

router = APIRouter(prefix="/api/v1", tags=["prognostics as a service (prog_server)"])

MAX_FIELDS = 200
SessionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Format = Annotated[Literal["mean", "metrics", "uncertain_data"], Query()]

_bearer = HTTPBearer(auto_error=False, description="JWT access token, API key, or Basic with an API key")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


async def _principal(
    request: Request,
    platform: PlatformDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    credential = api_key or (bearer.credentials if bearer else None)
    header = request.headers.get("authorization", "")
    if credential is None and header[:6].lower() == "basic ":
        try:
            _, _, credential = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed("malformed Basic credentials", key="error.auth_required") from None
    return await authenticate(platform, credential)


PrincipalDep = Annotated[Principal, Depends(_principal)]


def sessions(request: Request) -> prognostics.Sessions:
    found: prognostics.Sessions = request.app.state.prog_sessions
    return found


SessionsDep = Annotated[prognostics.Sessions, Depends(sessions)]


async def _form(request: Request) -> dict[str, str]:
    form = await request.form(max_fields=MAX_FIELDS, max_files=0)
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.get("", summary="Welcome (prog_server's root)")
def root(_principal: PrincipalDep) -> dict[str, str]:
    return {"message": "Welcome to the indunet prognostics API (prog_server compatible)!"}


@router.put(
    "/session", status_code=201, summary="Start a session on a production RUL model (form field model)"
)
async def new_session(
    request: Request, platform: PlatformDep, principal: PrincipalDep, store: SessionsDep
) -> dict[str, Any]:
    fields = await _form(request)
    if "model" not in fields:
        raise InvalidInput("form field 'model' is required", key="error.prog_model_missing")
    options = {k: v[:2000] for k, v in fields.items() if k != "model"}
    session = await run_in_threadpool(store.create, platform, principal, fields["model"], options)
    return session.describe()


@router.get("/session", summary="Ids of this tenant's sessions")
def list_sessions(principal: PrincipalDep, store: SessionsDep) -> dict[str, list[int]]:
    return {"sessions": store.ids(principal)}


@router.get("/session/{session_id}", summary="One session")
def get_session(principal: PrincipalDep, store: SessionsDep, session_id: SessionId) -> dict[str, Any]:
    return store.get(principal, session_id).describe()


@router.delete("/session/{session_id}", summary="End a session")
def end_session(principal: PrincipalDep, store: SessionsDep, session_id: SessionId) -> dict[str, Any]:
    store.end(principal, session_id)
    return {"id": session_id, "status": "stopped"}


@router.post("/session/{session_id}/data", status_code=204, summary="One time step: time, inputs, outputs")
async def send_data(
    request: Request, principal: PrincipalDep, store: SessionsDep, session_id: SessionId
) -> Response:
    session = store.get(principal, session_id)
    prognostics.add_data(session, await _form(request))
    return Response(status_code=204)


@router.get("/session/{session_id}/initialized", summary="Whether the session has data")
def initialized(principal: PrincipalDep, store: SessionsDep, session_id: SessionId) -> dict[str, bool]:
    return {"initialized": store.get(principal, session_id).initialized}


@router.get("/session/{session_id}/prediction/status", summary="Prediction status")
def prediction_status(principal: PrincipalDep, store: SessionsDep, session_id: SessionId) -> dict[str, Any]:
    return prognostics.status(store.get(principal, session_id))


@router.get("/session/{session_id}/prediction/events", summary="Predicted time of event (EOL)")
def predicted_events(
    principal: PrincipalDep, store: SessionsDep, session_id: SessionId, return_format: Format = "metrics"
) -> dict[str, Any]:
    now, _, samples = prognostics.prediction(store.get(principal, session_id))
    if return_format == "uncertain_data":
        event: Any = {
            "type": "UnweightedSamples",
            "samples": [{prognostics.EVENT: float(s)} for s in samples],
        }
    elif return_format == "mean":
        event = {prognostics.EVENT: float(samples.mean())}
    else:
        event = prognostics.metrics(samples)
    return {"prediction_time": now, "time_of_event": event}


@router.get("/session/{session_id}/event_state", summary="Event state: the health index (1 new, 0 at EOL)")
def event_state(
    principal: PrincipalDep, store: SessionsDep, session_id: SessionId, return_format: Format = "mean"
) -> dict[str, Any]:
    now, value = prognostics.health(store.get(principal, session_id))
    state = {prognostics.EVENT: value}
    if return_format == "uncertain_data":
        return {"time": now, "event_state": {"type": "ScalarData", "state": state}}
    return {"time": now, "event_state": state}


@router.get("/session/{session_id}/state", summary="State: health index and remaining life at the last step")
def state(
    principal: PrincipalDep, store: SessionsDep, session_id: SessionId, return_format: Format = "mean"
) -> dict[str, Any]:
    session = store.get(principal, session_id)
    now, rul, _ = prognostics.prediction(session)
    values = {"rul": rul, "health": min(1.0, max(0.0, rul / session.model.config.cap))}
    if return_format == "uncertain_data":
        return {"time": now, "state": {"type": "ScalarData", "state": values}}
    return {"time": now, "state": values}


def _unsupported(what: str) -> None:
    raise InvalidInput(
        f"{what}: indunet's remaining-useful-life models are data-driven and have no physics model to "
        "simulate; ask for prediction/events, event_state or state",
        key="error.prog_unsupported",
        what=what,
    )


@router.get("/session/{session_id}/{what:path}", include_in_schema=False)
def other(principal: PrincipalDep, store: SessionsDep, session_id: SessionId, what: str) -> None:
    store.get(principal, session_id)
    _unsupported(what)
