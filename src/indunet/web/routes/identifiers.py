"""Identifier resolution in the platform API: resolve through the federation, the prefix tree with
node health, statistics, and (under the same path) the enterprise API of the installation's
identifier store: templates, registration, search.

Registration and template changes need the ``write:devices`` permission (engineers and admins) and
are done in the name of the prefix administrator ``300:0.NA/<prefix>``; reading needs a login.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from starlette.concurrency import run_in_threadpool

from indunet.core.errors import NotFound
from indunet.idr.carriers_api import create_carrier_routers
from indunet.idr.enterprise_api import create_enterprise_router
from indunet.idr.model import na_handle
from indunet.idr.records import ANONYMOUS, Caller, administrator
from indunet.platform import ledgers as ledger_view
from indunet.platform.identifiers import Identifiers, identify_device
from indunet.security import Permission
from indunet.web.deps import PlatformDep, PrincipalDep

PREFIX = "/api/identifiers"
router = APIRouter(prefix=PREFIX, tags=["identifiers"])


def _identifiers(platform: PlatformDep) -> Identifiers:
    found: Identifiers | None = getattr(platform, "identifiers", None)
    if found is None:
        raise NotFound("identifier resolution is not configured (idr_prefix)", key="error.idr_off")
    return found


IdentifiersDep = Annotated[Identifiers, Depends(_identifiers)]


@router.get("", summary="Whether identifiers are on, the prefix and the resolver")
def overview(platform: PlatformDep, _principal: PrincipalDep) -> dict[str, Any]:
    found: Identifiers | None = getattr(platform, "identifiers", None)
    return found.overview() if found is not None else {"enabled": False}


@router.get("/resolve/{handle:path}", summary="Resolve an identifier through the recursive node")
async def resolve(handle: str, _principal: PrincipalDep, identifiers: IdentifiersDep) -> dict[str, Any]:
    return await identifiers.resolve(handle)


@router.get("/nodes", summary="The identifier nodes of the federation, with their health")
async def nodes(_principal: PrincipalDep, identifiers: IdentifiersDep) -> list[dict[str, Any]]:
    return await identifiers.health()


@router.get("/stats", summary="Identifiers per prefix and resolutions per day (count, p50/p90/p99)")
async def stats(
    _principal: PrincipalDep,
    identifiers: IdentifiersDep,
    days: Annotated[int, Query(ge=1, le=90)] = 7,
) -> dict[str, Any]:
    return await run_in_threadpool(identifiers.statistics, days)


@router.get("/ledgers", summary="The nodes' allocation ledgers: verified head and witnesses' cosignatures")
async def ledgers(_principal: PrincipalDep, identifiers: IdentifiersDep) -> list[dict[str, Any]]:
    return await run_in_threadpool(ledger_view.summaries, identifiers.nodes)


@router.get("/ledgers/{name}/entries", summary="A ledger's entries, newest first, each proved included")
async def ledger_entries(
    name: str,
    _principal: PrincipalDep,
    identifiers: IdentifiersDep,
    before: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=ledger_view.MAX_PAGE)] = 20,
) -> dict[str, Any]:
    return await run_in_threadpool(ledger_view.entries, identifiers.nodes, name, before, limit)


@router.post("/devices/{device_id}", summary="Register the device's identifier and label the device with it")
def identify(
    platform: PlatformDep, principal: PrincipalDep, device_id: str, request: Request
) -> dict[str, Any]:
    base = platform.settings.public_url or str(request.base_url)
    return identify_device(platform, principal, device_id, base)


async def _remember_principal(request: Request, principal: PrincipalDep) -> None:
    request.state.principal = principal


def mount(app: FastAPI, identifiers: Identifiers | None) -> None:
    """The overview routes always; the enterprise API when the installation has an identifier store."""
    app.include_router(router)
    if identifiers is None:
        return
    na = na_handle(identifiers.prefix)

    async def caller_of(request: Request) -> Caller:
        principal = request.state.principal
        if request.method in ("GET", "HEAD"):
            return ANONYMOUS  # reads show public values, as to anyone resolving
        principal.require(Permission.WRITE_DEVICES)
        return administrator(na, 300)

    app.include_router(
        create_enterprise_router(identifiers.store, caller_of, prefix=PREFIX),
        dependencies=[Depends(_remember_principal)],
    )
    if identifiers.carriers is not None:
        # Carriers sign what they send: no login for them; operators log in as for everything else.
        from_carriers, for_operators = create_carrier_routers(
            identifiers.carriers, caller_of, prefix=f"{PREFIX}/carriers"
        )
        app.include_router(from_carriers)
        app.include_router(for_operators, dependencies=[Depends(_remember_principal)])
