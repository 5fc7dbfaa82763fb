"""Maintenance work orders: opened by a prediction once per device until closed, carried through their
lifecycle with its history, refusing steps their status does not allow."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.helpers import Tenant, new_tenant

from indunet.apps.phm import work_orders
from indunet.core.timeutil import now_us
from indunet.platform.runtime import Platform


@pytest.fixture
def plant(platform: Platform, client: TestClient) -> Tenant:
    return new_tenant(platform, client, "orders")


def test_a_prediction_opens_one_order_per_device_until_it_is_closed(
    platform: Platform, client: TestClient, plant: Tenant
) -> None:
    device = plant.device["id"]
    now = now_us()
    first, new = work_orders.for_prediction(
        platform, plant.id, device, "spindle v3", 40.0, 30.0, 50.0, now, 3600
    )
    assert new and first["status"] == "open" and first["source"] == "prediction"
    assert first["reference"] == "WO-000001" and first["priority"] == "high"
    assert first["device_name"] == "cnc-01"
    assert first["due"] is not None and first["reason"]["rul_lower"] == 30.0
    again, new = work_orders.for_prediction(
        platform, plant.id, device, "spindle v3", 10.0, 8.0, 50.0, now, 3600
    )
    assert not new and again["number"] == 1 and again["priority"] == "urgent"
    assert again["reason"]["rul"] == 10.0

    steps = [
        {"action": "assign", "assignee": "wang.wei@plant.example.cn"},
        {"action": "start", "note": "spindle bearing noise confirmed"},
        {"action": "complete", "note": "replaced front spindle bearings (SKF 7014); run-in 2 h"},
    ]
    for body in steps:
        response = client.post("/api/work-orders/1/steps", json=body, headers=plant.engineer)
        assert response.status_code == 200, response.text
    done = client.get("/api/work-orders/1", headers=plant.viewer).json()
    assert done["status"] == "done" and done["assignee"] == "wang.wei@plant.example.cn"
    assert done["device_name"] == "cnc-01"
    assert done["resolution"].startswith("replaced front spindle bearings")
    assert [e["status"] for e in done["events"]] == ["open", "assigned", "in_progress", "done"]

    reopened, new = work_orders.for_prediction(
        platform, plant.id, device, "spindle v3", 20.0, 15.0, 50.0, now, 3600
    )
    assert new and reopened["number"] == 2
    listed = client.get("/api/work-orders", params={"status": "unclosed"}, headers=plant.viewer).json()
    assert [o["number"] for o in listed["items"]] == [2] and listed["total"] == 1
    audit = client.get(
        "/api/audit", params={"entity": "work_order", "limit": 100}, headers=plant.admin
    ).json()
    assert sorted(r["action"] for r in audit["items"]) == ["assign", "complete", "open", "open", "start"]


def test_steps_the_status_does_not_allow_are_refused_saying_what_is_possible(
    client: TestClient, plant: Tenant
) -> None:
    created = client.post(
        "/api/work-orders",
        json={"device": "cnc-01", "title": "Coolant leak at the chuck"},
        headers=plant.engineer,
    )
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    refused = client.post(f"/api/work-orders/{number}/steps", json={"action": "complete", "note": "x"},
                          headers=plant.engineer)  # fmt: skip
    assert refused.status_code == 409
    assert "possible: assign, cancel" in refused.json()["detail"]
    no_note = client.post(
        f"/api/work-orders/{number}/steps", json={"action": "cancel"}, headers=plant.engineer
    )
    assert no_note.status_code == 422
    twice = client.post(
        "/api/work-orders", json={"device": "cnc-01", "title": "Another"}, headers=plant.engineer
    )
    assert twice.status_code == 409
    cancelled = client.post(f"/api/work-orders/{number}/steps", json={"action": "cancel", "note": "duplicate of WO-7"},
                            headers=plant.engineer)  # fmt: skip
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    closed = client.post(f"/api/work-orders/{number}/steps", json={"action": "start"}, headers=plant.engineer)
    assert closed.status_code == 409 and "it is closed" in closed.json()["detail"]
    viewer = client.post(f"/api/work-orders/{number}/steps", json={"action": "start"}, headers=plant.viewer)
    assert viewer.status_code == 403
    assert client.get("/api/work-orders/999", headers=plant.viewer).status_code == 404


def test_orders_stay_in_their_tenant(platform: Platform, client: TestClient, plant: Tenant) -> None:
    other = new_tenant(platform, client, "orders-other")
    created = client.post(
        "/api/work-orders", json={"device": "cnc-01", "title": "Check"}, headers=plant.engineer
    )
    assert created.status_code == 201
    assert client.get(f"/api/work-orders/{created.json()['number']}", headers=other.viewer).status_code == 404
    assert client.get("/api/work-orders", headers=other.viewer).json()["total"] == 0
