"""NATS JetStream mode against the real server: ack after the stream has the data, writers store once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.bus.conftest import bus_of, eventually
from tests.helpers import Tenant, make_settings, new_tenant

from indunet.bus import TelemetryBatch, encode
from indunet.core.errors import StorageError
from indunet.core.timeutil import parse_timestamp
from indunet.platform import telemetry
from indunet.platform.ingest_service import BusWorkers, commit_messages, sink_for
from indunet.platform.runtime import Platform, StoredSample
from indunet.security import Principal

START_MS = 1_764_000_000_000


@pytest.fixture(scope="module")
def tenant(bus_platform: Platform, bus_client: TestClient) -> Tenant:
    return new_tenant(bus_platform, bus_client, "bus")


@pytest.fixture
def writer(bus_platform: Platform) -> Iterator[BusWorkers]:
    workers = BusWorkers(bus_platform, writer=True, rules=True)
    workers.start()
    yield workers
    workers.stop()


def _backlog(platform: Platform) -> int:
    bus = bus_of(platform).bus
    return bus.call(bus.backlog())


def _stored(client: TestClient, tenant: Tenant, point: str = "spindle_speed") -> list[list[object]]:
    response = client.get(
        f"/api/telemetry/{tenant.device['id']}",
        params={"point": point, "start": START_MS * 1000, "end": (START_MS + 3_600_000) * 1000},
        headers=tenant.viewer,
    )
    assert response.status_code == 200, response.text
    series: list[list[object]] = response.json()["series"][point]
    return series


def test_http_ingest_is_acknowledged_once_the_stream_holds_it(
    bus_platform: Platform, bus_client: TestClient, tenant: Tenant
) -> None:
    # No writer runs yet: a 200 can only mean JetStream stored the batch, not the database.
    records = [{"ts": START_MS + i * 1000, "values": {"spindle_speed": 1000.0 + i}} for i in range(5)]
    records.append({"ts": START_MS, "values": {"spindle_speed": 99_999.0}})
    response = bus_client.post("/api/telemetry", json={"records": records}, headers=tenant.device_auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 5
    assert [r["reason"] for r in body["rejected"]] == ["out_of_range"]
    assert _backlog(bus_platform) == 1
    assert _stored(bus_client, tenant) == []

    workers = BusWorkers(bus_platform, writer=True, rules=False)
    workers.start()
    try:
        eventually(lambda: len(_stored(bus_client, tenant)) == 5, "the writer stores the batch")
        eventually(lambda: _backlog(bus_platform) == 0, "the writer acknowledges the batch")
    finally:
        workers.stop()
    assert [v for _ts, v in _stored(bus_client, tenant)] == [1000.0 + i for i in range(5)]


def test_a_redelivered_message_is_stored_once(bus_platform: Platform, tenant: Tenant) -> None:
    principal = Principal.system(tenant.id)
    records = [{"device": tenant.device["id"], "ts": START_MS + 600_000, "values": {"feed_override": 80.0}}]
    result, batch = telemetry.prepare(bus_platform, principal, records)
    assert result.rejected == []
    payload = encode(batch)
    before = bus_platform.timeseries.count()

    # A writer that died after its commit but before its ack: the message comes again, maybe twice
    # in one fetch, maybe to another writer later.
    first, stored = commit_messages(bus_platform, [payload, payload])
    again, stored_again = commit_messages(bus_platform, [payload])

    assert first == ["ack", "ack"] and again == ["ack"]
    assert bus_platform.timeseries.count() == before + 1
    # Each time it is reported stored, once, so that its samples still reach the rule workers.
    assert [b.msg_id for b in stored] == [b.msg_id for b in stored_again] == [batch.msg_id]


def test_a_publish_retried_with_the_same_id_is_kept_once(bus_platform: Platform, tenant: Tenant) -> None:
    bus = bus_of(bus_platform).bus
    batch = TelemetryBatch(f"dup-{secrets.token_hex(4)}", tenant.id, 1, [], [])
    message = (bus.names.telemetry(tenant.id), batch.msg_id, encode(batch))
    assert bus.call(bus.publish([message])) == 0
    assert bus.call(bus.publish([message, message])) == 2


def test_a_bad_message_is_dropped_and_the_others_stored(bus_platform: Platform, tenant: Tenant) -> None:
    principal = Principal.system(tenant.id)
    records = [{"device": tenant.device["id"], "ts": START_MS + 700_000, "values": {"feed_override": 81.0}}]
    _result, good = telemetry.prepare(bus_platform, principal, records)
    out_of_range = TelemetryBatch(
        "bad-ts", tenant.id, 1, [(tenant.device["id"], "cnc_machine_tool")], [(0, "x", 1, 2**62, 1.0, None)]
    )
    outcomes, fresh = commit_messages(bus_platform, [b"not json", encode(out_of_range), encode(good)])
    assert outcomes == ["term", "term", "ack"]
    assert [b.msg_id for b in fresh] == [good.msg_id]


def test_rule_workers_get_committed_samples(
    bus_platform: Platform, bus_client: TestClient, tenant: Tenant, writer: BusWorkers
) -> None:
    heard: list[StoredSample] = []
    bus_platform.telemetry_listeners.append(heard.extend)

    def seen() -> list[StoredSample]:
        # Samples committed by earlier tests, with no rule worker running then, come first.
        return [s for s in heard if s.ts_us == (START_MS + 900_000) * 1000]

    try:
        records = [{"ts": START_MS + 900_000, "values": {"spindle_override": 110.0, "alarm_active": True}}]
        response = bus_client.post("/api/telemetry", json=records, headers=tenant.device_auth)
        assert response.status_code == 200 and response.json()["accepted"] == 2
        eventually(lambda: len(seen()) == 2, "the rule worker hears of both points")
    finally:
        bus_platform.telemetry_listeners.remove(heard.extend)
    assert {(s.device_id, s.point, s.num) for s in seen()} == {
        (tenant.device["id"], "spindle_override", 110.0),
        (tenant.device["id"], "alarm_active", 1.0),
    }
    assert seen()[0].type_name == "cnc_machine_tool" and seen()[0].tenant_id == tenant.id


def test_async_ingest_for_asyncio_transports(
    bus_platform: Platform, bus_client: TestClient, tenant: Tenant, writer: BusWorkers
) -> None:
    principal = Principal.system(tenant.id)
    records = [
        {"device": tenant.device["name"], "ts": START_MS + 1_000_000, "values": {"spindle_speed": 5.0}}
    ]
    result = asyncio.run(telemetry.ingest_async(bus_platform, principal, records))
    assert result.accepted == 1 and result.rejected == []
    eventually(lambda: [START_MS + 1_000_000, 5.0] in _ts_ms(_stored(bus_client, tenant)), "stored")


def _ts_ms(series: list[list[object]]) -> list[list[object]]:
    return [[parse_timestamp(ts) // 1000, v] for ts, v in series]


def test_an_unreachable_bus_fails_at_start_up(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = make_settings("sqlite", tmp_path_factory.mktemp("nobus"), bus_url="nats://127.0.0.1:1")
    platform = Platform(settings)
    try:
        with pytest.raises(StorageError):
            sink_for(platform)
    finally:
        platform.close()
