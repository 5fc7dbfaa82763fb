"""Predictive maintenance: the model registry (train, list, read, promote, archive)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from indunet.apps.phm import registry
from indunet.web.deps import PlatformDep, PrincipalDep
from indunet.web.routing import StrictJSONRoute

router = APIRouter(prefix="/api/phm", tags=["predictive maintenance"], route_class=StrictJSONRoute)

Name = Annotated[str, Path(min_length=1, max_length=64)]
Version = Annotated[int, Path(ge=1, le=1_000_000)]


@router.get("/models", summary="Model versions, by name, newest first")
def list_models(
    platform: PlatformDep,
    principal: PrincipalDep,
    name: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    return {"items": registry.list_models(platform, principal, name)}


@router.post(
    "/models",
    status_code=201,
    summary="Train an anomaly detector on a device's healthy window; registered as the next candidate",
)
async def train(
    platform: PlatformDep, principal: PrincipalDep, body: registry.DetectorSpec
) -> dict[str, Any]:
    # Reading a long window and fitting take seconds: off the event loop.
    return await run_in_threadpool(registry.train, platform, principal, body)


@router.get("/models/{name}/{version}", summary="One version with its document, lineage and metrics")
def get_model(platform: PlatformDep, principal: PrincipalDep, name: Name, version: Version) -> dict[str, Any]:
    return registry.get(platform, principal, name, version)


@router.post(
    "/models/{name}/{version}/promote",
    summary="Put the version in production (the previous one is archived) with its alarm rule",
)
def promote(platform: PlatformDep, principal: PrincipalDep, name: Name, version: Version) -> dict[str, Any]:
    return registry.promote(platform, principal, name, version)


@router.post("/models/{name}/{version}/archive", summary="Take the version out of service")
def archive(platform: PlatformDep, principal: PrincipalDep, name: Name, version: Version) -> dict[str, Any]:
    return registry.archive(platform, principal, name, version)
