"""The simulated tank farm through the whole safety chain: site file loaded, instruments ingested once a
second, the monitor's warnings. A leak at LPG sphere T-201 escalates blue -> yellow -> orange -> red at
the times its readings cross the set-points; the closed incident lands in the failure database; a
cooling failure at reactor R-401 ends red as a runaway."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import make_settings

from indunet.apps.safety import failures, warnings
from indunet.apps.safety.levels import ESCALATE_AFTER_S, ORANGE
from indunet.apps.safety.monitor import SafetyMonitor
from indunet.core.timeutil import now_us, parse_timestamp
from indunet.demo_safety import load_site, site_document
from indunet.platform import devices, telemetry, tenants
from indunet.platform.runtime import open_platform
from indunet.security import Principal
from indunet.sim.tank_farm import TankFarm

S = 1_000_000
LEAK_AT_S = 120
LEAK_FOR_S = 900
SITE_S = 2400


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A platform of its own (no other monitor on it) with the farm registered and a monitor whose clock
    is the samples' (its wall-clock tick is an hour away)."""
    platform = open_platform(make_settings("sqlite", tmp_path))
    tenant = tenants.create_tenant(platform, "farm")
    principal = Principal.system(tenant["id"])
    start = now_us() - SITE_S * S
    farm = TankFarm(seed=3, start_ts_us=start)
    for device in farm.devices():
        devices.create_device(
            platform, principal, device.name, device.type_name, attributes=device.attributes
        )
    load_site(platform, principal, site_document(farm))
    monitor = SafetyMonitor(platform, tick_s=3600)
    monitor.start()
    try:
        yield {"platform": platform, "principal": principal, "farm": farm, "start": start, "monitor": monitor}
    finally:
        monitor.stop()
        platform.close()


def run(site: dict[str, Any], seconds: int, offset: int = 0) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Feed ``seconds`` of the farm from ``offset``; returns what each device sent, by second."""
    farm: TankFarm = site["farm"]
    sent: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    names = [d.name for d in farm.devices()]
    for second in range(offset, offset + seconds):
        ts = site["start"] + second * S
        farm.advance(ts)
        readings = farm.readings()
        records = [{"device": name, "ts": ts // 1000, "values": readings[name]} for name in names]
        telemetry.ingest(site["platform"], site["principal"], records)
        # One second at a time, as a monitor that keeps up sees them (one that falls behind takes queued
        # seconds together and warns at the last of them).
        assert site["monitor"].wait_idle(60)
        for name in names:
            sent.setdefault(name, []).append((second, readings[name]))
    return sent


def first_at(series: list[tuple[int, dict[str, Any]]], point: str, limit: float) -> int:
    """The first second the point reached ``limit``; past the end when it never did."""
    return next((second for second, values in series if values[point] >= limit), 10**9)


def escalations(site: dict[str, Any], unit: str) -> list[tuple[int, int, str]]:
    """(second of the site's clock, level, cause) of the unit's warning as it opened and rose."""
    items, _ = warnings.list_warnings(site["platform"], site["principal"], unit=unit)
    assert len(items) == 1, items
    found = warnings.get(site["platform"], site["principal"], items[0]["number"])
    return [
        (round((parse_timestamp(e["at"]) - site["start"]) / S), e["level"], e["note"] or e["kind"])
        for e in found["events"]
        if e["kind"] in ("opened", "escalated")
    ]


def test_lpg_leak_escalates_blue_to_red_and_lands_in_the_failure_database(site: dict[str, Any]) -> None:
    farm: TankFarm = site["farm"]
    farm.inject_leak("T-201", 1.5, site["start"] + LEAK_AT_S * S)
    farm.stop_leak("T-201", site["start"] + (LEAK_AT_S + LEAK_FOR_S) * S)
    sent = run(site, LEAK_AT_S + LEAK_FOR_S)

    gas = {name: sent[name] for name in ("GD-B01", "GD-B02", "GD-B03", "GD-B04")}
    first_alarm = min(first_at(s, "concentration", 25.0) for s in gas.values())
    second_alarm = min(first_at(s, "concentration", 50.0) for s in gas.values())
    spread = sorted(first_at(s, "concentration", 50.0) for s in gas.values())
    assert spread[1] < 10**9, "the leak must reach a second detector's second set-point"
    red_by = min(spread[1], second_alarm + int(ESCALATE_AFTER_S[ORANGE]))

    steps = escalations(site, "tank-area-B")
    levels = [level for _, level, _ in steps]
    assert levels == [4, 3, 2, 1]
    (blue, _, _), (yellow, _, _), (orange, _, _), (red, _, _) = steps
    # The trend warned before any detector alarmed (an LPG sphere leak fills the dyke within a minute).
    assert LEAK_AT_S < blue < first_alarm - 10
    assert yellow == first_alarm
    assert orange == second_alarm
    assert red == red_by

    # Isolated: the vapour disperses, the conditions clear; people dispose of the warning.
    run(site, 600, offset=LEAK_AT_S + LEAK_FOR_S)
    platform, principal = site["platform"], site["principal"]
    number = warnings.list_warnings(platform, principal, unit="tank-area-B")[0][0]["number"]
    assert warnings.get(platform, principal, number)["condition_level"] is None
    for step in (
        {"action": "assign", "assignee": "shift-lead@farm.example.cn"},
        {"action": "act", "note": "T-201 outlet isolated, area cordoned off"},
        {
            "action": "close",
            "cause": "outlet flange gasket blown",
            "evidence": {"summary": "gasket replaced, leak test at 1.1 x design pressure passed"},
        },
    ):
        warnings.step(platform, principal, number, warnings.Step.model_validate(step))
    records, _ = failures.list_failures(platform, principal, unit="tank-area-B")
    assert len(records) == 1
    record = records[0]
    assert record["source"] == "warning" and record["peak_level"] == 1
    # No mode given: the mode of the library's matching precursor (vapour climbing: a flange leak).
    assert record["mode"] == "FM-LEAK-FLANGE"
    assert "vapour-climbing" in record["features"]


def test_reactor_runaway_ends_red(site: dict[str, Any]) -> None:
    farm: TankFarm = site["farm"]
    farm.inject_runaway("R-401", site["start"] + 60 * S)
    sent = run(site, 1200)
    hot = first_at(sent["R-401"], "temperature", 120.0)
    steps = escalations(site, "reactor-area")
    levels = [level for _, level, _ in steps]
    assert levels == sorted(levels, reverse=True) and levels[-1] == 1
    assert steps[0][0] < hot - 120  # warned minutes before the 120 degC limit
    number = warnings.list_warnings(site["platform"], site["principal"], unit="reactor-area")[0][0]["number"]
    found = warnings.get(site["platform"], site["principal"], number)
    seen = [*found["reasons"], *(r for e in found["events"] for r in e["details"].get("reasons", []))]
    assert {"feature.cooling-lost", "combination.runaway"} <= {r["code"] for r in seen}
    # The coolant flow's low-low limit made it orange at once; nobody took it up, so it went red.
    assert steps[-1][2] in ("unattended", "conditions")


def test_a_restarted_monitor_does_not_clear_what_it_has_not_seen(site: dict[str, Any]) -> None:
    farm: TankFarm = site["farm"]
    farm.inject_leak("T-201", 1.5, site["start"] + 60 * S)
    run(site, 300)
    platform, principal = site["platform"], site["principal"]
    number = warnings.list_warnings(platform, principal, unit="tank-area-B")[0][0]["number"]
    before = warnings.get(platform, principal, number)
    assert before["condition_level"] is not None
    site["monitor"].stop()
    # A new process: ticking every 50 ms at the wall clock, with no sample of the leak yet.
    restarted = SafetyMonitor(platform, tick_s=0.05)
    site["monitor"] = restarted
    restarted.start()
    time.sleep(1.0)
    restarted.tick()
    assert restarted.wait_idle(10)
    after = warnings.get(platform, principal, number)
    assert after["condition_level"] == before["condition_level"]
    assert [e["kind"] for e in after["events"]] == [e["kind"] for e in before["events"]]
