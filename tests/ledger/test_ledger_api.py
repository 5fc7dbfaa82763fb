"""The ledger's HTTP API on a node: what a client needs to check the log without trusting the node,
and clear problem+json answers to bad questions."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indunet.idr import records
from indunet.idr.app import create_node_app
from indunet.idr.bootstrap import delegation_record, ensure_prefix
from indunet.idr.sites import Endpoint, site
from indunet.idr.store import open_store
from indunet.ledger import merkle
from indunet.ledger.heads import Cosignature, TreeHead
from indunet.ledger.recorder import LedgerRecorder
from indunet.ledger.service import Ledger
from indunet.ledger.store import open_log
from indunet.ledger.witness import Witness
from indunet.security.crypto import keys

API = "/api/v1/ledger"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[TestClient, Ledger]]:
    store = open_store(tmp_path / "top.db")
    ensure_prefix(store, "88", b"top secret")
    ledger = Ledger(open_log(tmp_path / "top.db"), keys.generate(keys.Algorithm.SM2))
    LedgerRecorder(ledger, store)  # records 88 itself, written before it listened
    for n in range(1, 6):
        name, values = delegation_record(f"88.{n}", [site([Endpoint("127.0.0.1", 3000 + n)])])
        records.create_handle(store, name, values, records.SYSTEM)
    records.delete_handle(store, "0.NA/88.3", records.SYSTEM)
    with TestClient(create_node_app(store, ledger=ledger)) as client:
        yield client, ledger
    store.close()


def test_a_client_checks_entries_against_the_signed_head_with_proofs(node: tuple[TestClient, Ledger]) -> None:
    client, ledger = node
    head = TreeHead.parse(
        json.dumps(client.get(f"{API}/head").json(), sort_keys=True, separators=(",", ":")).encode(),
        ledger.did,
    )
    assert head.size == 7  # 88, 88.1 .. 88.5, then the revocation of 88.3
    entries = client.get(f"{API}/entries", params={"start": 0, "end": 100}).json()
    kinds = [json.loads(base64.b64decode(e["body"]))["kind"] for e in entries]
    assert kinds == ["allocation"] * 6 + ["revocation"]
    h = merkle.hasher(head.hash)
    for entry in entries:
        proof = client.get(f"{API}/proof/inclusion", params={"seq": entry["seq"], "size": head.size}).json()
        leaf = merkle.leaf_hash(h, base64.b64decode(entry["body"]))
        assert proof["leaf"] == leaf.hex()
        assert merkle.verify_inclusion(
            h, leaf, entry["seq"], head.size, [bytes.fromhex(p) for p in proof["path"]], head.root
        )
    older = TreeHead.parse(client.get(f"{API}/heads").json()[2].encode(), ledger.did)
    path = client.get(f"{API}/proof/consistency", params={"old": older.size, "new": head.size}).json()["path"]
    assert merkle.verify_consistency(
        h, older.size, head.size, older.root, head.root, [bytes.fromhex(p) for p in path]
    )


def test_cosignatures_are_kept_only_for_heads_the_log_issued(
    node: tuple[TestClient, Ledger], tmp_path: Path
) -> None:
    client, ledger = node
    witness = Witness(keys.generate(keys.Algorithm.ED25519), tmp_path / "w.json")
    cosignature = witness.observe(ledger.sign_head().raw, ledger.consistency)
    assert client.post(f"{API}/cosignatures", content=cosignature.raw).status_code == 201
    assert client.get(f"{API}/cosignatures").json() == [cosignature.raw.decode()]
    stranger = Ledger(open_log(tmp_path / "stranger.db"), keys.generate(keys.Algorithm.SM2))
    stranger.store.append([b"{}"] * 7)
    foreign = Cosignature.sign(witness.key, stranger.sign_head(), 0)
    refused = client.post(f"{API}/cosignatures", content=foreign.raw)
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert client.post(f"{API}/cosignatures", content=b"not json").status_code == 422


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/entries", {"start": 5, "end": 5}, 422),
        ("/entries", {"start": 0, "end": 5000}, 422),
        ("/entries", {"start": -1, "end": 3}, 422),
        ("/proof/inclusion", {"seq": 9, "size": 7}, 422),
        ("/proof/inclusion", {"seq": 0, "size": 70}, 404),
        ("/proof/consistency", {"old": 5, "new": 3}, 422),
        ("/proof/consistency", {"old": 1, "new": 99}, 404),
    ],
)
def test_bad_questions_get_problem_answers(
    node: tuple[TestClient, Ledger], path: str, params: dict[str, int], status: int
) -> None:
    client, _ = node
    answer = client.get(f"{API}{path}", params=params)
    assert answer.status_code == status and answer.headers["content-type"] == "application/problem+json"
