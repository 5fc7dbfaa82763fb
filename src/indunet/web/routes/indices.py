"""Equipment operation indices: series per group and period (JSON, CSV or Parquet), and roll-ups."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from indunet.apps.indices import export, rollup
from indunet.apps.indices.compute import MEASURES, PERIODS
from indunet.web.deps import PlatformDep, PrincipalDep
from indunet.web.routing import StrictJSONRoute

router = APIRouter(prefix="/api/indices", tags=["equipment indices"], route_class=StrictJSONRoute)

Measure = Literal[MEASURES]  # type: ignore[valid-type]
Period = Literal[PERIODS]  # type: ignore[valid-type]


class RollUp(BaseModel):
    model_config = {"extra": "forbid"}
    first: date
    last: date


def _default_range(platform: PlatformDep, first: date | None, last: date | None) -> tuple[date, date]:
    today = datetime.now(ZoneInfo(platform.settings.indices_timezone)).date()
    last = last or today
    return first or (last - timedelta(days=365)), last


@router.get(
    "",
    summary="An index series per group and period (JSON; CSV or Parquet with format)",
    responses={
        200: {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
async def get_indices(
    platform: PlatformDep,
    principal: PrincipalDep,
    measure: Measure = "operating_rate",
    by: Annotated[
        str, Query(max_length=80, description="all, device, type, label:<key> or location:<key>")
    ] = "all",
    period: Period = "month",
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
    base: Annotated[
        str | None, Query(max_length=10, description="base period (index = 100); default: the first")
    ] = None,
    format: Literal["json", "csv", "parquet"] = "json",
) -> Any:
    start, end = _default_range(platform, first, last)
    rows = await run_in_threadpool(
        rollup.indices,
        platform,
        principal,
        measure=measure,
        by=by,
        period=period,
        first=start,
        last=end,
        base=base,
    )
    if format == "json":
        return {"measure": measure, "by": by, "period": period, "from": start, "to": end, "items": rows}
    body = export.to_csv(rows, measure) if format == "csv" else export.to_parquet(rows, measure)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/vnd.apache.parquet"
    name = f"indices-{measure}-{period}.{format}"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/rollup", summary="Roll the tenant's telemetry up into device days again, for a range of days")
async def roll_up(platform: PlatformDep, principal: PrincipalDep, body: RollUp) -> dict[str, Any]:
    written = await run_in_threadpool(rollup.roll_up, platform, principal, body.first, body.last)
    return {"first": body.first, "last": body.last, "device_days": written}
