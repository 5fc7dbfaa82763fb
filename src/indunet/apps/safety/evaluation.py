"""Evaluation: the safety index of an enterprise, the data of its periodic report, the regional roll-up.

The safety index (0-100, higher is safer) is the weighted mean of five component scores, each 0-100, so
a regulator can see which part pulled an enterprise down:

    hazards     0.25   inherent risk: 100 less 30/20/10/5 per major hazard source of grade 1/2/3/4
    warnings    0.30   100 less 25/10/4/1 per warning opened that day at red/orange/yellow/blue
    disposal    0.20   share of the day's warnings closed within their time (red 1 h, orange 4 h,
                       yellow 24 h, blue 72 h); late open ones count against it
    monitoring  0.15   share of monitoring points that reported that day
    failures    0.10   100 less 20 per failure recorded in the 90 days before

Grades: A from 90, B from 75, C from 60, D below. A period's index is the mean of its days'; days are
calendar days in the installation's time zone (``indices_timezone``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from indunet.apps.safety import failures
from indunet.core.errors import InvalidInput, NotFound
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal
from indunet.store.metadata import series
from indunet.store.safety import (
    safety_enterprises,
    safety_failures,
    safety_points,
    safety_units,
    safety_warnings,
)

WEIGHTS = {"hazards": 0.25, "warnings": 0.30, "disposal": 0.20, "monitoring": 0.15, "failures": 0.10}
HAZARD_PENALTY = {1: 30, 2: 20, 3: 10, 4: 5}
WARNING_PENALTY = {1: 25, 2: 10, 3: 4, 4: 1}
DISPOSE_WITHIN_S = {1: 3600, 2: 4 * 3600, 3: 24 * 3600, 4: 72 * 3600}
FAILURE_PENALTY = 20
FAILURE_WINDOW_DAYS = 90
MAX_REPORT_DAYS = 366
US = 1_000_000
DAY_US = 86_400 * US


def grade_of(value: float) -> str:
    return "A" if value >= 90 else "B" if value >= 75 else "C" if value >= 60 else "D"


@dataclass(frozen=True, slots=True)
class _Warning:
    unit_id: str
    level: int
    opened_at: int
    closed_at: int | None


def _bounds(day: date, zone: ZoneInfo) -> tuple[int, int]:
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = start + timedelta(days=1)
    return int(start.timestamp() * US), int(end.timestamp() * US)


def _day_index(
    day: date,
    zone: ZoneInfo,
    hazard_levels: list[int],
    warnings_all: list[_Warning],
    reported: dict[date, float],
    failure_times: list[int],
    now: int,
) -> dict[str, Any]:
    start, end = _bounds(day, zone)
    todays = [w for w in warnings_all if start <= w.opened_at < end]
    hazards = max(0.0, 100.0 - sum(HAZARD_PENALTY[level] for level in hazard_levels))
    warned = max(0.0, 100.0 - sum(WARNING_PENALTY[w.level] for w in todays))
    due = [w for w in todays if w.closed_at is not None or now - w.opened_at > DISPOSE_WITHIN_S[w.level] * US]
    on_time = [
        w
        for w in due
        if w.closed_at is not None and w.closed_at - w.opened_at <= DISPOSE_WITHIN_S[w.level] * US
    ]
    disposal = 100.0 if not due else 100.0 * len(on_time) / len(due)
    # Major hazard sources with no monitoring point at all are the worst case of coverage, not the best.
    unmonitored = not reported and bool(hazard_levels)
    monitoring = 0.0 if unmonitored else 100.0 * reported.get(day, 1.0)
    recent = [t for t in failure_times if end - FAILURE_WINDOW_DAYS * DAY_US <= t < end]
    failed = max(0.0, 100.0 - FAILURE_PENALTY * len(recent))
    scores = {
        "hazards": (hazards, {"major_by_grade": dict(Counter(str(level) for level in hazard_levels))}),
        "warnings": (warned, {"opened_by_level": dict(Counter(str(w.level) for w in todays))}),
        "disposal": (disposal, {"due": len(due), "on_time": len(on_time)}),
        "monitoring": (monitoring, {"reported_share": round(monitoring / 100.0, 4)}),
        "failures": (failed, {"last_90_days": len(recent)}),
    }
    value = sum(WEIGHTS[key] * score for key, (score, _) in scores.items())
    return {
        "date": day.isoformat(),
        "value": round(value, 1),
        "grade": grade_of(value),
        "components": [
            {"key": key, "score": round(score, 1), "weight": WEIGHTS[key], "detail": detail}
            for key, (score, detail) in scores.items()
        ],
    }


def _coverage(platform: Platform, unit_ids: list[str], days: list[date], zone: ZoneInfo) -> dict[date, float]:
    """The share of the units' monitoring points that reported on each day."""
    if not unit_ids or not days:
        return {}
    with platform.engine.connect() as conn:
        sids = list(
            conn.execute(
                select(series.c.id)
                .join(
                    safety_points,
                    (series.c.device_id == safety_points.c.device_id)
                    & (series.c.point == safety_points.c.point),
                )
                .where(safety_points.c.unit_id.in_(unit_ids))
            ).scalars()
        )
        points = conn.execute(
            select(func.count()).select_from(safety_points).where(safety_points.c.unit_id.in_(unit_ids))
        ).scalar_one()
    if not points:
        return {}
    start, _ = _bounds(days[0], zone)
    _, end = _bounds(days[-1], zone)
    seen: dict[date, int] = Counter()
    for sid in sids:
        hours = platform.timeseries.aggregate(sid, start, end, 3600 * US, ["count"])
        reported_days = {datetime.fromtimestamp(int(h["ts"]) / US, zone).date() for h in hours}  # type: ignore[arg-type]
        for day in reported_days:
            seen[day] += 1
    return {day: seen.get(day, 0) / points for day in days}


def _zone(platform: Platform) -> ZoneInfo:
    return ZoneInfo(platform.settings.indices_timezone)


def enterprise_report(
    platform: Platform, principal: Principal, enterprise: str, start: date, end: date, kind: str = "monthly"
) -> dict[str, Any]:
    """Everything the report of an enterprise over ``start`` <= day < ``end`` shows (report_html/pdf)."""
    principal.require(Permission.READ)
    if not start < end or (end - start).days > MAX_REPORT_DAYS:
        raise InvalidInput(
            f"a report covers 1 to {MAX_REPORT_DAYS} days, start before end", key="error.bad_report_period"
        )
    zone = _zone(platform)
    tenant = principal.tenant_id
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    period_start, _ = _bounds(start, zone)
    period_end, _ = _bounds(end, zone)
    with platform.engine.connect() as conn:
        row = (
            conn.execute(
                select(safety_enterprises).where(
                    safety_enterprises.c.tenant_id == tenant,
                    (safety_enterprises.c.id == enterprise) | (safety_enterprises.c.name == enterprise),
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"no enterprise {enterprise!r}", key="error.no_enterprise", name=enterprise)
        units = (
            conn.execute(select(safety_units).where(safety_units.c.enterprise_id == row["id"]))
            .mappings()
            .all()
        )
        unit_ids = [u["id"] for u in units]
        warning_rows = (
            conn.execute(
                select(
                    safety_warnings,
                    safety_units.c.name.label("unit_name"),
                    safety_units.c.title.label("unit_title"),
                )
                .join(safety_units, safety_units.c.id == safety_warnings.c.unit_id)
                .where(
                    safety_warnings.c.enterprise_id == row["id"],
                    safety_warnings.c.opened_at < period_end,
                    (safety_warnings.c.closed_at.is_(None)) | (safety_warnings.c.closed_at >= period_start),
                )
                .order_by(safety_warnings.c.opened_at)
            )
            .mappings()
            .all()
        )
        failure_times = list(
            conn.execute(
                select(safety_failures.c.occurred_at).where(
                    safety_failures.c.unit_id.in_(unit_ids),
                    safety_failures.c.occurred_at >= period_start - FAILURE_WINDOW_DAYS * DAY_US,
                )
            ).scalars()
        )
        points = conn.execute(
            select(func.count()).select_from(safety_points).where(safety_points.c.unit_id.in_(unit_ids))
        ).scalar_one()
    now = now_us()
    warning_list = [_Warning(w["unit_id"], w["level"], w["opened_at"], w["closed_at"]) for w in warning_rows]
    hazard_levels = [u["level"] for u in units if u["major"] and u["level"] is not None]
    reported = _coverage(platform, unit_ids, [d for d in days if _bounds(d, zone)[0] <= now], zone)
    history = [
        _day_index(day, zone, hazard_levels, warning_list, reported, failure_times, now)
        for day in days
        if _bounds(day, zone)[0] <= now
    ]
    index = _mean_index(history)
    by_day = []
    for day in days:
        s, e = _bounds(day, zone)
        counts = Counter(str(w.level) for w in warning_list if s <= w.opened_at < e)
        by_day.append(
            {"date": day.isoformat(), **{str(level): counts.get(str(level), 0) for level in (1, 2, 3, 4)}}
        )
    in_period = [w for w in warning_rows if period_start <= w["opened_at"] < period_end]
    open_level = {w["unit_id"]: w["level"] for w in warning_rows if w["status"] != "closed"}
    return {
        "scope": "enterprise",
        "title": row["title"],
        "period": {"kind": kind, "start": to_rfc3339(period_start), "end": to_rfc3339(period_end)},
        "generated_at": to_rfc3339(now),
        "subject": {
            "name": row["title"],
            "code": row["code"],
            "region": row["region"],
            "region_name": row["region_name"],
        },
        "index": index,
        "index_history": [{"date": h["date"], "value": h["value"]} for h in history],
        "warnings_by_day": by_day,
        "warnings_by_level": {
            str(level): sum(1 for w in in_period if w["level"] == level) for level in (1, 2, 3, 4)
        },
        "hazards": [
            {
                "unit": u["name"],
                "title": u["title"],
                "kind": u["kind"],
                "major": u["major"],
                "r": round(u["r"], 2),
                "level": u["level"],
                "sum_ratio": u["grading"].get("sum_ratio"),
                "alpha": u["grading"].get("alpha"),
                "terms": u["grading"].get("terms", []),
                "warning_level": open_level.get(u["id"]),
            }
            for u in sorted(units, key=lambda u: -u["r"])
        ],
        "incidents": [
            {
                "number": f"WRN-{w['number']:06d}",
                "unit": w["unit_name"],
                "title": w["unit_title"],
                "peak_level": w["level"],
                "opened_at": to_rfc3339(w["opened_at"]),
                "closed_at": None if w["closed_at"] is None else to_rfc3339(w["closed_at"]),
                "status": w["status"],
                "duration_s": None if w["closed_at"] is None else (w["closed_at"] - w["opened_at"]) // US,
                "failure_mode": w["failure_mode"],
                "cause": w["cause"] or "",
                "evidence": (w["evidence"] or {}).get("summary", ""),
            }
            for w in in_period
        ],
        "failures": failures.by_mode(platform, tenant, period_start, period_end),
        "monitoring": {
            "points": points,
            "online": round(points * reported.get(days[-1], 0.0)) if reported else 0,
            "alarms": len(in_period),
        },
    }


def _mean_index(history: list[dict[str, Any]]) -> dict[str, Any]:
    if not history:
        return {"value": 100.0, "grade": "A", "components": []}
    value = sum(h["value"] for h in history) / len(history)
    components = []
    for i, component in enumerate(history[-1]["components"]):
        score = sum(h["components"][i]["score"] for h in history) / len(history)
        components.append({**component, "score": round(score, 1)})
    return {"value": round(value, 1), "grade": grade_of(value), "components": components}


def region_report(
    platform: Platform, principal: Principal, region: str, start: date, end: date, kind: str = "monthly"
) -> dict[str, Any]:
    """The roll-up for a regulator: every enterprise whose region code falls under ``region`` (a
    province 31, a city 3101 or a county 310116), worst index first."""
    principal.require(Permission.READ)
    if not region.isdigit() or not 2 <= len(region) <= 6:
        raise InvalidInput("a region is 2 to 6 digits of a GB/T 2260 code", key="error.bad_region")
    with platform.engine.connect() as conn:
        rows = (
            conn.execute(
                select(safety_enterprises).where(
                    safety_enterprises.c.tenant_id == principal.tenant_id,
                    safety_enterprises.c.region.startswith(region),
                )
            )
            .mappings()
            .all()
        )
    enterprises: list[dict[str, Any]] = []
    by_day: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()
    history: dict[str, list[float]] = {}
    hazards: list[dict[str, Any]] = []
    incidents: list[dict[str, Any]] = []
    monitoring: Counter[str] = Counter()
    modes: dict[str, dict[str, Any]] = {}
    for row in rows:
        report = enterprise_report(platform, principal, row["id"], start, end, kind)
        majors = Counter(str(h["level"]) for h in report["hazards"] if h["major"])
        open_levels = Counter(str(h["warning_level"]) for h in report["hazards"] if h["warning_level"])
        enterprises.append(
            {
                "name": row["title"],
                "code": row["code"],
                "region": row["region"],
                "index": report["index"]["value"],
                "grade": report["index"]["grade"],
                "major_hazards": {str(level): majors.get(str(level), 0) for level in (1, 2, 3, 4)},
                "open_warnings": {str(level): open_levels.get(str(level), 0) for level in (1, 2, 3, 4)},
            }
        )
        for day in report["warnings_by_day"]:
            counter = by_day.setdefault(day["date"], Counter())
            counter.update({k: v for k, v in day.items() if k != "date"})
        totals.update(report["warnings_by_level"])
        for point in report["index_history"]:
            history.setdefault(point["date"], []).append(point["value"])
        hazards.extend({**h, "unit": f"{row['name']}/{h['unit']}"} for h in report["hazards"] if h["major"])
        incidents.extend({**i, "unit": f"{row['name']}/{i['unit']}"} for i in report["incidents"])
        monitoring.update(report["monitoring"])
        for failure in report["failures"]:
            mode = modes.setdefault(failure["mode"], {**failure, "count": 0})
            mode["count"] += failure["count"]
    enterprises.sort(key=lambda e: e["index"])
    # The code and the names of the districts in it: data, so the same in every language.
    names = sorted({r["region_name"] for r in rows if r["region_name"]})
    title = f"{region} ({', '.join(names)})" if names else region
    mean = sum(e["index"] for e in enterprises) / len(enterprises) if enterprises else 100.0
    zone = _zone(platform)
    return {
        "scope": "region",
        "title": title,
        "period": {
            "kind": kind,
            "start": to_rfc3339(_bounds(start, zone)[0]),
            "end": to_rfc3339(_bounds(end, zone)[0]),
        },
        "generated_at": to_rfc3339(now_us()),
        "subject": {
            "name": region,
            "code": region,
            "region": region,
            "region_name": rows[0]["region_name"] if rows else "",
        },
        "index": {"value": round(mean, 1), "grade": grade_of(mean), "components": []},
        "index_history": [
            {"date": d, "value": round(sum(v) / len(v), 1)} for d, v in sorted(history.items())
        ],
        "warnings_by_day": [
            {"date": d, **{str(k): c.get(str(k), 0) for k in (1, 2, 3, 4)}} for d, c in sorted(by_day.items())
        ],
        "warnings_by_level": {str(level): totals.get(str(level), 0) for level in (1, 2, 3, 4)},
        "hazards": hazards,
        "incidents": incidents,
        "failures": sorted(modes.values(), key=lambda m: (-m["count"], m["mode"])),
        "monitoring": {key: monitoring.get(key, 0) for key in ("points", "online", "alarms")},
        "enterprises": enterprises,
    }


def today(platform: Platform) -> date:
    """Today where the installation counts its days."""
    return datetime.now(_zone(platform)).date()


def index_now(platform: Platform, principal: Principal, enterprise: str) -> dict[str, Any]:
    """Today's safety index of an enterprise, with its components."""
    today = datetime.now(_zone(platform)).date()
    report = enterprise_report(platform, principal, enterprise, today, today + timedelta(days=1), "daily")
    return {"enterprise": report["subject"]["name"], "date": today.isoformat(), **report["index"]}
