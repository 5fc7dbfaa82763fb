"""A node's ledger records what happens to its names: prefixes always, identifiers when asked; a
restart records what changed meanwhile, once, without reading the log back. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from indunet.idr import records
from indunet.idr.bootstrap import delegation_record, ensure_prefix
from indunet.idr.model import HandleValue, Permission
from indunet.idr.sites import Endpoint, site
from indunet.idr.store import HandleStore, open_store
from indunet.ledger.recorder import LedgerRecorder
from indunet.ledger.service import Ledger
from indunet.ledger.store import LogStore, open_log, subjects
from indunet.security.crypto import keys


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[HandleStore, LogStore]]:
    if request.param == "sqlite":
        where: str | Path = tmp_path / "node.db"
        store, log = open_store(where), open_log(where)
    else:
        url, schema = request.getfixturevalue("pg_url"), f"rec_{secrets.token_hex(4)}"
        store, log = open_store(url, schema), open_log(url, schema)
    ensure_prefix(store, "88.100", b"enterprise secret")
    yield store, log
    store.close()
    log.close()


KEY = keys.generate(keys.Algorithm.SM2)


def start(store: HandleStore, log: LogStore, registrations: bool = True) -> LedgerRecorder:
    recorder = LedgerRecorder(Ledger(log, KEY), store, registrations=registrations)
    if recorder.sweep is not None:
        recorder.sweep.join(timeout=60)
    return recorder


def said(log: LogStore) -> list[tuple[str, str]]:
    bodies = [json.loads(e.body) for e in log.entries(0, log.size())]
    return [(b["kind"], b["subject"]) for b in bodies]


def url(text: str) -> list[HandleValue]:
    return [HandleValue(1, "URL", text.encode())]


def test_registrations_changes_and_deletions_are_recorded_as_they_commit(
    node: tuple[HandleStore, LogStore],
) -> None:
    store, log = node
    start(store, log)
    assert said(log) == [("allocation", "88.100")]
    records.create_handle(store, "88.100/pump-7", url("https://a"), records.SYSTEM)
    records.put_values(store, "88.100/pump-7", url("https://b"), records.SYSTEM)
    private = HandleValue(2, "EMAIL", b"ops@a", permissions=Permission.ADMIN_READ | Permission.ADMIN_WRITE)
    records.put_values(store, "88.100/pump-7", [private], records.SYSTEM)  # the world sees no change
    records.delete_handle(store, "88.100/pump-7", records.SYSTEM)
    assert said(log)[1:] == [
        ("registration", "88.100/pump-7"),
        ("registration", "88.100/pump-7"),
        ("deletion", "88.100/pump-7"),
    ]
    assert log.states(["88.100/pump-7", "88.100"])["88.100/pump-7"] is None
    head = Ledger(log, KEY).latest_head()
    assert head is not None and head.size == log.size() == 4  # every commit's entries under a signed head


def test_without_registrations_only_prefixes_are_recorded(node: tuple[HandleStore, LogStore]) -> None:
    store, log = node
    start(store, log, registrations=False)
    records.create_handle(store, "88.100/pump-7", url("https://a"), records.SYSTEM)
    name, values = delegation_record("88.100.5", [site([Endpoint("127.0.0.1", 3005)])])
    records.create_handle(store, name, values, records.SYSTEM)
    assert said(log) == [("allocation", "88.100"), ("allocation", "88.100.5")]


def test_a_restart_records_what_changed_meanwhile_once(node: tuple[HandleStore, LogStore]) -> None:
    store, log = node
    for n in range(3):
        records.create_handle(store, f"88.100/p{n}", url(f"https://{n}"), records.SYSTEM)
    first = start(store, log)
    assert sorted(said(log)) == [("allocation", "88.100")] + [
        ("registration", f"88.100/p{n}") for n in range(3)
    ]
    store._listeners.remove(first._changed)  # the node stops; others write meanwhile
    records.delete_handle(store, "88.100/p0", records.SYSTEM)
    records.put_values(store, "88.100/p1", url("https://changed"), records.SYSTEM)
    records.create_handle(store, "88.100/p9", url("https://9"), records.SYSTEM)
    before = log.size()
    start(store, log)
    assert sorted(said(log)[before:]) == [
        ("deletion", "88.100/p0"),
        ("registration", "88.100/p1"),
        ("registration", "88.100/p9"),
    ]
    size = log.size()
    start(store, log)
    assert log.size() == size  # nothing changed: nothing recorded


def test_a_log_kept_before_subject_states_is_read_back_once(node: tuple[HandleStore, LogStore]) -> None:
    store, log = node
    records.create_handle(store, "88.100/p1", url("https://1"), records.SYSTEM)
    first = start(store, log)
    store._listeners.remove(first._changed)
    with log.engine.begin() as conn:
        conn.execute(delete(subjects))  # as a log written by an earlier release
    size = log.size()
    start(store, log)
    assert log.size() == size
    assert log.states(["88.100", "88.100/p1"]).keys() == {"88.100", "88.100/p1"}
