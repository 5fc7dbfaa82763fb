"""Telemetry ingest (JSON and CSV) and queries: raw, aggregates, latest, export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from indunet.apps.phm import waveforms
from indunet.core.errors import InvalidInput
from indunet.core.timeutil import parse_duration, parse_timestamp
from indunet.platform import telemetry, twins
from indunet.platform.telemetry_formats import parse_csv, parse_json
from indunet.web.deps import PlatformDep, PrincipalDep
from indunet.web.responses import FastJSONResponse
from indunet.web.routing import StrictJSONRoute

router = APIRouter(prefix="/api/telemetry", tags=["telemetry"], route_class=StrictJSONRoute)

_RECORD = {
    "type": "object",
    "properties": {
        "device": {"type": "string"},
        "ts": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        "values": {"type": "object"},
    },
}
INGEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    # The shapes ``parse_json`` takes: the envelope, one record, or a list of records.
                    "anyOf": [
                        {
                            "type": "object",
                            "required": ["records"],
                            "properties": {"records": {"type": "array", "items": _RECORD}},
                        },
                        _RECORD,
                        {"type": "array", "items": _RECORD},
                    ]
                }
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    },
    "responses": {"200": {"description": "accepted count and rejected points with reasons"}},
}

Window = Annotated[str | None, Query(max_length=64, description="RFC 3339 or epoch s/ms/us")]
Points = Annotated[list[str] | None, Query(max_length=200, description="point names (default all)")]


@router.post("", summary="Batch ingest validated against each device's model", openapi_extra=INGEST_BODY)
async def ingest(request: Request, platform: PlatformDep, principal: PrincipalDep) -> FastJSONResponse:
    body = await request.body()
    if not body:
        raise InvalidInput("empty body", key="error.empty_body")
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    max_records = platform.settings.max_batch_points
    result = telemetry.IngestResult()
    if content_type in ("text/csv", "application/csv"):
        records, rejected_rows = parse_csv(body, max_records)
        result.rejected.extend(rejected_rows)
    elif content_type in ("application/json", "") or content_type.endswith("+json"):
        records = parse_json(body, max_records)
    else:
        raise InvalidInput(
            f"unsupported content type {content_type!r}: use application/json or text/csv",
            key="error.content_type",
        )
    result = await run_in_threadpool(telemetry.ingest, platform, principal, records, result)
    return FastJSONResponse(
        {
            "accepted": result.accepted,
            "rejected": result.rejected[:1000],
            "rejected_count": len(result.rejected),
        }
    )


@router.post(
    "/waveforms",
    summary="A vibration waveform: its condition indicators are computed and stored as the device's points",
)
async def waveform(
    platform: PlatformDep, principal: PrincipalDep, body: waveforms.WaveformSpec
) -> dict[str, Any]:
    return await run_in_threadpool(waveforms.ingest, platform, principal, body)


def _query(
    points: list[str] | None, start: str | None, end: str | None, limit: int, order: str = "asc"
) -> telemetry.SeriesQuery:
    return telemetry.SeriesQuery(
        points=tuple(points or ()),
        start_us=parse_timestamp(start) if start else None,
        end_us=parse_timestamp(end) if end else None,
        limit=limit,
        descending=order == "desc",
    )


@router.get("/{device_id}", summary="Raw samples per point in a time window (default: the last hour)")
def raw(
    platform: PlatformDep,
    principal: PrincipalDep,
    device_id: str,
    point: Points = None,
    start: Window = None,
    end: Window = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
) -> dict[str, Any]:
    return telemetry.raw(platform, principal, device_id, _query(point, start, end, limit, order))


@router.get("/{device_id}/aggregate", summary="Aggregates per interval: min, max, avg, count, first, last")
def aggregate(
    platform: PlatformDep,
    principal: PrincipalDep,
    device_id: str,
    interval: Annotated[str, Query(max_length=16, description="e.g. 10s, 5m, 1h")] = "1m",
    fn: Annotated[list[str] | None, Query(max_length=6)] = None,
    point: Points = None,
    start: Window = None,
    end: Window = None,
) -> dict[str, Any]:
    funcs = fn or ["min", "max", "avg", "count"]
    return telemetry.aggregate(
        platform, principal, device_id, _query(point, start, end, 1), parse_duration(interval), funcs
    )


@router.get("/{device_id}/latest", summary="Latest value and timestamp per point")
def latest(platform: PlatformDep, principal: PrincipalDep, device_id: str) -> dict[str, Any]:
    twin = twins.get_twin(platform, principal, device_id)
    return {"device": device_id, "values": twin["reported"]}


@router.get(
    "/{device_id}/export",
    summary="Export as CSV or Parquet (default: the last 24 hours)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
def export(
    platform: PlatformDep,
    principal: PrincipalDep,
    device_id: str,
    format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
    point: Points = None,
    start: Window = None,
    end: Window = None,
) -> StreamingResponse:
    chunks = telemetry.export(platform, principal, device_id, _query(point, start, end, 1), format)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/vnd.apache.parquet"
    filename = f"{device_id}.{format}"
    return StreamingResponse(
        chunks, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
