"""Redis as the hot record cache shared by the nodes of one store (the real Redis on loopback):
records come from Redis once cached, writes through any node remove them, and a Redis that goes
away only sends resolution back to the database."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from tests.helpers import server_missing

from indunet.idr import records
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.hotcache import RedisRecords
from indunet.idr.model import HandleValue
from indunet.idr.store import HandleStore, open_store

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[HandleStore, HandleStore, Path]]:
    """Two nodes' stores over one database file, sharing one Redis namespace."""
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        server_missing("Redis", REDIS, exc)
    path = tmp_path / "idr.db"
    first, second = open_store(path), open_store(path)
    for store in (first, second):
        store.hot = RedisRecords(REDIS, str(path))
    ensure_prefix(first, "88.100.1", b"secret")
    yield first, second, path
    assert first.hot is not None
    keys = redis.Redis.from_url(REDIS).keys(first.hot.prefix + "*")
    if keys:
        redis.Redis.from_url(REDIS).delete(*keys)
    first.close()
    second.close()


def url(text: str) -> list[HandleValue]:
    return [HandleValue(1, "URL", text.encode())]


def test_a_cached_record_comes_from_redis(nodes: tuple[HandleStore, HandleStore, Path]) -> None:
    first, second, path = nodes
    records.create_handle(first, "88.100.1/a", url("https://a"), records.SYSTEM)
    assert [v.data for v in records.resolve(first, "88.100.1/a")] == [b"https://a"]
    # Gone from the database behind indunet's back: the other node still answers, from Redis.
    with sqlite3.connect(path) as raw:
        raw.execute("DELETE FROM idr_handle WHERE handle = '88.100.1/a'")
    assert [v.data for v in records.resolve(second, "88.100.1/a")] == [b"https://a"]


def test_writes_through_any_node_remove_the_cached_record(
    nodes: tuple[HandleStore, HandleStore, Path],
) -> None:
    first, second, _ = nodes
    records.create_handle(first, "88.100.1/b", url("https://b1"), records.SYSTEM)
    assert records.resolve(second, "88.100.1/b")[0].data == b"https://b1"
    records.put_values(first, "88.100.1/b", url("https://b2"), records.SYSTEM)
    assert records.resolve(second, "88.100.1/b")[0].data == b"https://b2"
    records.delete_handle(second, "88.100.1/b", records.SYSTEM)
    with pytest.raises(records.HandleNotFound):
        records.resolve(first, "88.100.1/b")


def test_not_registered_is_cached_until_registration(nodes: tuple[HandleStore, HandleStore, Path]) -> None:
    first, second, _ = nodes
    with pytest.raises(records.HandleNotFound):
        records.resolve(first, "88.100.1/c")
    assert second.hot is not None and second.hot.get("88.100.1/c") is not None  # remembered as missing
    records.create_handle(second, "88.100.1/c", url("https://c"), records.SYSTEM)
    assert records.resolve(first, "88.100.1/c")[0].data == b"https://c"


def test_a_stale_write_back_is_undone_by_the_second_deletion(
    nodes: tuple[HandleStore, HandleStore, Path],
) -> None:
    first, second, _ = nodes
    records.create_handle(first, "88.100.1/d", url("https://d1"), records.SYSTEM)
    old = first.quick_values("88.100.1/d")
    records.put_values(second, "88.100.1/d", url("https://d2"), records.SYSTEM)
    assert first.hot is not None and old is not None
    first.hot.put("88.100.1/d", old)  # a reader that read before the commit writes back after it
    deadline = time.monotonic() + 5
    while records.resolve(first, "88.100.1/d")[0].data != b"https://d2":
        assert time.monotonic() < deadline, "the stale record stayed in Redis"
        time.sleep(0.1)


def test_without_redis_resolution_goes_on_from_the_store(tmp_path: Path) -> None:
    store = open_store(tmp_path / "idr.db")
    store.hot = RedisRecords("redis://127.0.0.1:9/0", "nowhere", timeout_s=0.1)  # nothing listens on 9
    ensure_prefix(store, "88.100.1", b"secret")
    records.create_handle(store, "88.100.1/e", url("https://e"), records.SYSTEM)
    assert records.resolve(store, "88.100.1/e")[0].data == b"https://e"
    store.close()
