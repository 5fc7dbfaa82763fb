"""Safety production: hazard source registry, GB 18218-2018 grading, monitoring points, warnings and their
disposal, the risk feature library, the failure database, the safety index and reports."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from indunet.apps.safety import evaluation, failures, gbt50493, library, registry, warnings
from indunet.apps.safety.gb18218 import Holding, catalogue, grade
from indunet.core.errors import InvalidInput
from indunet.core.i18n import pick_language
from indunet.platform.runtime import Platform
from indunet.security import Permission
from indunet.web.deps import PagingDep, PlatformDep, PrincipalDep
from indunet.web.responses import FastJSONResponse
from indunet.web.routing import StrictJSONRoute

router = APIRouter(prefix="/api/safety", tags=["safety production"], route_class=StrictJSONRoute)

Number = Annotated[int, Path(ge=1, le=2**31 - 1)]
Key = Annotated[str, Path(min_length=1, max_length=64)]
Period = Literal["daily", "weekly", "monthly"]
_PERIOD_DAYS = {"daily": 1, "weekly": 7, "monthly": 30}


# -- standards -------------------------------------------------------------------------------------
@router.get("/substances", summary="GB 18218-2018 hazardous chemicals with their critical quantities")
def substances(
    principal: PrincipalDep, q: Annotated[str | None, Query(min_length=1, max_length=100)] = None
) -> dict[str, Any]:
    principal.require(Permission.READ)
    items = catalogue().substances()
    if q:
        needle = q.lower()
        items = [
            s
            for s in items
            if needle in s.key
            or needle in s.name_en.lower()
            or needle in s.name_zh
            or needle == (s.cas or "")
        ]
    return {
        "standard": catalogue().version,
        "items": [
            {
                "key": s.key,
                "name_zh": s.name_zh,
                "name_en": s.name_en,
                "cas": s.cas,
                "critical_t": s.critical_t,
                "beta": s.beta,
                "category": s.category,
                "toxic_gas": s.toxic_gas,
            }
            for s in items
        ],
    }


class GradeRequest(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    holdings: list[registry.HoldingSpec] = Field(max_length=registry.MAX_HOLDINGS)
    exposed_people: int = Field(ge=0, le=1_000_000)


@router.post("/grade", summary="Identify and grade a unit by GB 18218-2018, showing the calculation")
def grade_unit(principal: PrincipalDep, body: GradeRequest) -> dict[str, Any]:
    principal.require(Permission.READ)
    return grade([Holding(h.substance, h.quantity_t) for h in body.holdings], body.exposed_people).to_dict()


@router.get("/setpoints", summary="The GB/T 50493-2019 alarm set-points of a gas")
def setpoints(
    principal: PrincipalDep,
    kind: Literal["combustible", "toxic"],
    substance: Annotated[str | None, Query(max_length=100)] = None,
    unit: Literal["mg/m3", "ppm"] = "mg/m3",
) -> dict[str, Any]:
    principal.require(Permission.READ)
    if kind == "combustible":
        points = gbt50493.combustible_setpoints()
    else:
        if not substance:
            raise InvalidInput("a toxic gas needs its substance", key="error.toxic_needs_substance")
        points = gbt50493.toxic_setpoints(substance, unit)
    return {"first": points.first, "second": points.second, "unit": points.unit, "basis": points.basis}


# -- registry --------------------------------------------------------------------------------------
@router.get("/enterprises", summary="Enterprises, optionally of one region (code prefix)")
def list_enterprises(
    platform: PlatformDep,
    principal: PrincipalDep,
    region: Annotated[str | None, Query(pattern=r"^\d{2,6}$")] = None,
) -> dict[str, Any]:
    return {"items": registry.list_enterprises(platform, principal, region)}


@router.put("/enterprises", summary="Create or replace an enterprise (by name)")
def save_enterprise(
    platform: PlatformDep, principal: PrincipalDep, body: registry.EnterpriseSpec
) -> dict[str, Any]:
    return registry.save_enterprise(platform, principal, body)


@router.get("/enterprises/{key}", summary="One enterprise")
def get_enterprise(platform: PlatformDep, principal: PrincipalDep, key: Key) -> dict[str, Any]:
    return registry.get_enterprise(platform, principal, key)


@router.delete("/enterprises/{key}", status_code=204, summary="Remove an enterprise, its units and points")
def delete_enterprise(platform: PlatformDep, principal: PrincipalDep, key: Key) -> Response:
    registry.delete_enterprise(platform, principal, key)
    return Response(status_code=204)


@router.get("/units", summary="Production and storage units with their grading and open warning")
def list_units(
    platform: PlatformDep,
    principal: PrincipalDep,
    enterprise: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    major: bool | None = None,
) -> dict[str, Any]:
    units = registry.list_units(platform, principal, enterprise, major)
    open_by_unit = _open_by_unit(platform, principal)
    return {"items": [{**u, "warning": open_by_unit.get(u["id"])} for u in units]}


def _open_by_unit(platform: Any, principal: Any) -> dict[str, dict[str, Any]]:
    items, _ = warnings.list_warnings(platform, principal, status="open", limit=1000)
    return {
        w["unit_id"]: {
            "number": w["number"],
            "label": w["label"],
            "level": w["level"],
            "condition_level": w["condition_level"],
            "status": w["status"],
        }
        for w in items
    }


@router.put("/units", summary="Create or replace a unit (by name); graded by GB 18218-2018")
def save_unit(platform: PlatformDep, principal: PrincipalDep, body: registry.UnitSpec) -> dict[str, Any]:
    return registry.save_unit(platform, principal, body)


@router.get("/units/{key}", summary="One unit with its grading, monitoring points and open warning")
def get_unit(platform: PlatformDep, principal: PrincipalDep, key: Key) -> dict[str, Any]:
    unit = registry.get_unit(platform, principal, key)
    return {**unit, "warning": _open_by_unit(platform, principal).get(unit["id"])}


@router.delete("/units/{key}", status_code=204, summary="Remove a unit and its monitoring points")
def delete_unit(platform: PlatformDep, principal: PrincipalDep, key: Key) -> Response:
    registry.delete_unit(platform, principal, key)
    return Response(status_code=204)


@router.get("/points", summary="Monitoring points, optionally of one unit")
def list_points(
    platform: PlatformDep,
    principal: PrincipalDep,
    unit: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> dict[str, Any]:
    return {"items": registry.list_points(platform, principal, unit)}


@router.post("/points", status_code=201, summary="Bind a device point to a unit; creates its alarm rules")
def bind_point(platform: PlatformDep, principal: PrincipalDep, body: registry.PointSpec) -> dict[str, Any]:
    return registry.bind(platform, principal, body)


@router.delete(
    "/points/{point_id}", status_code=204, summary="Unbind a monitoring point and remove its rules"
)
def unbind_point(
    platform: PlatformDep, principal: PrincipalDep, point_id: Annotated[str, Path(max_length=64)]
) -> Response:
    registry.unbind(platform, principal, point_id)
    return Response(status_code=204)


# -- warnings --------------------------------------------------------------------------------------
@router.get("/warnings", summary="Warnings: open ones first, most severe first")
def list_warnings(
    platform: PlatformDep,
    principal: PrincipalDep,
    paging: PagingDep,
    status: Literal["open", "assigned", "acting", "closed"] | None = None,
    unit: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    enterprise: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> dict[str, Any]:
    items, total = warnings.list_warnings(
        platform, principal, status, unit, enterprise, limit=paging.limit, offset=paging.offset
    )
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.get("/warnings/{number}", summary="One warning with its history")
def get_warning(platform: PlatformDep, principal: PrincipalDep, number: Number) -> dict[str, Any]:
    return warnings.get(platform, principal, number)


@router.post("/warnings/{number}/steps", summary="Assign, act, note, or close with evidence")
def warning_step(
    platform: PlatformDep, principal: PrincipalDep, number: Number, body: warnings.Step
) -> dict[str, Any]:
    return warnings.step(platform, principal, number, body)


_ATTACHMENT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            content_type: {"schema": {"type": "string", "format": "binary"}}
            for content_type in warnings.ATTACHMENT_TYPES
        }
    }
}


@router.get("/warnings/{number}/evidence/{index}", summary="An evidence attachment", responses=_ATTACHMENT)
def evidence(
    platform: PlatformDep, principal: PrincipalDep, number: Number, index: Annotated[int, Path(ge=0, le=100)]
) -> Response:
    name, content_type, data = warnings.attachment(platform, principal, number, index)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return Response(
        data, media_type=content_type, headers={"Content-Disposition": f'attachment; filename="{safe}"'}
    )


# -- risk features and failures ----------------------------------------------------------------------
class LibraryUpload(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    content: str = Field(min_length=1, max_length=1_000_000)
    """The library as YAML or JSON text."""


@router.get("/features", summary="Risk feature library versions (the newest is in use)")
def feature_versions(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"items": library.versions(platform, principal)}


@router.get("/features/document", summary="The library in use, or one version")
def feature_document(
    platform: PlatformDep,
    principal: PrincipalDep,
    version: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
) -> dict[str, Any]:
    return library.document(platform, principal, version)


@router.post("/features", status_code=201, summary="Import a risk feature library version")
def import_features(platform: PlatformDep, principal: PrincipalDep, body: LibraryUpload) -> dict[str, Any]:
    return library.import_library(platform, principal, body.content)


@router.get("/failures", summary="The failure database, newest first")
def list_failures(
    platform: PlatformDep,
    principal: PrincipalDep,
    paging: PagingDep,
    unit: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    mode: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> dict[str, Any]:
    items, total = failures.list_failures(platform, principal, unit, mode, paging.limit, paging.offset)
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


class FailureImport(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    records: list[failures.FailureRecord] = Field(max_length=failures.MAX_IMPORT)


@router.post("/failures/import", summary="Import earlier failures (records already known are skipped)")
def import_failures(platform: PlatformDep, principal: PrincipalDep, body: FailureImport) -> dict[str, int]:
    return failures.import_records(platform, principal, body.records)


# -- evaluation ------------------------------------------------------------------------------------
@router.get("/index/{enterprise}", summary="Today's safety index of an enterprise")
def safety_index(platform: PlatformDep, principal: PrincipalDep, enterprise: Key) -> dict[str, Any]:
    return evaluation.index_now(platform, principal, enterprise)


def _period(platform: Platform, period: Period, end: str | None) -> tuple[date, date]:
    try:
        last = date.fromisoformat(end) if end else evaluation.today(platform) + timedelta(days=1)
    except ValueError:
        raise InvalidInput(f"not a date: {end!r}", key="error.bad_report_period") from None
    return last - timedelta(days=_PERIOD_DAYS[period]), last


def _render(report: dict[str, Any], fmt: str, accept_language: str | None) -> Response:
    language = pick_language(accept_language)
    if fmt == "json":
        return FastJSONResponse(report)
    if fmt == "html":
        from indunet.apps.safety.report_html import render_html

        return HTMLResponse(render_html(report, language))
    from indunet.apps.safety.report_pdf import render_pdf

    return Response(render_pdf(report, language), media_type="application/pdf")


ReportFormat = Literal["json", "html", "pdf"]
_REPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/html": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        }
    }
}
EndDate = Annotated[
    str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="first day after the period")
]


@router.get(
    "/reports/enterprises/{enterprise}",
    summary="An enterprise's periodic report (JSON, HTML or PDF)",
    responses=_REPORT,
)
async def enterprise_report(
    platform: PlatformDep,
    principal: PrincipalDep,
    enterprise: Key,
    period: Period = "monthly",
    end: EndDate = None,
    format: ReportFormat = "html",
    lang: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    start, stop = _period(platform, period, end)
    report = await run_in_threadpool(
        evaluation.enterprise_report, platform, principal, enterprise, start, stop, period
    )
    return await run_in_threadpool(_render, report, format, lang)


@router.get(
    "/reports/regions/{region}",
    summary="A region's roll-up for regulators (JSON, HTML or PDF)",
    responses=_REPORT,
)
async def region_report(
    platform: PlatformDep,
    principal: PrincipalDep,
    region: Annotated[str, Path(pattern=r"^\d{2,6}$")],
    period: Period = "monthly",
    end: EndDate = None,
    format: ReportFormat = "html",
    lang: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    start, stop = _period(platform, period, end)
    report = await run_in_threadpool(
        evaluation.region_report, platform, principal, region, start, stop, period
    )
    return await run_in_threadpool(_render, report, format, lang)
