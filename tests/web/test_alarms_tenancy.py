"""Rules and alarms of one tenant are invisible to another, on every route (as test_tenancy.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.helpers import Tenant

from indunet.platform.rules import RuleEngine

RULE = {
    "name": "b-overload",
    "type": "cnc_machine_tool",
    "condition": {"kind": "threshold", "point": "spindle_load", "high": 90},
}


@pytest.fixture(scope="module")
def b_alarm(client: TestClient, tenant_b: Tenant) -> dict[str, str]:
    rule = client.post("/api/rules", json=RULE, headers=tenant_b.admin)
    assert rule.status_code == 201, rule.text
    client.post("/api/telemetry", json={"values": {"spindle_load": 99}}, headers=tenant_b.device_auth)
    engine: RuleEngine = client.app.state.rule_engine  # type: ignore[attr-defined]
    assert engine.wait_idle()
    [alarm] = client.get("/api/alarms", headers=tenant_b.admin).json()["items"]
    return {"rule": rule.json()["id"], "alarm": alarm["id"]}


ROUTES = [
    ("GET", "/api/rules/{rule}", None),
    ("PUT", "/api/rules/{rule}", RULE),
    ("DELETE", "/api/rules/{rule}", None),
    ("GET", "/api/alarms/{alarm}", None),
    ("POST", "/api/alarms/{alarm}/ack", None),
    ("POST", "/api/alarms/{alarm}/clear", None),
    ("GET", "/api/alarms/{alarm}/comments", None),
    ("POST", "/api/alarms/{alarm}/comments", {"text": "pwned"}),
]


@pytest.mark.parametrize(("method", "template", "body"), ROUTES, ids=[f"{m} {t}" for m, t, _ in ROUTES])
def test_other_tenants_rules_and_alarms_are_invisible(
    client: TestClient,
    tenant_a: Tenant,
    tenant_b: Tenant,
    b_alarm: dict[str, str],
    method: str,
    template: str,
    body: dict[str, object] | None,
) -> None:
    path = template.format(**b_alarm)
    response = client.request(method, path, json=body, headers=tenant_a.admin)
    assert response.status_code == 404, (method, path, response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    alarm = client.get(f"/api/alarms/{b_alarm['alarm']}", headers=tenant_b.admin).json()
    assert alarm["status"] == "active" and alarm["comments"] == []
    assert client.get(f"/api/rules/{b_alarm['rule']}", headers=tenant_b.admin).json()["name"] == "b-overload"


def test_lists_show_only_own_rules_and_alarms(
    client: TestClient, tenant_a: Tenant, b_alarm: dict[str, str]
) -> None:
    rules = client.get("/api/rules", headers=tenant_a.admin).json()["items"]
    assert b_alarm["rule"] not in {r["id"] for r in rules}
    alarms = client.get("/api/alarms", headers=tenant_a.admin).json()["items"]
    assert b_alarm["alarm"] not in {a["id"] for a in alarms}
    # Tenant B's rule fires on B's device only, even though A has a device of the same type and name.
    client.post("/api/telemetry", json={"values": {"spindle_load": 99}}, headers=tenant_a.device_auth)
    engine: RuleEngine = client.app.state.rule_engine  # type: ignore[attr-defined]
    assert engine.wait_idle()
    assert client.get("/api/alarms", headers=tenant_a.admin).json()["total"] == 0
