"""Identifiers in the platform API: a device gets its identifier, resolution through a node, the prefix
tree with health, templates and search for engineers, statistics; and the same routes say clearly when
identifiers are not configured."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.helpers import Tenant, make_settings, new_tenant, served

from indunet.core.config import IdrNode
from indunet.idr.app import create_node_app
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.server import IdrServer
from indunet.idr.service import Service
from indunet.idr.sites import Endpoint
from indunet.idr.store import open_store
from indunet.ledger.did import bid_of
from indunet.ledger.entries import Kind, LedgerEntry
from indunet.ledger.service import Ledger
from indunet.ledger.store import entries as ledger_entries
from indunet.ledger.store import open_log
from indunet.ledger.witness import Witness
from indunet.platform.runtime import Platform, open_platform
from indunet.security.crypto import keys
from indunet.web.app import create_app

PREFIX = "88.100.1"


class Node:
    """The enterprise node over the platform's identifier store, on its own loop in a thread."""

    def __init__(self, platform: Platform) -> None:
        assert platform.identifiers is not None
        self.store = platform.identifiers.store
        self.loop = asyncio.new_event_loop()
        self.server: IdrServer | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Node:
        self.thread.start()
        ensure_prefix(self.store, PREFIX, b"enterprise secret")
        start = IdrServer(Service(self.store, (PREFIX,)), "127.0.0.1", 0).start()
        self.server = asyncio.run_coroutine_threadsafe(start, self.loop).result(10)
        return self

    def __exit__(self, *_: object) -> None:
        assert self.server is not None
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.port}"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def platform_with_ids(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    data_dir: Path = tmp_path_factory.mktemp("ids")
    pg = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    settings = make_settings(request.param, data_dir, pg, idr_prefix=PREFIX)
    opened = open_platform(settings)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def node(platform_with_ids: Platform) -> Iterator[Node]:
    with Node(platform_with_ids) as running:
        assert platform_with_ids.identifiers is not None
        platform_with_ids.identifiers.resolver = Endpoint("127.0.0.1", running.server.port)  # type: ignore[union-attr]
        platform_with_ids.identifiers.nodes = (
            IdrNode(name="enterprise", role="enterprise", prefix=PREFIX, address=running.address),
            IdrNode(name="gone", role="recursive", address="127.0.0.1:9"),
        )
        yield running


@pytest.fixture(scope="module")
def api(platform_with_ids: Platform, node: Node) -> Iterator[TestClient]:
    with TestClient(create_app(platform_with_ids)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def plant(platform_with_ids: Platform, api: TestClient) -> Tenant:
    return new_tenant(platform_with_ids, api, "ids")


def test_a_device_gets_its_identifier_and_it_resolves_through_the_node(
    api: TestClient, plant: Tenant
) -> None:
    device = plant.device
    refused = api.post(f"/api/identifiers/devices/{device['id']}", headers=plant.headers["viewer"])
    assert refused.status_code == 403
    labelled = api.post(f"/api/identifiers/devices/{device['id']}", headers=plant.engineer)
    assert labelled.status_code == 200, labelled.text
    handle = labelled.json()["labels"]["identifier"]
    assert handle == f"{PREFIX}/{plant.name}/{device['name']}"
    resolved = api.get(f"/api/identifiers/resolve/{handle}", headers=plant.headers["viewer"])
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    shown = {v["type"]: v["data"]["value"] for v in body["values"]}
    assert shown["equipmentType"] == "cnc_machine_tool" and shown["TEMPLATE"] == "equipment@1"
    assert shown["console"].endswith(f"/console/#/devices/{device['id']}")
    assert body["via"].startswith("127.0.0.1:")
    typed = api.get(f"/api/identifiers/identifiers/{handle}", headers=plant.headers["viewer"]).json()
    assert typed["template"] == "equipment@1" and typed["data"]["line"] == "A"
    # Registering again updates rather than fails.
    assert api.post(f"/api/identifiers/devices/{device['id']}", headers=plant.engineer).status_code == 200
    missing = api.get(f"/api/identifiers/resolve/{PREFIX}/nothing-here", headers=plant.headers["viewer"])
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )


def test_devices_of_the_same_name_in_two_tenants_get_two_identifiers(
    platform_with_ids: Platform, api: TestClient, plant: Tenant
) -> None:
    other = new_tenant(platform_with_ids, api, "ids-other")
    assert other.device["name"] == plant.device["name"]
    mine = api.post(f"/api/identifiers/devices/{plant.device['id']}", headers=plant.engineer).json()
    theirs = api.post(f"/api/identifiers/devices/{other.device['id']}", headers=other.engineer).json()
    assert mine["labels"]["identifier"] != theirs["labels"]["identifier"]
    for tenant, labelled in ((plant, mine), (other, theirs)):
        body = api.get(
            f"/api/identifiers/resolve/{labelled['labels']['identifier']}", headers=tenant.engineer
        ).json()
        console = next(v["data"]["value"] for v in body["values"] if v["type"] == "console")
        assert console.endswith(f"/devices/{tenant.device['id']}")


def test_nodes_show_their_health(api: TestClient, plant: Tenant) -> None:
    nodes = {n["name"]: n for n in api.get("/api/identifiers/nodes", headers=plant.headers["viewer"]).json()}
    assert nodes["enterprise"]["up"] is True and nodes["enterprise"]["rtt_ms"] > 0
    assert nodes["gone"]["up"] is False and nodes["gone"]["rtt_ms"] is None


def test_ledgers_are_shown_verified_and_what_does_not_verify_is_flagged(
    platform_with_ids: Platform, api: TestClient, plant: Tenant, tmp_path: Path
) -> None:
    ledger = Ledger(open_log(tmp_path / "top.db"), keys.generate(keys.Algorithm.SM2))
    ledger.record([LedgerEntry(Kind.ALLOCATION, f"88.{n}", ledger.did) for n in range(5)])
    witness = Witness(keys.generate(keys.Algorithm.ED25519), tmp_path / "witness.json")
    ledger.accept_cosignature(witness.observe(ledger.sign_head().raw, ledger.consistency).raw)
    ids = platform_with_ids.identifiers
    assert ids is not None
    kept = ids.nodes
    with served(create_node_app(open_store(tmp_path / "top.db"), ledger=ledger)) as base:
        url = f"{base}/api/v1/ledger"
        ids.nodes = (
            *kept,
            IdrNode(
                name="top", role="top", prefix="88", address="127.0.0.1:9", ledger=url, ledger_log=ledger.did
            ),
            IdrNode(
                name="impostor", role="top", address="127.0.0.1:9", ledger=url, ledger_log="did:bid:zfOther"
            ),
            IdrNode(
                name="down",
                role="secondary",
                address="127.0.0.1:9",
                ledger="http://127.0.0.1:9/api/v1/ledger",
            ),
        )
        try:
            viewer = plant.headers["viewer"]
            shown = {row["name"]: row for row in api.get("/api/identifiers/ledgers", headers=viewer).json()}
            assert set(shown) == {"top", "impostor", "down"}  # nodes without a ledger are not listed
            top = shown["top"]
            assert (top["error"], top["size"], top["log"], top["pinned"]) == (None, 5, ledger.did, True)
            assert [w["witness"] for w in top["witnesses"]] == [bid_of(witness.key.public_key())]
            assert "pinned" in shown["impostor"]["error"] and shown["down"]["error"]

            page = api.get("/api/identifiers/ledgers/top/entries", params={"limit": 2}, headers=viewer).json()
            assert [(e["seq"], e["subject"], e["included"]) for e in page["items"]] == [
                (4, "88.4", True),
                (3, "88.3", True),
            ]
            rest = api.get(
                "/api/identifiers/ledgers/top/entries", params={"before": page["next_before"]}, headers=viewer
            ).json()
            assert [e["seq"] for e in rest["items"]] == [2, 1, 0] and rest["next_before"] is None

            # Someone edits an entry where the node keeps it: the proof no longer holds for it.
            with ledger.store.engine.begin() as conn:
                forged = LedgerEntry(
                    Kind.ALLOCATION, "88.1", ledger.did, detail={"sites": ["10.0.0.66:2641"]}
                )
                conn.execute(
                    update(ledger_entries).where(ledger_entries.c.seq == 1).values(body=forged.encode())
                )
            rest = api.get("/api/identifiers/ledgers/top/entries", headers=viewer).json()
            assert [(e["seq"], e["included"]) for e in rest["items"]][3:] == [(1, False), (0, True)]

            missing = api.get("/api/identifiers/ledgers/nowhere/entries", headers=viewer)
            assert missing.status_code == 404 and missing.headers["content-type"].startswith(
                "application/problem+json"
            )
            refused = api.get("/api/identifiers/ledgers/impostor/entries", headers=viewer)
            assert refused.status_code == 404 and "pinned" in refused.json()["detail"]
        finally:
            ids.nodes = kept


def test_templates_and_search_for_engineers(api: TestClient, plant: Tenant) -> None:
    spec = {"fields": [{"name": "serial", "type": "string", "required": True, "searchable": True}]}
    assert (
        api.put("/api/identifiers/templates/part", json=spec, headers=plant.headers["viewer"]).status_code
        == 403
    )
    saved = api.put("/api/identifiers/templates/part", json=spec, headers=plant.engineer)
    assert saved.status_code == 201 and saved.json()["version"] == 1
    batch = {
        "template": "part",
        "items": [{"handle": f"{PREFIX}/part-{n}", "data": {"serial": f"S-{n}"}} for n in range(5)],
    }
    assert api.post("/api/identifiers/identifiers", json=batch, headers=plant.engineer).json() == {
        "registered": 5
    }
    found = api.get(
        "/api/identifiers/search?template=part&field.serial=S-3", headers=plant.headers["viewer"]
    ).json()
    assert found["handles"] == [f"{PREFIX}/part-3"]
    bad = api.put(
        "/api/identifiers/templates/part", json={"fields": [{"name": "HS_ADMIN"}]}, headers=plant.engineer
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "fields[0].name"
    listed = {
        t["name"]: t for t in api.get("/api/identifiers/templates", headers=plant.headers["viewer"]).json()
    }
    assert listed["part"]["identifiers"] == 5


def test_statistics_count_registrations_and_resolutions(api: TestClient, plant: Tenant, node: Node) -> None:
    api.get(f"/api/identifiers/resolve/{PREFIX}/part-1", headers=plant.engineer)
    assert node.server is not None
    asyncio.run_coroutine_threadsafe(asyncio.to_thread(node.server.service.tick, True), node.loop).result(10)
    stats = api.get("/api/identifiers/stats?days=2", headers=plant.headers["viewer"]).json()
    assert stats["registered"][PREFIX] >= 5
    today = [r for r in stats["resolution"] if r["prefix"] == PREFIX]
    assert today and today[0]["count"] >= 1 and today[0]["p99_ms"] is not None


def test_without_identifiers_the_api_says_so(client: TestClient, tenant_a: Tenant) -> None:
    assert client.get("/api/identifiers", headers=tenant_a.engineer).json() == {"enabled": False}
    answer = client.get("/api/identifiers/nodes", headers=tenant_a.engineer)
    assert answer.status_code == 404 and "idr_prefix" in answer.json()["detail"]
    assert client.get("/api/identifiers/nodes").status_code == 401
