"""Maintenance work orders: open, list, read, and move through their lifecycle."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from indunet.apps.phm import work_orders
from indunet.web.deps import PagingDep, PlatformDep, PrincipalDep
from indunet.web.routing import StrictJSONRoute

router = APIRouter(prefix="/api/work-orders", tags=["predictive maintenance"], route_class=StrictJSONRoute)

Number = Annotated[int, Path(ge=1, le=2**31 - 1)]
StatusFilter = Literal["open", "assigned", "in_progress", "done", "cancelled", "unclosed"]


@router.get("", summary="Work orders, newest first")
def list_orders(
    platform: PlatformDep,
    principal: PrincipalDep,
    paging: PagingDep,
    status: StatusFilter | None = None,
    device: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> dict[str, Any]:
    items, total = work_orders.list_orders(platform, principal, status, device, paging.limit, paging.offset)
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.post("", status_code=201, summary="Open a work order by hand")
def open_order(platform: PlatformDep, principal: PrincipalDep, body: work_orders.OrderSpec) -> dict[str, Any]:
    return work_orders.open_order(platform, principal, body)


@router.get("/{number}", summary="One work order with its history")
def get_order(platform: PlatformDep, principal: PrincipalDep, number: Number) -> dict[str, Any]:
    return work_orders.get(platform, principal, number)


@router.post("/{number}/steps", summary="Assign, start, complete (with the resolution) or cancel")
def step(
    platform: PlatformDep, principal: PrincipalDep, number: Number, body: work_orders.Step
) -> dict[str, Any]:
    return work_orders.step(platform, principal, number, body)
