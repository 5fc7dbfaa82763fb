"""Committed samples reach rule workers through JetStream: at least once, each device on one worker.

Every test has a stream prefix of its own. Rule workers are in-process (``BusWorkers`` on a platform of
their own, so with a NATS connection and listeners of their own) or, for SIGKILL, real processes
(``rules_probe.py``) that log every sample before it can be acknowledged.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.bus.conftest import bus_of, eventually
from tests.helpers import make_settings

from indunet.bus import encode
from indunet.bus.nats import JetStreamBus
from indunet.bus.partition import partition_of
from indunet.core.config import Settings
from indunet.core.errors import ConfigurationError
from indunet.platform import alarms, devices, rules, telemetry, tenants
from indunet.platform.ingest_service import BusWorkers, close_sink, commit_messages
from indunet.platform.runtime import Platform, StoredSample, open_platform
from indunet.security import Principal

START_MS = 1_764_000_000_000
PROBE = Path(__file__).with_name("rules_probe.py")
Sample = tuple[str, str, int]
"""(device_id, point, ts_us)"""


@pytest.fixture
def settings(nats_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        "sqlite",
        tmp_path,
        bus_url=nats_url,
        bus_prefix=f"r{secrets.token_hex(4)}",
        bus_ack_wait_s=2.0,
        bus_rule_lease_s=2.0,
        jwt_secret="r" * 40,
    )


@pytest.fixture
def started() -> Iterator[list[BusWorkers]]:
    """Workers a test starts, stopped at its end (also when it fails)."""
    workers: list[BusWorkers] = []
    yield workers
    for worker in workers:
        worker.stop()


def _start(started: list[BusWorkers], platform: Platform, *, writer: bool, rules: bool) -> BusWorkers:
    worker = BusWorkers(platform, writer=writer, rules=rules)
    worker.start()
    started.append(worker)
    return worker


def _fleet(platform: Platform, count: int) -> tuple[Principal, list[str]]:
    tenant = tenants.create_tenant(platform, f"rules-{secrets.token_hex(3)}")
    principal = Principal.system(tenant["id"])
    ids = [
        str(devices.create_device(platform, principal, f"m{i}", "cnc_machine_tool")["id"])
        for i in range(count)
    ]
    return principal, ids


def _records(ids: list[str], start: int, count: int) -> list[dict[str, object]]:
    return [
        {"device": ids[n % len(ids)], "ts": START_MS + n * 1000, "values": {"spindle_load": float(n % 80)}}
        for n in range(start, start + count)
    ]


def _samples(records: list[dict[str, object]]) -> set[Sample]:
    return {(str(r["device"]), "spindle_load", int(str(r["ts"])) * 1000) for r in records}


def _owners(platform: Platform) -> dict[int, str]:
    bus = bus_of(platform).bus
    return bus.call(bus.partition_owners())


def test_a_rule_worker_raises_alarms_from_committed_samples(
    transport: Platform, started: list[BusWorkers]
) -> None:
    principal, [device] = _fleet(transport, 1)
    spec = {
        "name": "overload",
        "type": "cnc_machine_tool",
        "condition": {"kind": "threshold", "point": "spindle_load", "high": 90},
    }
    rules.create_rule(transport, principal, rules.parse_spec(spec))
    _start(started, transport, writer=True, rules=True)
    eventually(lambda: len(_owners(transport)) == transport.settings.bus_rule_partitions, "leases won")

    result = telemetry.ingest(transport, principal, [{"device": device, "values": {"spindle_load": 99}}])
    assert result.accepted == 1

    def active() -> list[str]:
        items, _ = alarms.list_alarms(transport, principal, alarms.AlarmQuery(status="active"))
        return [item["name"] for item in items]

    eventually(lambda: active() == ["overload"], "the rule worker raises the alarm")


def test_a_writer_dying_between_commit_and_publish_still_passes_the_samples_on(
    transport: Platform, started: list[BusWorkers]
) -> None:
    principal, ids = _fleet(transport, 3)
    records = _records(ids, 0, 9)
    result, batch = telemetry.prepare(transport, principal, records)
    assert result.rejected == []
    bus = bus_of(transport).bus
    payload = encode(batch)
    bus.call(bus.publish([(bus.names.telemetry(batch.tenant_id), batch.msg_id, payload)]))
    # A writer took the message and committed its rows, then died: nothing published, nothing acked.
    commit_messages(transport, [payload])
    stored = transport.timeseries.count()

    heard: list[StoredSample] = []
    transport.telemetry_listeners.append(heard.extend)
    _start(started, transport, writer=True, rules=True)
    eventually(lambda: len(heard) == len(records), "the redelivered message reaches the rule worker")
    assert {(s.device_id, s.point, s.ts_us) for s in heard} == _samples(records)
    eventually(lambda: bus.call(bus.backlog()) == 0, "the writer acknowledges the message")
    assert transport.timeseries.count() == stored


def test_each_device_is_evaluated_by_one_of_two_rule_workers(
    settings: Settings, transport: Platform, started: list[BusWorkers]
) -> None:
    principal, ids = _fleet(transport, 16)
    heard: list[list[StoredSample]] = [[], []]
    workers = [open_platform(settings) for _ in heard]
    try:
        for platform, own in zip(workers, heard, strict=True):
            platform.telemetry_listeners.append(own.extend)
            _start(started, platform, writer=False, rules=True)
        partitions = settings.bus_rule_partitions
        # Whoever claims first takes every partition, then gives the second worker its half.
        eventually(
            lambda: len(_owners(transport)) == partitions and len(set(_owners(transport).values())) == 2,
            "two rule workers share the partitions",
        )
        _start(started, transport, writer=True, rules=False)

        records = _records(ids, 0, 160)
        for n in range(0, len(records), 20):
            assert telemetry.ingest(transport, principal, records[n : n + 20]).accepted == 20
        eventually(lambda: sum(map(len, heard)) >= len(records), "both workers hear of every sample")

        seen = [{(s.device_id, s.point, s.ts_us) for s in own} for own in heard]
        assert seen[0] | seen[1] == _samples(records)
        by_worker = [{s.device_id for s in own} for own in heard]
        assert by_worker[0] and by_worker[1] and not by_worker[0] & by_worker[1]
        held = [{partition_of(d, partitions) for d in own} for own in by_worker]
        assert not held[0] & held[1]
    finally:
        for worker in started[:2]:
            worker.stop()
        del started[:2]
        for platform in workers:
            close_sink(platform)
            platform.close()


def test_every_process_must_use_the_same_partition_count(settings: Settings, transport: Platform) -> None:
    # Otherwise writers would publish to partitions that no rule worker consumes.
    other = JetStreamBus(
        settings.bus_url, settings.bus_prefix, rule_partitions=settings.bus_rule_partitions + 1
    )
    with pytest.raises(ConfigurationError, match="bus_rule_partitions"):
        other.start()


def _probe(settings: Settings, cwd: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "INDUNET_DATA_DIR": str(settings.data_dir),
        "INDUNET_JWT_SECRET": settings.jwt_secret,
        "INDUNET_BUS_URL": settings.bus_url,
        "INDUNET_BUS_PREFIX": settings.bus_prefix,
        "INDUNET_BUS_ACK_WAIT_S": str(settings.bus_ack_wait_s),
        "INDUNET_BUS_RULE_LEASE_S": str(settings.bus_rule_lease_s),
    }
    env.pop("INDUNET_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, str(PROBE), str(out)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"ready"
    return process


def _heard(files: list[Path]) -> list[Sample]:
    heard: list[Sample] = []
    for path in files:
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                device, point, ts = line.split()
                heard.append((device, point, int(ts)))
    return heard


def test_a_sigkilled_rule_worker_misses_no_committed_sample(
    settings: Settings, transport: Platform, started: list[BusWorkers], tmp_path: Path
) -> None:
    principal, ids = _fleet(transport, 6)
    _start(started, transport, writer=True, rules=False)
    files = [tmp_path / "worker-0.log"]
    worker = _probe(settings, tmp_path, files[-1])
    published: list[dict[str, object]] = []
    enough = threading.Event()
    failure: list[BaseException] = []

    def publish() -> None:
        try:
            while not enough.is_set() and len(published) < 50_000:
                records = _records(ids, len(published), 10)
                assert telemetry.ingest(transport, principal, records).accepted == 10
                published.extend(records)
                enough.wait(0.02)
        except BaseException as exc:  # reported by the test thread
            failure.append(exc)

    publisher = threading.Thread(target=publish)
    publisher.start()
    try:
        for _ in range(2):
            # Kill while the worker is busy: some batches heard but not acknowledged, others not
            # fetched yet; its successor waits for the leases to lapse and the batches to come back.
            eventually(lambda: bool(_heard(files[-1:])), "the rule worker gets samples")
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            files.append(tmp_path / f"worker-{len(files)}.log")
            worker = _probe(settings, tmp_path, files[-1])
        eventually(lambda: bool(_heard(files[-1:])), "the last rule worker gets samples")
    finally:
        enough.set()
        publisher.join()
    try:
        assert not failure, failure
        expected = _samples(published)
        eventually(lambda: set(_heard(files)) >= expected, "every committed sample is heard of", 120)
        assert set(_heard(files)) == expected
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
