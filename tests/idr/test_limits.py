"""Per-client rate limits and per-prefix registration quotas, answered with protocol codes; and the
authoritative node's answer cache never serving a value older than the last write."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.idr.test_rest_api import ADMIN as REST_ADMIN
from tests.idr.test_rest_api import SECRET as REST_SECRET

from indunet.idr import client, records
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.limits import RateLimiter
from indunet.idr.model import HandleValue
from indunet.idr.rest import create_app
from indunet.idr.server import IdrServer
from indunet.idr.service import Service
from indunet.idr.store import HandleStore, open_store
from indunet.idr.wire import CreateHandleRequest, ResponseCode

PREFIX = "88.100.1"
SECRET = REST_SECRET.encode()
ADMIN = ("0.NA/88.100.1", 300)


@pytest.fixture
def store(tmp_path: Path) -> HandleStore:
    opened = open_store(tmp_path / "idr.db")
    ensure_prefix(opened, PREFIX, SECRET)
    return opened


def url(text: str) -> list[HandleValue]:
    return [HandleValue(1, "URL", text.encode())]


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(10, burst=3, clock=lambda: now[0])
    assert [limiter.allow("10.0.0.1") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("10.0.0.2")  # another client has its own bucket
    now[0] += 0.1  # one token back
    assert limiter.allow("10.0.0.1") and not limiter.allow("10.0.0.1")
    assert all(RateLimiter(0).allow("x") for _ in range(1000))  # 0 turns the limit off


def test_the_limiter_keeps_a_bounded_number_of_clients() -> None:
    limiter = RateLimiter(1, max_clients=100)
    for n in range(10_000):
        limiter.allow(n)
    assert len(limiter._buckets) == 100


def test_a_client_over_its_rate_is_told_the_server_is_busy(store: HandleStore) -> None:
    records.create_handle(store, "88.100.1/a", url("https://a"), records.SYSTEM)

    async def main() -> None:
        limiter = RateLimiter(1, burst=2, clock=lambda: 0.0)
        server = await IdrServer(Service(store, (PREFIX,)), "127.0.0.1", 0, limiter=limiter).start()
        try:
            for _ in range(2):
                assert await client.resolve("127.0.0.1", server.port, "88.100.1/a")
            with pytest.raises(client.ClientError) as busy:
                await client.resolve("127.0.0.1", server.port, "88.100.1/a", tcp=True)
            assert busy.value.code == ResponseCode.RC_SERVER_BUSY
        finally:
            await server.stop()

    asyncio.run(main())


def test_a_quota_stops_registration_at_the_limit_and_rolls_back_a_batch(store: HandleStore) -> None:
    records.set_quota(store, PREFIX, 3)
    records.create_handle(store, "88.100.1/1", url("https://1"), records.SYSTEM)
    with pytest.raises(records.QuotaExceeded) as over:
        records.register_many(store, [(f"88.100.1/b{n}", url("https://b")) for n in range(3)])
    assert over.value.response_code == ResponseCode.RC_OPERATION_DENIED
    assert records.list_handles(store, PREFIX, records.SYSTEM)[0] == 1  # nothing of the batch stayed
    records.register_many(store, [(f"88.100.1/b{n}", url("https://b")) for n in range(2)])
    with pytest.raises(records.QuotaExceeded):
        records.create_handle(store, "88.100.1/4", url("https://4"), records.SYSTEM)
    records.delete_handle(store, "88.100.1/b0", records.SYSTEM)  # deleting frees room
    records.create_handle(store, "88.100.1/4", url("https://4"), records.SYSTEM)
    records.set_quota(store, PREFIX, None)
    records.create_handle(store, "88.100.1/5", url("https://5"), records.SYSTEM)


def test_counts_survive_a_reopen_and_are_rebuilt_for_old_stores(tmp_path: Path) -> None:
    store = open_store(tmp_path / "idr.db")
    ensure_prefix(store, PREFIX, SECRET)
    records.register_many(store, [(f"88.100.1/{n}", url("https://n")) for n in range(5)])
    with store.write() as tx:
        assert tx.count(PREFIX) == 5
        tx._conn.exec_driver_sql("DELETE FROM idr_prefix_count")  # a store from before the counts
    store.close()
    reopened = open_store(tmp_path / "idr.db")
    with reopened.read() as tx:
        assert tx.count(PREFIX) == 5
    reopened.close()


def test_quota_refusals_over_the_protocol_and_over_rest(store: HandleStore) -> None:
    records.set_quota(store, PREFIX, 0)

    async def main() -> None:
        server = await IdrServer(Service(store, (PREFIX,)), "127.0.0.1", 0).start()
        try:
            request = CreateHandleRequest("88.100.1/x", tuple(url("https://x")))
            with pytest.raises(client.ClientError) as refused:
                await client.administer("127.0.0.1", server.port, request, ADMIN, SECRET)
            assert refused.value.code == ResponseCode.RC_OPERATION_DENIED
        finally:
            await server.stop()

    asyncio.run(main())
    with TestClient(create_app(store)) as http:
        answer = http.put(
            "/api/handles/88.100.1/y",
            json={"values": [{"index": 1, "type": "URL", "data": "https://y"}]},
            headers=REST_ADMIN,
        )
    assert answer.status_code == 403 and answer.json()["responseCode"] == ResponseCode.RC_OPERATION_DENIED


def test_cached_answers_follow_every_write_through_any_interface(store: HandleStore) -> None:
    records.create_handle(store, "88.100.1/pump", url("https://old"), records.SYSTEM)

    async def main() -> None:
        server = await IdrServer(Service(store, (PREFIX,)), "127.0.0.1", 0).start()
        try:
            port = server.port
            assert (await client.resolve("127.0.0.1", port, "88.100.1/pump"))[0].data == b"https://old"
            with pytest.raises(client.ClientError):
                await client.resolve("127.0.0.1", port, "88.100.1/new")
            # Written behind the protocol's back (REST, tooling): the next answer is the new one.
            records.put_values(store, "88.100.1/pump", url("https://new"), records.SYSTEM)
            records.create_handle(store, "88.100.1/new", url("https://n"), records.SYSTEM)
            assert (await client.resolve("127.0.0.1", port, "88.100.1/pump"))[0].data == b"https://new"
            assert (await client.resolve("127.0.0.1", port, "88.100.1/new"))[0].data == b"https://n"
            records.delete_handle(store, "88.100.1/pump", records.SYSTEM)
            with pytest.raises(client.ClientError) as gone:
                await client.resolve("127.0.0.1", port, "88.100.1/pump")
            assert gone.value.code == ResponseCode.RC_HANDLE_NOT_FOUND
        finally:
            await server.stop()

    asyncio.run(main())
