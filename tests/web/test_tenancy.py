"""A tenant never reads or changes another tenant's objects, on any object route."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.helpers import PASSWORD, Tenant

CUSTOM_TYPE = """
name: b_secret_press
version: 1.0.0
title: Secret press
description: a type only tenant B has
category: press
reference: in-house
points:
  - {name: force, description: ram force, data_type: float, unit: kN, min: 0, max: 5000}
"""


@pytest.fixture(scope="module")
def b_objects(client: TestClient, tenant_b: Tenant) -> dict[str, str]:
    """Objects of tenant B that tenant A will try to reach."""
    headers = tenant_b.admin
    assert client.post(
        "/api/device-types", content=CUSTOM_TYPE, headers={**headers, "Content-Type": "application/yaml"}
    ).status_code in (200, 201)
    user = client.post(
        "/api/users",
        json={"email": f"target@{tenant_b.name}.cn", "password": PASSWORD, "role": "viewer"},
        headers=headers,
    )
    key = client.post("/api/api-keys", json={"name": "b-key"}, headers=headers)
    client.post("/api/telemetry", json={"values": {"spindle_speed": 4200}}, headers=tenant_b.device_auth)
    return {
        "device": tenant_b.device["id"],
        "device_name": tenant_b.device["name"],
        "type": "b_secret_press",
        "user": user.json()["id"],
        "key": key.json()["id"],
    }


ROUTES = [
    ("GET", "/api/devices/{device}", None),
    ("PATCH", "/api/devices/{device}", {"labels": {"pwned": "yes"}}),
    ("DELETE", "/api/devices/{device}", None),
    ("POST", "/api/devices/{device}/token", None),
    ("GET", "/api/devices/{device}/twin", None),
    ("PATCH", "/api/devices/{device}/twin/desired", {"spindle_override": 50}),
    ("GET", "/api/devices/{device}/twin/history", None),
    ("GET", "/api/telemetry/{device}", None),
    ("GET", "/api/telemetry/{device}/aggregate", None),
    ("GET", "/api/telemetry/{device}/latest", None),
    ("GET", "/api/telemetry/{device}/export", None),
    ("GET", "/api/device-types/{type}", None),
    ("DELETE", "/api/device-types/{type}", None),
    ("PATCH", "/api/users/{user}", {"role": "admin"}),
    ("DELETE", "/api/api-keys/{key}", None),
]


@pytest.mark.parametrize(("method", "template", "body"), ROUTES, ids=[f"{m} {t}" for m, t, _ in ROUTES])
def test_other_tenants_objects_are_invisible(
    client: TestClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    b_objects: dict[str, str],
    method: str,
    template: str,
    body: dict[str, object] | None,
) -> None:
    path = template.format(**b_objects)
    response = client.request(method, path, json=body, headers=tenant_a.admin)
    assert response.status_code == 404, (method, path, response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    # And B's objects are untouched: B still sees them as they were.
    assert client.get(f"/api/devices/{b_objects['device']}", headers=tenant_b.admin).json()["labels"] == {
        "line": "A"
    }
    assert client.get(f"/api/device-types/{b_objects['type']}", headers=tenant_b.admin).status_code == 200
    keys = client.get("/api/api-keys", headers=tenant_b.admin).json()["items"]
    assert not any(k["revoked"] for k in keys if k["id"] == b_objects["key"])


def test_ingest_cannot_reach_another_tenants_device(
    client: TestClient, tenant_a: Tenant, tenant_b: Tenant, b_objects: dict[str, str]
) -> None:
    for key in (b_objects["device"], b_objects["device_name"]):
        response = client.post(
            "/api/telemetry", json={"device": key, "values": {"spindle_speed": 1}}, headers=tenant_a.engineer
        )
        # tenant A has its own cnc-01: writing by name lands there, never in B.
        if key == b_objects["device_name"]:
            assert response.json()["accepted"] == 1
        else:
            assert response.json()["accepted"] == 0
            assert response.json()["rejected"][0]["reason"] == "unknown_device"
    latest = client.get(f"/api/telemetry/{b_objects['device']}/latest", headers=tenant_b.admin).json()
    assert latest["values"]["spindle_speed"]["value"] == 4200


def test_lists_show_only_own_objects(
    client: TestClient, tenant_a: Tenant, tenant_b: Tenant, b_objects: dict[str, str]
) -> None:
    devices = client.get("/api/devices", headers=tenant_a.admin).json()["items"]
    assert b_objects["device"] not in {d["id"] for d in devices}
    types = {t["name"] for t in client.get("/api/device-types", headers=tenant_a.admin).json()["items"]}
    assert b_objects["type"] not in types
    dictionary = client.get("/api/dictionary", headers=tenant_a.admin).json()["items"]
    assert b_objects["type"] not in {e["type"] for e in dictionary}
    users = client.get("/api/users", headers=tenant_a.admin).json()["items"]
    assert b_objects["user"] not in {u["id"] for u in users}
    audit = client.get("/api/audit?limit=1000", headers=tenant_a.admin).json()["items"]
    assert not any(entry["entity_id"] in b_objects.values() for entry in audit)
    assert client.get("/api/tenant", headers=tenant_a.admin).json()["name"] == tenant_a.name
