"""The audit trail: every write leaves a row, rows hold no secrets, and the database keeps them unchanged."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, exc, func, select, text, update
from tests.helpers import PASSWORD, Tenant, new_tenant

from indunet.platform.models import builtin_types
from indunet.platform.runtime import Platform
from indunet.store.metadata import audit_log

OVEN = {
    "name": "audit_oven",
    "version": "1.0.0",
    "title": "Oven",
    "description": "An oven.",
    "category": "oven",
    "reference": "in-house",
    "points": [{"name": "temperature", "description": "Air", "data_type": "float", "unit": "degC"}],
}


@pytest.fixture(scope="module")
def plant(platform: Platform, client: TestClient) -> Tenant:
    return new_tenant(platform, client, "audit")


def _entries(client: TestClient, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/audit", params={"limit": 1000, **params}, headers=tenant.admin)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def _last(client: TestClient, tenant: Tenant, entity: str, entity_id: str) -> dict[str, Any]:
    """The newest row about one object."""
    rows = _entries(client, tenant, entity=entity, entity_id=entity_id)
    assert rows, f"no audit row for {entity} {entity_id}"
    return rows[0]


@pytest.fixture(scope="module")
def writes(client: TestClient, plant: Tenant) -> dict[str, Any]:
    """One of every kind of write, by known actors; what they created and the secrets they revealed."""
    engineer, admin = plant.engineer, plant.admin
    device = client.post(
        "/api/devices",
        json={"name": "audited-1", "type": "cnc_machine_tool", "labels": {"line": "A"}},
        headers=engineer,
    ).json()
    client.patch(f"/api/devices/{device['id']}", json={"labels": {"line": "B"}}, headers=engineer)
    rotated = client.post(f"/api/devices/{device['id']}/token", headers=engineer).json()["token"]
    client.patch(f"/api/devices/{device['id']}/twin/desired", json={"spindle_override": 95}, headers=engineer)
    doomed = client.post(
        "/api/devices", json={"name": "audited-2", "type": "cnc_machine_tool"}, headers=engineer
    )
    client.delete(f"/api/devices/{doomed.json()['id']}", headers=engineer)
    assert client.post("/api/device-types", json=OVEN, headers=engineer).status_code == 201
    assert (
        client.post("/api/device-types", json={**OVEN, "version": "1.0.1"}, headers=engineer).status_code
        == 200
    )
    assert client.delete("/api/device-types/audit_oven", headers=engineer).status_code == 204
    new_password = "another correct horse battery"
    user = client.post(
        "/api/users",
        json={"email": f"new@{plant.name}.example.cn", "password": new_password, "role": "viewer"},
        headers=admin,
    ).json()
    client.patch(
        f"/api/users/{user['id']}", json={"role": "engineer", "password": PASSWORD + "!"}, headers=admin
    )
    key = client.post("/api/api-keys", json={"name": "historian", "role": "viewer"}, headers=admin).json()
    assert client.delete(f"/api/api-keys/{key['id']}", headers=admin).status_code == 204
    assert client.patch("/api/tenant", json={"retention_days": 90}, headers=admin).status_code == 200
    wrong = "not the password at all"
    failed = client.post("/api/auth/token", data={"username": plant.emails["viewer"], "password": wrong})
    assert failed.status_code == 401
    return {
        "device": device,
        "doomed": doomed.json(),
        "user": user,
        "key": key,
        "secrets": [
            device["token"],
            doomed.json()["token"],
            rotated,
            key["key"],
            new_password,
            wrong,
            PASSWORD,
        ],
    }


def test_device_writes_are_audited(client: TestClient, plant: Tenant, writes: dict[str, Any]) -> None:
    actor = f"user:{plant.emails['engineer']}"
    device_id = writes["device"]["id"]
    rows = _entries(client, plant, entity="device", entity_id=device_id)
    assert [r["action"] for r in rows] == ["rotate_token", "update", "create"]
    assert all(r["actor"] == actor for r in rows)
    rotate, changed, created = rows
    assert created["before"] is None
    assert created["after"]["name"] == "audited-1" and created["after"]["labels"] == {"line": "A"}
    assert (changed["before"]["labels"], changed["after"]["labels"]) == ({"line": "A"}, {"line": "B"})
    assert rotate["before"] == {"tokens": 1} and rotate["after"] == {"tokens": 1}

    deleted = _last(client, plant, "device", writes["doomed"]["id"])
    assert (deleted["action"], deleted["actor"], deleted["after"]) == ("delete", actor, None)
    assert deleted["before"]["name"] == "audited-2"

    twin = _last(client, plant, "twin", device_id)
    assert (twin["action"], twin["actor"]) == ("update", actor)
    assert (twin["before"], twin["after"]) == ({"desired": {}}, {"desired": {"spindle_override": 95}})
    assert all(r["at"].endswith("Z") and r["request_id"] for r in (*rows, deleted, twin))


def test_type_writes_are_audited(client: TestClient, plant: Tenant, writes: dict[str, Any]) -> None:
    rows = _entries(client, plant, entity="device_type", entity_id="audit_oven")
    assert [(r["action"], r["actor"]) for r in rows] == [
        ("delete", f"user:{plant.emails['engineer']}"),
        ("update", f"user:{plant.emails['engineer']}"),
        ("create", f"user:{plant.emails['engineer']}"),
    ]
    deleted, replaced, created = rows
    assert created["before"] is None and created["after"]["version"] == "1.0.0"
    assert (replaced["before"]["version"], replaced["after"]["version"]) == ("1.0.0", "1.0.1")
    assert deleted["before"]["version"] == "1.0.1" and deleted["after"] is None
    # Installing the built-in models at tenant creation is on record too, by the system.
    builtins = _entries(client, plant, entity="device_type", action="create", actor="system:cli")
    assert {r["entity_id"] for r in builtins} == {t.name for t in builtin_types()}


def test_account_and_tenant_writes_are_audited(
    client: TestClient, plant: Tenant, writes: dict[str, Any]
) -> None:
    admin = f"user:{plant.emails['admin']}"
    user_rows = _entries(client, plant, entity="user", entity_id=writes["user"]["id"])
    assert [(r["action"], r["actor"]) for r in user_rows] == [("update", admin), ("create", admin)]
    updated, created = user_rows
    assert created["before"] is None
    assert (created["after"]["email"], created["after"]["role"]) == (writes["user"]["email"], "viewer")
    assert (updated["before"]["role"], updated["after"]["role"]) == ("viewer", "engineer")

    key_rows = _entries(client, plant, entity="api_key", entity_id=writes["key"]["id"])
    assert [(r["action"], r["actor"]) for r in key_rows] == [("revoke", admin), ("create", admin)]
    assert key_rows[1]["after"] == {"id": writes["key"]["id"], "name": "historian", "role": "viewer"}
    assert (key_rows[0]["before"], key_rows[0]["after"]) == ({"revoked": False}, {"revoked": True})

    updates = _entries(client, plant, entity="tenant", action="update")
    tenant = next(r for r in updates if r["before"]["retention_days"] != r["after"]["retention_days"])
    assert tenant["actor"] == admin and tenant["entity_id"] == plant.id
    assert (tenant["before"]["retention_days"], tenant["after"]["retention_days"]) == (365, 90)


def test_failed_login_is_audited(client: TestClient, plant: Tenant, writes: dict[str, Any]) -> None:
    rows = _entries(client, plant, action="login_failed")
    assert [(r["actor"], r["entity"]) for r in rows] == [(f"user:{plant.emails['viewer']}", "user")]


def test_a_refused_write_leaves_no_row(client: TestClient, plant: Tenant, writes: dict[str, Any]) -> None:
    before = len(_entries(client, plant))
    refused = [
        client.post(
            "/api/devices", json={"name": "audited-1", "type": "cnc_machine_tool"}, headers=plant.engineer
        ),
        client.post("/api/devices", json={"name": "x-1", "type": "cnc_machine_tool"}, headers=plant.viewer),
        client.patch(
            f"/api/devices/{writes['device']['id']}/twin/desired",
            json={"spindle_speed": 1},
            headers=plant.engineer,
        ),
        client.delete("/api/device-types/cnc_machine_tool", headers=plant.engineer),
    ]
    assert [r.status_code for r in refused] == [409, 403, 422, 409]
    assert len(_entries(client, plant)) == before


def test_no_secret_reaches_the_audit_log(
    client: TestClient, platform: Platform, plant: Tenant, writes: dict[str, Any]
) -> None:
    with platform.engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.tenant_id == plant.id)).mappings().all()
    assert len(rows) >= 15
    stored = json.dumps([dict(r) for r in rows], default=str)
    served = json.dumps(_entries(client, plant))
    for dump in (stored, served):
        for secret in writes["secrets"]:
            assert secret not in dump
        # Neither the secret halves of tokens nor any hash of anything.
        for token in (writes["device"]["token"], writes["key"]["key"]):
            assert token.split("_", 2)[2] not in dump
        assert "$argon2" not in dump
        assert "password_hash" not in dump and "secret_hash" not in dump


def test_viewer_cannot_read_the_audit_log(client: TestClient, plant: Tenant, writes: dict[str, Any]) -> None:
    response = client.get("/api/audit", headers=plant.viewer)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    for role in ("engineer", "admin"):
        body = client.get("/api/audit", headers=plant.headers[role]).json()
        assert body["total"] >= len(body["items"]) > 0
    device_token = {"Authorization": f"Bearer {writes['device']['token']}"}
    assert client.get("/api/audit", headers=device_token).status_code in (401, 403)


def test_audit_paging(client: TestClient, plant: Tenant, writes: dict[str, Any]) -> None:
    everything = _entries(client, plant)
    ids = [r["id"] for r in everything]
    assert ids == sorted(ids, reverse=True)  # newest first
    page = client.get("/api/audit", params={"limit": 3, "offset": 2}, headers=plant.engineer).json()
    assert page["total"] == len(everything)
    assert [r["id"] for r in page["items"]] == ids[2:5]


@pytest.mark.parametrize(
    "statement",
    [
        update(audit_log).values(actor="someone-else"),
        update(audit_log).values(after=None),
        delete(audit_log),
    ],
    ids=["update-actor", "update-after", "delete"],
)
def test_the_database_refuses_to_change_audit_rows(
    platform: Platform, plant: Tenant, writes: dict[str, Any], statement: Any
) -> None:
    def snapshot() -> list[dict[str, Any]]:
        with platform.engine.connect() as conn:
            query = select(audit_log).where(audit_log.c.tenant_id == plant.id).order_by(audit_log.c.id)
            return [dict(r) for r in conn.execute(query).mappings()]

    before = snapshot()
    with pytest.raises(exc.DBAPIError, match="append-only"), platform.engine.begin() as conn:
        conn.execute(statement.where(audit_log.c.tenant_id == plant.id))
    assert snapshot() == before


def test_the_database_refuses_to_truncate_the_audit_log(platform: Platform) -> None:
    with platform.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    truncate = "DELETE FROM audit_log" if platform.engine.dialect.name == "sqlite" else "TRUNCATE audit_log"
    with pytest.raises(exc.DBAPIError, match="append-only"), platform.engine.begin() as conn:
        conn.execute(text(truncate))
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == count


def test_each_update_starts_where_the_previous_row_ended(client: TestClient, plant: Tenant) -> None:
    """Rows about one object chain up: no row claims a state the object was not in."""
    for name in ("Audit Works", "Audit Works II"):
        client.patch("/api/tenant", json={"display_name": name}, headers=plant.admin)
    for version in ("1.0.0", "1.0.1", "1.0.2"):
        client.post(
            "/api/device-types",
            json={**OVEN, "name": "chained_oven", "version": version},
            headers=plant.engineer,
        )
    for entity, entity_id in (("tenant", plant.id), ("device_type", "chained_oven")):
        rows = _entries(client, plant, entity=entity, entity_id=entity_id)[::-1]  # oldest first
        assert len(rows) >= 3
        for previous, row in itertools.pairwise(rows):
            assert row["before"] == previous["after"], (entity, previous, row)


def test_revoking_a_key_twice_does_not_rewrite_its_history(client: TestClient, plant: Tenant) -> None:
    key = client.post("/api/api-keys", json={"name": "revoked-twice"}, headers=plant.admin).json()
    assert client.delete(f"/api/api-keys/{key['id']}", headers=plant.admin).status_code == 204
    # Refusing the second revocation or recording it truthfully are both fine; a false "before" is not.
    client.delete(f"/api/api-keys/{key['id']}", headers=plant.admin)
    revokes = _entries(client, plant, entity="api_key", entity_id=key["id"], action="revoke")[::-1]
    assert revokes[0]["before"] == {"revoked": False}
    assert all(r["before"] == {"revoked": True} for r in revokes[1:]), revokes
