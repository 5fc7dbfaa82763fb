"""Indices from device days: a worked example by hand, fixed-base index, period-on-period and
year-on-year changes, and sums before ratios."""

from __future__ import annotations

import pytest

from indunet.apps.indices.compute import DeviceDay, period_of, series

H = 3600.0


def day(device: str, when: str, working_h: float, connected_h: float = 24, made: float = 0, bad: float = 0,
        ideal_s: float = 0) -> DeviceDay:  # fmt: skip
    return DeviceDay(
        device, when, connected_h * H, working_h * H, 16 * H if connected_h else 0, made, bad, ideal_s
    )


GROUPS = {"a": "line-1", "b": "line-1", "c": "line-1", "d": "line-2"}


def test_operating_rate_counts_machines_that_worked_enough_per_connected_day() -> None:
    rows = [
        day("a", "2026-01-05", 8), day("a", "2026-01-06", 8),
        day("b", "2026-01-05", 1.5), day("b", "2026-01-06", 0.4),  # 1.9 h over 2 connected days: below 2
        day("c", "2026-01-05", 0, connected_h=0),  # never connected: not counted at all
        day("d", "2026-01-05", 3),
    ]  # fmt: skip
    found = series(rows, GROUPS.get, "operating_rate", "month", min_hours=1.0)
    assert [(r["group"], r["period"], r["value"]) for r in found] == [
        ("line-1", "2026-01", 50.0),
        ("line-2", "2026-01", 100.0),
    ]
    hours = series(rows, GROUPS.get, "working_hours", "month")
    assert hours[0]["value"] == pytest.approx((16 + 1.9) / 2)


def test_oee_is_availability_times_performance_times_quality_from_sums() -> None:
    # a: 12 of 16 planned hours, 600 parts of 60 s ideal (10 h), 30 bad. b: 16 h, 900 parts, none bad.
    rows = [day("a", "2026-03-02", 12, made=600, bad=30, ideal_s=600 * 60),
            day("b", "2026-03-02", 16, made=900, ideal_s=900 * 60)]  # fmt: skip
    value = {
        m: series(rows, lambda _d: "all", m, "day", counted={"a": True, "b": True})[0]["value"]
        for m in ("availability", "performance", "quality", "oee")
    }
    availability, performance, quality = 28 / 32, (600 + 900) / 28 / 60, (1500 - 30) / 1500
    assert value["availability"] == pytest.approx(100 * availability, abs=1e-3)
    assert value["performance"] == pytest.approx(100 * performance, abs=1e-3)
    assert value["quality"] == pytest.approx(100 * quality, abs=1e-3)
    assert value["oee"] == pytest.approx(100 * availability * performance * quality, abs=1e-3)
    # Machines without counters have no OEE.
    assert series(rows, lambda _d: "all", "oee", "day")[0]["value"] is None


def test_energy_per_good_part_and_its_deviation_from_a_baseline() -> None:
    rows = [
        DeviceDay("a", "2026-01-05", 86400, 8 * H, 16 * H, 480, 20, 0, 230.0),
        DeviceDay("a", "2026-02-05", 86400, 8 * H, 16 * H, 480, 0, 0, 216.0),
        DeviceDay("p", "2026-01-05", 86400, 20 * H, 16 * H, 0, 0, 0, 400.0),  # a pump counts no parts
    ]
    found = series(rows, lambda _d: "all", "energy_per_part", "month", counted={"a": True})
    assert [(r["period"], r["value"], r["index"]) for r in found] == [
        ("2026-01", 0.5, 100.0),
        ("2026-02", 0.45, 90.0),
    ]
    hourly = series(rows, lambda _d: "all", "energy_per_hour", "month")
    assert hourly[0]["value"] == pytest.approx(630 / 28)


def test_fixed_base_index_and_changes() -> None:
    hours = {"2025-01": 4.0, "2025-12": 5.0, "2026-01": 6.0, "2026-02": 3.0}
    rows = [day("a", f"{month}-15", h) for month, h in hours.items()]
    found = {r["period"]: r for r in series(rows, lambda _d: "all", "working_hours", "month", base="2025-12")}
    assert found["2025-12"]["index"] == 100.0 and found["2026-01"]["index"] == 120.0
    assert found["2026-01"]["change"] == 20.0 and found["2026-02"]["change"] == -50.0
    assert found["2026-01"]["change_yoy"] == 50.0  # against 2025-01
    assert found["2025-01"]["change"] is None  # no December 2024
    first = series(rows, lambda _d: "all", "working_hours", "month")  # base: the first period
    assert first[0]["index"] == 100.0 and first[2]["index"] == 150.0


@pytest.mark.parametrize(
    ("period", "key"),
    [
        ("day", "2026-12-07"),
        ("week", "2026-W50"),
        ("month", "2026-12"),
        ("quarter", "2026-Q4"),
        ("year", "2026"),
    ],
)
def test_periods(period: str, key: str) -> None:
    assert period_of("2026-12-07", period) == key


def test_unknown_measures_and_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="measure"):
        series([], GROUPS.get, "happiness", "month")
    with pytest.raises(ValueError, match="period"):
        series([], GROUPS.get, "oee", "fortnight")
