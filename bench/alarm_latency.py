"""Alarm latency: from the ingest call of a triggering point to the alarm row being readable.

An in-process platform on SQLite with the rule engine running. Each round posts one threshold-crossing
sample through ``telemetry.ingest`` (as the HTTP and MQTT endpoints do) and polls the alarms table
until the alarm is there; the next sample clears it. The peer is the same ingest with no rules,
timed until the sample itself is readable from the time-series store: the physical floor of
"stored and visible" in the same run. Target: p99 under 200 ms.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import percentile, record, write_results
from indunet.core.config import Settings
from indunet.platform import alarms, devices, rules, telemetry, tenants
from indunet.platform.runtime import Platform, open_platform
from indunet.security import Principal

NAME = "alarm_latency"


def _platform(data_dir: Path) -> Platform:
    settings = Settings(data_dir=data_dir)
    return open_platform(settings)


def _open_alarm(platform: Platform, principal: Principal) -> bool:
    items, _ = alarms.list_alarms(platform, principal, alarms.AlarmQuery(limit=1, status="active"))
    return bool(items)


def run(quick: bool) -> list[dict[str, object]]:
    rounds = 50 if quick else 500
    with tempfile.TemporaryDirectory() as tmp:
        platform = _platform(Path(tmp))
        tenant = tenants.create_tenant(platform, "bench")
        admin = Principal.system(tenant["id"], label="system:bench")
        device = devices.create_device(platform, admin, "cnc-01", "cnc_machine_tool")
        writer = Principal.system(tenant["id"], label="system:bench-writer")

        # Floor: ingest with no rules, until the sample reads back from the store.
        floor: list[float] = []
        ref = devices.resolve(platform, tenant["id"], device["id"])
        for i in range(rounds):
            start = time.perf_counter()
            telemetry.ingest(
                platform, writer, [{"device": device["id"], "values": {"spindle_load": 10 + i % 50}}]
            )
            sid = platform.series_ids[(ref.id, "spindle_load")]
            while not platform.timeseries.raw(sid, 0, 2**62, limit=1, descending=True):
                time.sleep(0.0005)
            floor.append((time.perf_counter() - start) * 1000)

        engine = rules.RuleEngine(platform, tick_s=1.0)
        engine.start()
        try:
            rules.create_rule(
                platform,
                admin,
                rules.parse_spec(
                    {
                        "name": "overload",
                        "type": "cnc_machine_tool",
                        "condition": {
                            "kind": "threshold",
                            "point": "spindle_load",
                            "high": 90,
                            "hysteresis": 5,
                        },
                    }
                ),
            )
            latencies: list[float] = []
            for _ in range(rounds):
                start = time.perf_counter()
                telemetry.ingest(platform, writer, [{"device": device["id"], "values": {"spindle_load": 99}}])
                while not _open_alarm(platform, admin):
                    time.sleep(0.0005)
                latencies.append((time.perf_counter() - start) * 1000)
                telemetry.ingest(platform, writer, [{"device": device["id"], "values": {"spindle_load": 10}}])
                engine.wait_idle()
        finally:
            engine.stop()
            platform.close()
    records = [
        record(
            "alarm visible after triggering ingest, p99",
            percentile(latencies, 0.99),
            "ms",
            "same ingest, no rules, sample readable",
            percentile(floor, 0.99),
            "< 200 ms p99",
        ),
        record(
            "alarm visible after triggering ingest, p50",
            percentile(latencies, 0.5),
            "ms",
            "same ingest, no rules, sample readable",
            percentile(floor, 0.5),
            "< 200 ms p99",
        ),
    ]
    write_results(NAME, records)
    return records
