"""Group commit: the jobs of many connections share one commit, yet each hears only its own outcome."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from tests.bus.conftest import eventually
from tests.helpers import Tenant, make_settings, server_missing

from indunet.core.errors import PayloadTooLarge, PermissionDenied, StorageError
from indunet.platform import devices, group_commit, telemetry, tenants
from indunet.platform.accounts import principal_from_secret
from indunet.platform.group_commit import GroupCommit, commit_round
from indunet.platform.ingest_service import BusWorkers, JetStreamSink, close_sink, sink_for
from indunet.platform.runtime import Platform, open_platform
from indunet.platform.telemetry import IngestResult
from indunet.platform.telemetry_formats import Record
from indunet.security import Principal, Role

START_MS = 1_764_000_000_000
NATS_URL = os.environ.get("INDUNET_TEST_NATS", "nats://127.0.0.1:4222")


def _device(platform: Platform, tenant_id: str) -> dict[str, Any]:
    """A fresh device, so that what a test finds stored is what that test wrote."""
    name = f"gc-{secrets.token_hex(4)}"
    return devices.create_device(platform, Principal.system(tenant_id), name, "cnc_machine_tool")


def _stored(platform: Platform, tenant_id: str, device_id: str, point: str = "spindle_speed") -> list[Any]:
    query = telemetry.SeriesQuery(
        points=(point,), start_us=START_MS * 1000, end_us=(START_MS + 3_600_000) * 1000
    )
    found = telemetry.raw(platform, Principal.system(tenant_id), device_id, query)
    return [value for _ts, value in found["series"][point]]


def _reasons(result: IngestResult) -> list[tuple[int, str | None, str]]:
    return [(entry["record"], entry.get("point"), entry["reason"]) for entry in result.rejected]


def _one(device: str, n: int, value: float) -> list[Record]:
    """One record of one point, ``n`` ms after the test window opens."""
    return [{"device": device, "ts": START_MS + n, "values": {"spindle_speed": value}}]


def _viewer(tenant_id: str) -> Principal:
    return Principal(tenant_id, Role.VIEWER, "viewer", "user:viewer@example.cn")


# -- one round ---------------------------------------------------------------------------------------


def test_each_job_of_a_round_gets_its_own_result_and_all_points_are_stored(
    platform: Platform, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    own, named, other = (
        _device(platform, tenant_a.id),
        _device(platform, tenant_a.id),
        _device(platform, tenant_b.id),
    )
    as_device = principal_from_secret(platform, own["token"])
    jobs: list[tuple[Principal, Sequence[Record]]] = [
        (
            as_device,
            [
                {"ts": START_MS, "values": {"spindle_speed": 100.0, "cycle_time": 5.0}},
                {"ts": START_MS + 1, "values": {"spindle_speed": 99_999.0}},  # above the type's maximum
            ],
        ),
        (
            Principal.system(tenant_a.id),
            [
                {"device": named["id"], "ts": START_MS, "values": {"spindle_speed": 200.0}},
                {"device": "no-such-device", "ts": START_MS, "values": {"spindle_speed": 1.0}},
            ],
        ),
        (
            Principal.system(tenant_b.id),
            [
                {
                    "device": other["name"],
                    "ts": START_MS + 2,
                    "values": {"spindle_speed": 300.0, "part_count": 7},
                }
            ],
        ),
        (as_device, [{"ts": START_MS + 3, "values": {}}]),
    ]
    outcomes = commit_round(platform, jobs)
    assert all(isinstance(outcome, IngestResult) for outcome in outcomes), outcomes
    results = [outcome for outcome in outcomes if isinstance(outcome, IngestResult)]
    assert [result.accepted for result in results] == [2, 1, 2, 0]
    assert _reasons(results[0]) == [(1, "spindle_speed", "out_of_range")]
    assert _reasons(results[1]) == [(1, None, "unknown_device")]
    assert _reasons(results[2]) == []
    assert _reasons(results[3]) == [(0, None, "bad_record")]
    assert _stored(platform, tenant_a.id, own["id"]) == [100.0]
    assert _stored(platform, tenant_a.id, own["id"], "cycle_time") == [5.0]
    assert _stored(platform, tenant_a.id, named["id"]) == [200.0]
    assert _stored(platform, tenant_b.id, other["id"]) == [300.0]
    assert _stored(platform, tenant_b.id, other["id"], "part_count") == [7]


def test_a_job_refused_as_a_whole_keeps_its_error_and_the_others_are_stored(
    platform: Platform, tenant_a: Tenant, tenant_b: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, theirs, big = (
        _device(platform, tenant_a.id),
        _device(platform, tenant_b.id),
        _device(platform, tenant_a.id),
    )
    monkeypatch.setattr(platform, "settings", platform.settings.model_copy(update={"max_batch_points": 3}))
    outcomes = commit_round(
        platform,
        [
            (Principal.system(tenant_a.id), _one(mine["id"], 0, 1.0)),
            (_viewer(tenant_a.id), _one(mine["id"], 1, 2.0)),
            (
                Principal.system(tenant_a.id),
                [
                    {"device": big["id"], "ts": START_MS + i, "values": {"spindle_speed": float(i)}}
                    for i in range(4)
                ],
            ),
            (Principal.system(tenant_b.id), _one(theirs["id"], 0, 3.0)),
        ],
    )
    assert isinstance(outcomes[0], IngestResult) and outcomes[0].accepted == 1
    assert isinstance(outcomes[1], PermissionDenied)
    assert isinstance(outcomes[2], PayloadTooLarge)
    assert isinstance(outcomes[3], IngestResult) and outcomes[3].accepted == 1
    assert _stored(platform, tenant_a.id, mine["id"]) == [1.0]
    assert _stored(platform, tenant_a.id, big["id"]) == []
    assert _stored(platform, tenant_b.id, theirs["id"]) == [3.0]


def test_a_storage_failure_is_every_storing_job_s_error_and_none_is_claimed_stored(
    platform: Platform, tenant_a: Tenant, tenant_b: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = _device(platform, tenant_a.id), _device(platform, tenant_b.id)

    def down(_batches: object) -> None:
        raise StorageError("database unavailable", key="error.storage")

    monkeypatch.setattr(sink_for(platform), "submit_many", down)
    outcomes = commit_round(
        platform,
        [
            (Principal.system(tenant_a.id), _one(one["id"], 0, 1.0)),
            (Principal.system(tenant_b.id), _one(two["id"], 0, 2.0)),
            # Nothing of these two was to be stored: their own outcomes stand.
            (Principal.system(tenant_a.id), _one(one["id"], 0, -5.0)),
            (_viewer(tenant_b.id), _one(two["id"], 0, 4.0)),
        ],
    )
    assert isinstance(outcomes[0], StorageError)
    assert isinstance(outcomes[1], StorageError)
    assert isinstance(outcomes[2], IngestResult) and outcomes[2].accepted == 0
    assert _reasons(outcomes[2]) == [(0, "spindle_speed", "out_of_range")]
    assert isinstance(outcomes[3], PermissionDenied)
    monkeypatch.undo()
    assert _stored(platform, tenant_a.id, one["id"]) == []
    assert _stored(platform, tenant_b.id, two["id"]) == []


# -- GroupCommit on an event loop ------------------------------------------------------------------


def test_concurrent_ingests_share_rounds_and_each_gets_its_own_result(
    platform: Platform, tenant_a: Tenant, tenant_b: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = [(tenant_a.id, _device(platform, tenant_a.id)) for _ in range(3)]
    targets += [(tenant_b.id, _device(platform, tenant_b.id)) for _ in range(2)]
    rounds: list[int] = []
    real = group_commit.commit_round

    def counted(
        p: Platform, jobs: Sequence[tuple[Principal, Sequence[Record]]]
    ) -> list[group_commit.Outcome]:
        rounds.append(len(jobs))
        return real(p, jobs)

    monkeypatch.setattr(group_commit, "commit_round", counted)

    def job(n: int) -> tuple[Principal, list[Record]]:
        tenant_id, device = targets[n % len(targets)]
        value = 99_999.0 if n % 10 == 7 else float(n)  # every tenth is out of range: refused, its own
        return Principal.system(tenant_id), _one(device["id"], n, value)

    async def run() -> list[IngestResult | BaseException]:
        gc = GroupCommit(platform)
        try:
            return await asyncio.wait_for(
                asyncio.gather(*(gc.ingest(*job(n)) for n in range(200)), return_exceptions=True), 60
            )
        finally:
            await gc.close()

    results = asyncio.run(run())
    for n, result in enumerate(results):
        assert isinstance(result, IngestResult), (n, result)
        if n % 10 == 7:
            assert (result.accepted, _reasons(result)) == (0, [(0, "spindle_speed", "out_of_range")])
        else:
            assert (result.accepted, result.rejected) == (1, [])
    assert sum(rounds) == 200
    assert len(rounds) < 200  # coalesced: that is the point of group commit
    for index, (tenant_id, device) in enumerate(targets):
        expected = [float(n) for n in range(index, 200, len(targets)) if n % 10 != 7]
        assert _stored(platform, tenant_id, device["id"]) == expected


def test_a_failing_callback_does_not_keep_the_other_jobs_from_hearing(
    platform: Platform, tenant_a: Tenant
) -> None:
    device = _device(platform, tenant_a.id)
    system = Principal.system(tenant_a.id)

    async def run() -> list[IngestResult | BaseException]:
        gc = GroupCommit(platform)
        loop = asyncio.get_running_loop()
        heard: list[asyncio.Future[IngestResult | BaseException]] = [loop.create_future() for _ in range(3)]

        def broken(_outcome: IngestResult | BaseException) -> None:
            raise RuntimeError("a connection's bug")

        for n, future in enumerate(heard):
            gc.submit(system, _one(device["id"], n, float(n)), future.set_result)
            gc.submit(system, _one(device["id"], 100 + n, 50.0), broken)
        try:
            return list(await asyncio.wait_for(asyncio.gather(*heard), 30))
        finally:
            await gc.close()

    results = asyncio.run(run())
    assert [r.accepted for r in results if isinstance(r, IngestResult)] == [1, 1, 1]
    assert _stored(platform, tenant_a.id, device["id"]) == [0.0, 1.0, 2.0, 50.0, 50.0, 50.0]


def test_close_tells_jobs_in_progress_and_queued_that_the_server_is_going_away(
    platform: Platform, tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = _device(platform, tenant_a.id)
    system = Principal.system(tenant_a.id)
    started, release = threading.Event(), threading.Event()
    real = group_commit.commit_round

    def slow(p: Platform, jobs: Sequence[tuple[Principal, Sequence[Record]]]) -> list[group_commit.Outcome]:
        started.set()
        release.wait(60)
        return real(p, jobs)

    monkeypatch.setattr(group_commit, "commit_round", slow)

    async def run() -> list[IngestResult | BaseException]:
        gc = GroupCommit(platform)
        first = asyncio.ensure_future(gc.ingest(system, _one(device["id"], 0, 0.0)))
        assert await asyncio.to_thread(started.wait, 60)  # the first round is in the database
        queued = [
            asyncio.ensure_future(gc.ingest(system, _one(device["id"], n, float(n)))) for n in range(1, 6)
        ]
        await asyncio.sleep(0)
        try:
            await gc.close()
        finally:
            release.set()
        return list(await asyncio.wait_for(asyncio.gather(first, *queued, return_exceptions=True), 30))

    results = asyncio.run(run())
    assert all(isinstance(result, StorageError) for result in results), results


def test_close_right_after_submit_does_not_leave_the_job_waiting(
    platform: Platform, tenant_a: Tenant
) -> None:
    device = _device(platform, tenant_a.id)
    system = Principal.system(tenant_a.id)

    async def run() -> None:
        gc = GroupCommit(platform)
        job = asyncio.ensure_future(gc.ingest(system, _one(device["id"], 0, 1.0)))
        await asyncio.sleep(0)  # the job is queued; its round has not begun
        await gc.close()
        with pytest.raises(StorageError):
            await asyncio.wait_for(job, 2)

    asyncio.run(run())


# -- NATS JetStream ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nats_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform publishing to a JetStream stream of its own; nothing writes until a test starts a writer."""
    host, port = NATS_URL.removeprefix("nats://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        server_missing("NATS", NATS_URL, exc)
    settings = make_settings(
        "sqlite", tmp_path_factory.mktemp("gc-bus"), bus_url=NATS_URL, bus_prefix=f"gc{secrets.token_hex(4)}"
    )
    platform = open_platform(settings)
    sink = sink_for(platform)
    assert isinstance(sink, JetStreamSink)
    try:
        yield platform
    finally:
        sink.bus.delete_stream()
        close_sink(platform)
        platform.close()


def test_rounds_on_the_bus_use_a_distinct_message_id_for_every_job(
    nats_platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # JetStream drops a message whose id it has seen within its duplicate window: an id reused for
    # different points would lose them silently, with the client told they are stored.
    sink = sink_for(nats_platform)
    assert isinstance(sink, JetStreamSink)
    bus = sink.bus
    people = []
    for name in ("east", "west"):
        created = tenants.create_tenant(nats_platform, f"gc-{name}-{secrets.token_hex(3)}")
        people.append((created["id"], _device(nats_platform, created["id"])))
    ids: list[str] = []
    publish = bus.publish

    async def recording(messages: Sequence[tuple[str, str, bytes]]) -> int:
        ids.extend(msg_id for _subject, msg_id, _payload in messages)
        return await publish(messages)

    def one(n: int, who: int) -> tuple[Principal, list[Record]]:
        tenant_id, device = people[who]
        return Principal.system(tenant_id), _one(device["id"], n, float(n))

    # Rounds of one job per tenant (the job's own batch is the message) and of several (merged).
    shapes = [[0, 1], [0, 0, 1], [1, 0], [0, 1], [1, 1, 1, 0]]
    expected: dict[int, list[float]] = {0: [], 1: []}
    n = 0
    with monkeypatch.context() as patch:
        patch.setattr(bus, "publish", recording)
        for shape in shapes:
            jobs = []
            for who in shape:
                jobs.append(one(n, who))
                expected[who].append(float(n))
                n += 1
            outcomes = commit_round(nats_platform, jobs)
            assert all(isinstance(o, IngestResult) and o.accepted == 1 for o in outcomes), outcomes
    assert len(ids) == len(set(ids)) == sum(len(set(shape)) for shape in shapes)

    workers = BusWorkers(nats_platform, writer=True, rules=False)
    workers.start()
    try:
        eventually(
            lambda: all(
                len(_stored(nats_platform, tenant_id, device["id"])) == len(expected[who])
                for who, (tenant_id, device) in enumerate(people)
            ),
            "the writer stores every point of both tenants",
        )
    finally:
        workers.stop()
    for who, (tenant_id, device) in enumerate(people):
        assert _stored(nats_platform, tenant_id, device["id"]) == expected[who]
