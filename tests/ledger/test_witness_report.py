"""A witness reports to the platform as a ``ledger_witness`` device: its checks become telemetry,
and a split view becomes a critical alarm raised by the platform's own rules."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.helpers import new_tenant

from indunet.idr.app import create_node_app
from indunet.idr.store import open_store
from indunet.ledger.entries import Kind, LedgerEntry
from indunet.ledger.service import Ledger
from indunet.ledger.store import open_log
from indunet.ledger.watch import PlatformReport, Watch
from indunet.ledger.witness import SplitView, Witness
from indunet.platform.rules import RuleEngine
from indunet.platform.runtime import Platform
from indunet.security.crypto import keys

SPLIT = {
    "name": "Ledger split view",
    "type": "ledger_witness",
    "severity": "critical",
    "condition": {"kind": "threshold", "point": "split_view", "high": 0.5},
}


def entries(*subjects: str) -> list[LedgerEntry]:
    return [
        LedgerEntry(Kind.ALLOCATION, s, "did:bid:zfTop", "2026-12-07T00:00:00.000+00:00") for s in subjects
    ]


@pytest.fixture
def node_of(tmp_path: Path) -> Iterator[object]:
    opened: list[TestClient] = []

    def serve(ledger: Ledger) -> TestClient:
        client = TestClient(create_node_app(open_store(tmp_path / f"n{len(opened)}.db"), ledger=ledger))
        opened.append(client)
        return client

    yield serve
    for client in opened:
        client.close()


def test_a_split_view_reaches_the_platform_as_a_critical_alarm(
    platform: Platform, client: TestClient, tmp_path: Path, node_of: object
) -> None:
    plant = new_tenant(platform, client, "witness")
    device = client.post(
        "/api/devices", json={"name": "witness-1", "type": "ledger_witness"}, headers=plant.admin
    )
    assert device.status_code == 201, device.text
    assert client.post("/api/rules", json=SPLIT, headers=plant.engineer).status_code == 201
    key = keys.generate(keys.Algorithm.SM2)
    honest = Ledger(open_log(tmp_path / "honest.db"), key)
    honest.record(entries("88.1", "88.2"))
    serve = node_of  # type: ignore[assignment]
    report = PlatformReport("http://testserver", device.json()["token"], client)
    witness = Witness(keys.generate(keys.Algorithm.ED25519), tmp_path / "witness.json")
    server = "http://testserver/api/v1/ledger"
    watch = Watch(witness, server, serve(honest), honest.did, report=report)  # type: ignore[operator]
    assert watch.once()
    engine: RuleEngine = client.app.state.rule_engine  # type: ignore[attr-defined]
    assert engine.wait_idle()
    twin = client.get(f"/api/devices/{device.json()['id']}/twin", headers=plant.viewer).json()
    latest = twin["reported"]
    assert latest["ledger_size"]["value"] == 2 and latest["split_view"]["value"] == 0
    assert client.get("/api/alarms", params={"status": "open"}, headers=plant.viewer).json()["items"] == []

    # The same log key shows another history of the same size to this witness.
    forked = Ledger(open_log(tmp_path / "forked.db"), key)
    forked.record(entries("88.1", "88.666"))
    watch = Watch(witness, server, serve(forked), honest.did, report=report)  # type: ignore[operator]
    with pytest.raises(SplitView) as split:
        watch.once()
    assert split.value.evidence_path is not None and split.value.evidence_path.exists()
    assert engine.wait_idle()
    alarms = client.get("/api/alarms", params={"status": "open"}, headers=plant.viewer).json()["items"]
    assert [(a["name"], a["severity"], a["device_id"]) for a in alarms] == [
        ("Ledger split view", "critical", device.json()["id"])
    ]
    told = client.get(f"/api/v1/{device.json()['token']}/attributes", params={"clientKeys": "server,log"})
    assert told.json()["client"] == {"server": server, "log": honest.did}


def test_an_unreachable_platform_never_stops_the_witness(tmp_path: Path, node_of: object) -> None:
    ledger = Ledger(open_log(tmp_path / "log.db"), keys.generate(keys.Algorithm.SM2))
    ledger.record(entries("88.1"))
    serve = node_of  # type: ignore[assignment]
    nowhere = TestClient(create_node_app(open_store(tmp_path / "other.db")))  # has no device API
    witness = Witness(keys.generate(keys.Algorithm.SM2), tmp_path / "w.json")
    cosigned: list[int] = []
    watch = Watch(
        witness,
        "http://testserver/api/v1/ledger",
        serve(ledger),  # type: ignore[operator]
        report=PlatformReport("http://testserver", "dev_token", nowhere),
        on_cosigned=lambda c: cosigned.append(c.size),
    )
    stop = threading.Event()
    ledger.record(entries("88.2"))
    stop.set()
    watch.run(0, stop)  # stopped before it starts: no check
    assert cosigned == []
    assert watch.once() and cosigned == [2]
    nowhere.close()
