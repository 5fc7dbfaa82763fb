"""Active identifier carriers over a node's API: enrolled by the identifier's administrator, their
signed heartbeats update the live values anyone resolves; replays, stale or forged heartbeats and
revoked carriers are refused with the reason; a key rotation signed with the old key certifies the
new one, after which only the new key is heard."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from indunet.idr import records
from indunet.idr.app import create_node_app
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.carriers import CarrierRegistry, Refused, heartbeat, rotation
from indunet.idr.model import HS_ADMIN, HandleValue
from indunet.idr.store import open_store
from indunet.idr.wire.values import AdminPermission, AdminRecord, encode_admin
from indunet.security import documents
from indunet.security.crypto import keys

SECRET = "enterprise secret"
API = "/api/v1/idr/carriers"
HANDLE = "88.100.1/pallet-7"


def basic(user: str, password: str) -> dict[str, str]:
    # The user name percent-encoded, as pyhandle sends it.
    return {"Authorization": "Basic " + base64.b64encode(f"{quote(user)}:{password}".encode()).decode()}


ADMIN = basic("300:0.NA/88.100.1", SECRET)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[TestClient, CarrierRegistry]]:
    store = open_store(tmp_path / "idr.db")
    ensure_prefix(store, "88.100.1", SECRET.encode())
    admin = HandleValue(100, HS_ADMIN, encode_admin(AdminRecord(AdminPermission.all(), "0.NA/88.100.1", 300)))
    url = HandleValue(1, "URL", b"https://plant.example/pallet-7")
    records.create_handle(store, HANDLE, [url, admin], records.SYSTEM)
    registry = CarrierRegistry(store, "88.100.1", keys.generate(keys.Algorithm.SM2))
    with TestClient(create_node_app(store, carriers=registry)) as client:
        yield client, registry
    store.close()


def now_ms() -> int:
    return int(time.time() * 1000)


def enroll(client: TestClient, key: keys.PrivateKey, handle: str = HANDLE) -> dict[str, object]:
    answer = client.post(
        f"{API}/{handle}/enroll",
        json={"publicKey": keys.public_pem(key.public_key()).decode()},
        headers=ADMIN,
    )
    assert answer.status_code == 201, answer.text
    return json.loads(answer.json()["certificate"])


def live(client: TestClient) -> dict[str, str]:
    values = client.get(f"/api/handles/{HANDLE}").json()["values"]
    return {v["type"]: v["data"]["value"] for v in values}


def test_an_enrolled_carrier_reports_and_anyone_resolves_what_it_said(
    node: tuple[TestClient, CarrierRegistry],
) -> None:
    client, registry = node
    key = keys.generate(keys.Algorithm.SM2)
    certificate = enroll(client, key)
    assert certificate["handle"] == HANDLE and certificate["issuer"] == "88.100.1"
    documents.check(b"indunet-carrier/certificate/v1\n", certificate, registry.key.public_key())
    sent = heartbeat(key, HANDLE, 1, now_ms(), "ok", (31.2304, 121.4737), {"temperature": 21.5})
    assert client.post(f"{API}/heartbeat", content=sent).status_code == 202
    shown = live(client)
    assert shown["CARRIER_STATE"] == "ok" and json.loads(shown["LOCATION"]) == {
        "lat": 31.2304,
        "lon": 121.4737,
    }
    assert json.loads(shown["REPORT"]) == {"report": {"temperature": 21.5}} and "HS_CARRIER_CERT" in shown
    assert client.get(f"{API}/{HANDLE}").json()["lastSeq"] == 1


def test_replays_forgeries_stale_messages_and_strangers_are_refused(
    node: tuple[TestClient, CarrierRegistry],
) -> None:
    client, _ = node
    key, stranger = keys.generate(keys.Algorithm.SM2), keys.generate(keys.Algorithm.SM2)
    enroll(client, key)
    first = heartbeat(key, HANDLE, 5, now_ms(), "ok")
    assert client.post(f"{API}/heartbeat", content=first).status_code == 202
    for message, status, words in (
        (first, 409, "replay"),
        (heartbeat(key, HANDLE, 4, now_ms(), "ok"), 409, "replay"),
        (heartbeat(stranger, HANDLE, 6, now_ms(), "ok"), 403, "signature"),
        (heartbeat(key, HANDLE, 7, now_ms() - 3_600_000, "ok"), 422, "from the node"),
        (heartbeat(key, HANDLE, 8, now_ms(), "exploded"), 422, "state"),
        (heartbeat(key, "88.100.1/nobody", 1, now_ms(), "ok"), 404, "no enrolled carrier"),
        (b"garbage", 422, "not a carrier message"),
    ):
        answer = client.post(f"{API}/heartbeat", content=message)
        assert answer.status_code == status and words in answer.json()["detail"], answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    assert live(client)["CARRIER_STATE"] == "ok"  # nothing refused changed anything
    assert (
        client.post(f"{API}/heartbeat", content=heartbeat(key, HANDLE, 9, now_ms(), "warning")).status_code
        == 202
    )


def test_revoked_carriers_are_refused_and_only_admins_revoke(
    node: tuple[TestClient, CarrierRegistry],
) -> None:
    client, _ = node
    key = keys.generate(keys.Algorithm.SM2)
    enroll(client, key)
    anonymous = client.post(f"{API}/{HANDLE}/revoke", json={"reason": "stolen"})
    assert anonymous.status_code == 401
    assert (
        client.post(f"{API}/{HANDLE}/revoke", json={"reason": "reported stolen"}, headers=ADMIN).status_code
        == 200
    )
    refused = client.post(f"{API}/heartbeat", content=heartbeat(key, HANDLE, 1, now_ms(), "ok"))
    assert refused.status_code == 403 and "reported stolen" in refused.json()["detail"]
    shown = live(client)
    assert shown["CARRIER_STATE"] == "revoked" and "HS_CARRIER_CERT" not in shown
    assert client.post(f"{API}/{HANDLE}/revoke", json={}, headers=ADMIN).status_code == 404
    # Enrolled again with a new key (a replaced module), it starts its own sequence.
    replacement = keys.generate(keys.Algorithm.SM2)
    assert enroll(client, replacement)["serial"] == 2
    assert (
        client.post(f"{API}/heartbeat", content=heartbeat(replacement, HANDLE, 1, now_ms(), "ok")).status_code
        == 202
    )
    assert client.post(f"{API}/{HANDLE}/enroll", json={"publicKey": "x"}).status_code in (401, 422)


def test_a_rotation_signed_with_the_old_key_moves_the_carrier_to_the_new_one(
    node: tuple[TestClient, CarrierRegistry],
) -> None:
    client, _ = node
    old, new = keys.generate(keys.Algorithm.SM2), keys.generate(keys.Algorithm.SM2)
    enroll(client, old)
    rotated = client.post(f"{API}/rotate", content=rotation(old, HANDLE, 1, now_ms(), new.public_key()))
    assert rotated.status_code == 201 and json.loads(rotated.json()["certificate"])["serial"] == 2
    assert (
        client.post(f"{API}/heartbeat", content=heartbeat(old, HANDLE, 2, now_ms(), "ok")).status_code == 403
    )
    assert (
        client.post(f"{API}/heartbeat", content=heartbeat(new, HANDLE, 3, now_ms(), "ok")).status_code == 202
    )
    # A carrier can only be enrolled for an identifier under the node's prefix, by its administrator.
    assert (
        client.post(
            f"{API}/99.1/x/enroll",
            json={"publicKey": keys.public_pem(new.public_key()).decode()},
            headers=ADMIN,
        ).status_code
        == 403
    )


def test_concurrent_heartbeats_are_recorded_together_and_a_raced_copy_only_once(
    node: tuple[TestClient, CarrierRegistry],
) -> None:
    _, registry = node
    fleet = []
    for n in range(20):
        handle = f"88.100.1/crate-{n}"
        records.create_handle(registry.store, handle, [HandleValue(1, "URL", b"https://x")], records.SYSTEM)
        key = keys.generate(keys.Algorithm.SM2)
        registry.enroll(handle, key.public_key(), records.SYSTEM)
        fleet.append((handle, key))
    at = now_ms()
    # Every message sent twice at once, as a retrying carrier or a replaying attacker would.
    messages = [heartbeat(key, handle, seq, at + seq, "ok") for handle, key in fleet for seq in (1, 2, 3)]

    def send(message: bytes) -> str:
        try:
            registry.accept(message)
            return "accepted"
        except Refused as refused:
            return refused.code

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(send, [m for m in messages for _ in range(2)]))
    assert outcomes.count("accepted") + outcomes.count("replay") == len(outcomes)
    # Per carrier, sequence numbers only grow: each copy of a message that was overtaken, and the
    # second copy of any message, is a replay; at least the newest message of each carrier counts.
    assert 20 <= outcomes.count("accepted") <= 60
    for handle, _ in fleet:
        assert registry.carrier(handle).last_seq == 3  # type: ignore[union-attr]
        shown = {v.type: v.data for v in records.resolve(registry.store, handle)}
        seen = datetime.fromisoformat(shown["LAST_SEEN"].decode())
        assert shown["CARRIER_STATE"] == b"ok" and int(seen.timestamp() * 1000) == at + 3
