"""Rules over REST and the alarms they raise: lifecycle, de-duplication, comments, audit, roles, tenancy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.helpers import Tenant, new_tenant

from indunet.core.timeutil import now_us
from indunet.platform.rules import RuleEngine
from indunet.platform.runtime import Platform

HOT = {
    "name": "spindle overload",
    "type": "cnc_machine_tool",
    "severity": "critical",
    "condition": {"kind": "threshold", "point": "spindle_load", "high": 90, "hysteresis": 5},
}


@pytest.fixture
def plant(platform: Platform, client: TestClient) -> Tenant:
    return new_tenant(platform, client, "alarms")


def engine(client: TestClient) -> RuleEngine:
    found: RuleEngine = client.app.state.rule_engine  # type: ignore[attr-defined]
    return found


def send(client: TestClient, tenant: Tenant, *loads: float, point: str = "spindle_load") -> None:
    """Post the values one by one, as a device would, and wait for the rule engine to handle them."""
    for value in loads:
        response = client.post("/api/telemetry", json={"values": {point: value}}, headers=tenant.device_auth)
        assert response.json()["accepted"] == 1, response.text
    assert engine(client).wait_idle()


def add_rule(client: TestClient, tenant: Tenant, **changes: Any) -> dict[str, Any]:
    response = client.post("/api/rules", json={**HOT, **changes}, headers=tenant.engineer)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def alarms_of(client: TestClient, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/alarms", params=params, headers=tenant.viewer)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def audit_actions(client: TestClient, tenant: Tenant, entity: str) -> list[str]:
    rows = client.get("/api/audit", params={"entity": entity, "limit": 1000}, headers=tenant.admin).json()
    return [r["action"] for r in reversed(rows["items"])]


def test_rule_crud_round_trip_with_audit(client: TestClient, plant: Tenant) -> None:
    created = add_rule(client, plant)
    assert created["condition"]["high"] == 90 and created["severity"] == "critical"
    assert client.get(f"/api/rules/{created['id']}", headers=plant.viewer).json() == created
    listed = client.get("/api/rules", headers=plant.viewer).json()
    assert [r["id"] for r in listed["items"]] == [created["id"]] and listed["total"] == 1
    changed = client.put(
        f"/api/rules/{created['id']}", json={**HOT, "severity": "minor"}, headers=plant.engineer
    )
    assert changed.status_code == 200 and changed.json()["severity"] == "minor"
    assert client.delete(f"/api/rules/{created['id']}", headers=plant.engineer).status_code == 204
    assert client.get(f"/api/rules/{created['id']}", headers=plant.viewer).status_code == 404
    assert audit_actions(client, plant, "rule") == ["create", "update", "delete"]


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"condition": {"kind": "threshold", "point": "no_such_point", "high": 1}}, 422),
        ({"condition": {"kind": "threshold", "point": "program_name", "high": 1}}, 422),
        ({"condition": {"kind": "expression", "expression": "__import__('os')"}}, 422),
        ({"condition": {"kind": "expression", "expression": "spindle_load > ghost"}}, 422),
        ({"type": "no_such_type"}, 422),
        ({"device": "no-such-device"}, 422),
        ({"severity": "apocalyptic"}, 422),
    ],
)
def test_rules_are_checked_against_the_device_model(
    client: TestClient, plant: Tenant, changes: dict[str, Any], status: int
) -> None:
    response = client.post("/api/rules", json={**HOT, **changes}, headers=plant.engineer)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_a_rule_name_is_unique_in_its_tenant(client: TestClient, plant: Tenant) -> None:
    add_rule(client, plant)
    assert client.post("/api/rules", json=HOT, headers=plant.engineer).status_code == 409


def test_a_device_rule_must_name_a_device_of_its_type(client: TestClient, plant: Tenant) -> None:
    flow = client.post(
        "/api/devices", json={"name": "flow-9", "type": "flow_pressure_instrument"}, headers=plant.engineer
    ).json()
    response = client.post("/api/rules", json={**HOT, "device": flow["id"]}, headers=plant.engineer)
    assert response.status_code == 422


def test_alarm_lifecycle_raise_ack_clear_with_comments_and_audit(client: TestClient, plant: Tenant) -> None:
    add_rule(client, plant)
    send(client, plant, 50, 95)
    [alarm] = alarms_of(client, plant, status="active")
    assert alarm["severity"] == "critical" and alarm["device_name"] == "cnc-01" and alarm["count"] == 1
    assert "95" in alarm["message"]

    acked = client.post(f"/api/alarms/{alarm['id']}/ack", headers=plant.engineer)
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    assert acked.json()["ack_by"] == f"user:{plant.emails['engineer']}"
    assert client.post(f"/api/alarms/{alarm['id']}/ack", headers=plant.engineer).status_code == 409

    comment = client.post(
        f"/api/alarms/{alarm['id']}/comments",
        json={"text": "spindle bearing checked"},
        headers=plant.engineer,
    )
    assert comment.status_code == 201
    cleared = client.post(f"/api/alarms/{alarm['id']}/clear", headers=plant.admin)
    assert cleared.status_code == 200 and cleared.json()["status"] == "cleared"
    assert client.post(f"/api/alarms/{alarm['id']}/clear", headers=plant.admin).status_code == 409

    detail = client.get(f"/api/alarms/{alarm['id']}", headers=plant.viewer).json()
    assert [c["text"] for c in detail["comments"]] == ["spindle bearing checked"]
    assert detail["cleared_by"] == f"user:{plant.emails['admin']}"
    assert audit_actions(client, plant, "alarm") == ["raise", "acknowledge", "comment", "clear"]


def test_repeats_bump_one_open_alarm_and_the_rule_clears_it(client: TestClient, plant: Tenant) -> None:
    add_rule(client, plant)
    send(client, plant, 95, 88, 93, 87, 96)  # leaves the limit three times without getting past hysteresis
    [alarm] = alarms_of(client, plant)
    assert alarm["status"] == "active" and alarm["count"] == 3
    send(client, plant, 80)
    [alarm] = alarms_of(client, plant)
    assert alarm["status"] == "cleared_unacknowledged" and alarm["cleared_by"] == "system:rules"
    # Acknowledging a cleared alarm closes it for good; a new excursion is a new alarm.
    assert client.post(f"/api/alarms/{alarm['id']}/ack", headers=plant.engineer).json()["status"] == "cleared"
    send(client, plant, 99)
    assert [a["status"] for a in alarms_of(client, plant)] == ["active", "cleared"]


def test_filters_and_paging(client: TestClient, plant: Tenant) -> None:
    add_rule(client, plant)
    add_rule(
        client,
        plant,
        name="warm spindle",
        severity="warning",
        condition={"kind": "threshold", "point": "spindle_temperature", "high": 50},
    )
    send(client, plant, 95)
    send(client, plant, 60, point="spindle_temperature")
    assert len(alarms_of(client, plant)) == 2
    assert [a["name"] for a in alarms_of(client, plant, severity="warning")] == ["warm spindle"]
    assert len(alarms_of(client, plant, device="cnc-01")) == 2
    assert alarms_of(client, plant, device="elsewhere") == []
    assert alarms_of(client, plant, status="cleared") == []
    page = client.get("/api/alarms", params={"limit": 1, "offset": 1}, headers=plant.viewer).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    assert client.get("/api/alarms", params={"status": "bogus"}, headers=plant.viewer).status_code == 422


def test_a_device_rule_ignores_other_devices(client: TestClient, plant: Tenant) -> None:
    other = client.post(
        "/api/devices", json={"name": "cnc-02", "type": "cnc_machine_tool"}, headers=plant.engineer
    ).json()
    add_rule(client, plant, device=other["name"])
    send(client, plant, 99)  # from cnc-01
    assert alarms_of(client, plant) == []


def test_expression_rule_over_two_points(client: TestClient, plant: Tenant) -> None:
    add_rule(
        client,
        plant,
        name="hot and loaded",
        condition={"kind": "expression", "expression": "spindle_load > 80 and spindle_temperature > 60"},
    )
    send(client, plant, 85)
    assert alarms_of(client, plant) == []
    send(client, plant, 65, point="spindle_temperature")
    assert [a["name"] for a in alarms_of(client, plant, status="active")] == ["hot and loaded"]


def test_no_data_rule_raises_on_the_clock(client: TestClient, plant: Tenant) -> None:
    add_rule(
        client, plant, name="silent", condition={"kind": "no_data", "point": "spindle_speed", "timeout_s": 60}
    )
    send(client, plant, 1000, point="spindle_speed")
    engine(client).tick(now_us() + 120 * 1_000_000)
    assert engine(client).wait_idle()
    [alarm] = alarms_of(client, plant, status="active")
    assert alarm["name"] == "silent"
    send(client, plant, 1000, point="spindle_speed")
    assert alarms_of(client, plant, status="active") == []


def test_disabled_rules_raise_nothing(client: TestClient, plant: Tenant) -> None:
    add_rule(client, plant, enabled=False)
    send(client, plant, 99)
    assert alarms_of(client, plant) == []


def test_viewers_may_look_but_not_change(client: TestClient, plant: Tenant) -> None:
    assert client.post("/api/rules", json=HOT, headers=plant.viewer).status_code == 403
    add_rule(client, plant)
    send(client, plant, 99)
    [alarm] = alarms_of(client, plant)
    for action in ("ack", "clear"):
        assert client.post(f"/api/alarms/{alarm['id']}/{action}", headers=plant.viewer).status_code == 403
    response = client.post(f"/api/alarms/{alarm['id']}/comments", json={"text": "x"}, headers=plant.viewer)
    assert response.status_code == 403


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]], threading.Event]]:
    received: list[dict[str, Any]] = []
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(orjson.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()
            arrived.set()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alarms", received, arrived
    server.shutdown()
    server.server_close()


def test_a_raised_alarm_is_posted_to_the_rules_webhook(
    client: TestClient, plant: Tenant, hook: tuple[str, list[dict[str, Any]], threading.Event]
) -> None:
    url, received, arrived = hook
    add_rule(client, plant, notify={"webhooks": [{"url": url}]})
    send(client, plant, 99)
    assert arrived.wait(10)
    assert received[0]["event"] == "raised" and received[0]["name"] == "spindle overload"
    assert received[0]["device_id"] == plant.device["id"] and received[0]["severity"] == "critical"
