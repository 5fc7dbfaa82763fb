"""The ThingsBoard-compatible HTTP device API: token in the path, ThingsBoard payload shapes."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from tests.helpers import Tenant


def test_thingsboard_http_telemetry_shapes(client: TestClient, tenant_a: Tenant) -> None:
    token = tenant_a.device["token"]
    now = time.time_ns() // 1_000_000
    bodies = [
        {"spindle_speed": 1200.0, "program_name": "O7"},
        {"ts": now - 1000, "values": {"spindle_speed": 1100.0}},
        [
            {"ts": now - 2000, "values": {"spindle_speed": 1000.0}},
            {"ts": now - 3000, "values": {"tool_number": 4}},
        ],
    ]
    accepted = [client.post(f"/api/v1/{token}/telemetry", json=body).json()["accepted"] for body in bodies]
    assert accepted == [2, 1, 2]
    latest = client.get(f"/api/telemetry/{tenant_a.device['id']}/latest", headers=tenant_a.viewer).json()[
        "values"
    ]
    assert latest["program_name"]["value"] == "O7"
    assert latest["tool_number"]["value"] == 4


def test_bad_values_are_reported_not_stored(client: TestClient, tenant_a: Tenant) -> None:
    response = client.post(f"/api/v1/{tenant_a.device['token']}/telemetry", json={"spindle_load": -5.0})
    assert response.status_code == 200
    assert response.json()["rejected"][0]["reason"] == "out_of_range"


def test_wrong_or_foreign_tokens_are_refused(client: TestClient, tenant_a: Tenant) -> None:
    token = tenant_a.device["token"]
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    for bad in (forged, "not-a-token", "A" * 150):
        response = client.post(f"/api/v1/{bad}/telemetry", json={"spindle_speed": 1.0})
        assert response.status_code == 401, bad
        assert response.headers["content-type"] == "application/problem+json"
    key = client.post(
        "/api/api-keys", json={"name": "in-path", "role": "engineer"}, headers=tenant_a.admin
    ).json()
    response = client.post(f"/api/v1/{key['key']}/telemetry", json={"spindle_speed": 1.0})
    assert response.status_code == 401
