"""Safety production over REST on both backends: registry and grading, monitoring points whose template
rules fire exactly at the GB/T 50493-2019 set-points, warnings opened by telemetry, their disposal, and
the failure database a closed warning lands in."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.helpers import Tenant, new_tenant

from indunet.apps.safety.monitor import SafetyMonitor
from indunet.core.timeutil import now_us
from indunet.platform import devices
from indunet.platform.rules import RuleEngine
from indunet.platform.runtime import Platform
from indunet.security import Principal

CODE = "91310116MA1FL00015"
ENTERPRISE = {
    "name": "jinshan-chem",
    "title": "Jinshan Chemical Co.",
    "code": CODE,
    "region": "310116",
    "region_name": "金山区",
    "latitude": 30.72,
    "longitude": 121.34,
}
UNIT = {
    "name": "tank-area-b",
    "enterprise": "jinshan-chem",
    "title": "LPG and ammonia tank area",
    "kind": "storage",
    "unit_type": "pressurised_storage",
    "exposed_people": 120,
    "holdings": [{"substance": "lpg", "quantity_t": 500}, {"substance": "ammonia", "quantity_t": 100}],
}


@pytest.fixture
def site(platform: Platform, client: TestClient) -> dict[str, Any]:
    tenant = new_tenant(platform, client, "safety")
    system = Principal.system(tenant.id)
    made = {
        name: devices.create_device(platform, system, name, type_name)
        for name, type_name in (
            ("GD-B01", "gas_detector"),
            ("GD-B02", "gas_detector"),
            ("TD-B01", "toxic_gas_detector"),
            ("T-201", "storage_tank"),
        )
    }
    assert client.put("/api/safety/enterprises", json=ENTERPRISE, headers=tenant.engineer).status_code == 200
    response = client.put("/api/safety/units", json=UNIT, headers=tenant.engineer)
    assert response.status_code == 200, response.text
    return {"tenant": tenant, "devices": made, "unit": response.json()}


def bind(client: TestClient, tenant: Tenant, **spec: Any) -> dict[str, Any]:
    response = client.post(
        "/api/safety/points", json={"unit": "tank-area-b", **spec}, headers=tenant.engineer
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def monitor(client: TestClient) -> SafetyMonitor:
    found: SafetyMonitor = client.app.state.safety_monitor  # type: ignore[attr-defined]
    return found


def rules(client: TestClient) -> RuleEngine:
    found: RuleEngine = client.app.state.rule_engine  # type: ignore[attr-defined]
    return found


def send(client: TestClient, site: dict[str, Any], device: str, ts_us: int, **values: float) -> None:
    token = site["devices"][device]["token"]
    body = {"records": [{"device": device, "ts": ts_us // 1000, "values": values}]}
    response = client.post("/api/telemetry", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.json()["accepted"] == len(values), response.text
    assert rules(client).wait_idle()
    assert monitor(client).wait_idle()


def alarms(client: TestClient, tenant: Tenant) -> list[dict[str, Any]]:
    return client.get("/api/alarms", params={"status": "open"}, headers=tenant.viewer).json()["items"]  # type: ignore[no-any-return]


def test_unit_is_graded_with_the_calculation_shown(client: TestClient, site: dict[str, Any]) -> None:
    unit = site["unit"]
    grading = unit["grading"]
    # LPG 500/50 x 1.5 + ammonia 100/10 x 2 = 35; 120 people exposed: alpha 2.0; R = 70: grade 2.
    assert unit["major"] is True
    assert unit["level"] == 2
    assert unit["r"] == pytest.approx(70.0)
    assert grading["alpha"] == 2.0
    assert {t["substance"] for t in grading["terms"]} == {"lpg", "ammonia"}
    listed = client.get("/api/safety/units", params={"major": "true"}, headers=site["tenant"].viewer).json()
    assert [u["name"] for u in listed["items"]] == ["tank-area-b"]


def test_gas_templates_fire_exactly_at_the_set_points(client: TestClient, site: dict[str, Any]) -> None:
    tenant = site["tenant"]
    point = bind(client, tenant, device="GD-B01", point="concentration", kind="combustible")
    assert (point["high"], point["high_high"], point["measure_unit"]) == (25.0, 50.0, "%LEL")
    assert len(point["rule_ids"]) == 2
    ts = now_us()
    send(client, site, "GD-B01", ts, concentration=24.9)
    assert alarms(client, tenant) == []
    send(client, site, "GD-B01", ts + 1_000_000, concentration=25.0)
    assert [a["severity"] for a in alarms(client, tenant)] == ["major"]
    send(client, site, "GD-B01", ts + 2_000_000, concentration=49.9)
    assert [a["severity"] for a in alarms(client, tenant)] == ["major"]
    send(client, site, "GD-B01", ts + 3_000_000, concentration=50.0)
    assert sorted(a["severity"] for a in alarms(client, tenant)) == ["critical", "major"]


def test_toxic_templates_use_the_oel(client: TestClient, site: dict[str, Any]) -> None:
    tenant = site["tenant"]
    point = bind(client, tenant, device="TD-B01", point="concentration", kind="toxic", substance="ammonia")
    standard = client.get(
        "/api/safety/setpoints", params={"kind": "toxic", "substance": "ammonia"}, headers=tenant.viewer
    ).json()
    assert (point["high"], point["high_high"]) == (standard["first"], standard["second"])
    assert standard["second"] == pytest.approx(2 * standard["first"])
    ts = now_us()
    send(client, site, "TD-B01", ts, concentration=standard["first"] - 0.1)
    assert alarms(client, tenant) == []
    send(client, site, "TD-B01", ts + 1_000_000, concentration=standard["first"])
    assert [a["severity"] for a in alarms(client, tenant)] == ["major"]


def test_toxic_set_points_may_rest_on_the_idlh(client: TestClient, site: dict[str, Any]) -> None:
    tenant = site["tenant"]
    body = {"unit": "tank-area-b", "device": "TD-B01", "point": "concentration", "kind": "toxic"}
    point = bind(client, tenant, **{**body, "substance": "hydrogen_sulfide", "setpoints_from": "idlh"})
    assert "IDLH" in point["basis"]
    assert point["high_high"] == pytest.approx(2 * point["high"])
    oel = client.get(
        "/api/safety/setpoints",
        params={"kind": "toxic", "substance": "hydrogen_sulfide"},
        headers=tenant.viewer,
    ).json()
    assert point["high"] > oel["first"]  # a detector that cannot read down to the OEL


def test_set_points_above_the_standard_are_refused(client: TestClient, site: dict[str, Any]) -> None:
    tenant = site["tenant"]
    body = {
        "unit": "tank-area-b",
        "device": "GD-B02",
        "point": "concentration",
        "kind": "combustible",
        "high": 30,
    }
    response = client.post("/api/safety/points", json=body, headers=tenant.engineer)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    stricter = client.post(
        "/api/safety/points", json={**body, "high": 20, "high_high": 40}, headers=tenant.engineer
    )
    assert stricter.status_code == 201, stricter.text


def test_leak_opens_a_warning_that_is_disposed_of_into_the_failure_database(
    client: TestClient, site: dict[str, Any]
) -> None:
    tenant = site["tenant"]
    bind(client, tenant, device="GD-B01", point="concentration", kind="combustible")
    bind(client, tenant, device="GD-B02", point="concentration", kind="combustible")
    ts = now_us()
    send(client, site, "GD-B01", ts, concentration=30.0)
    listed = client.get("/api/safety/warnings", params={"status": "open"}, headers=tenant.viewer).json()
    assert [(w["unit"], w["level"]) for w in listed["items"]] == [("tank-area-b", 3)]
    number = listed["items"][0]["number"]
    send(client, site, "GD-B01", ts + 1_000_000, concentration=55.0)
    send(client, site, "GD-B02", ts + 2_000_000, concentration=52.0)
    warning = client.get(f"/api/safety/warnings/{number}", headers=tenant.viewer).json()
    assert warning["level"] == 1
    assert [e["level"] for e in warning["events"] if e["kind"] in ("opened", "escalated")] == [3, 2, 1]
    unit = client.get("/api/safety/units/tank-area-b", headers=tenant.viewer).json()
    assert unit["warning"]["level"] == 1

    def step(**body: Any) -> Any:
        return client.post(f"/api/safety/warnings/{number}/steps", json=body, headers=tenant.engineer)

    assert step(action="close", evidence={"summary": "x"}).status_code == 409  # not yet acting
    assert step(action="assign", assignee="shift-lead@jinshan.cn").status_code == 200
    assert step(action="act", note="isolated the sphere's outlet valve").status_code == 200
    refused = step(action="close", evidence={"summary": "gasket replaced"})
    assert refused.status_code == 409  # the gas is still there
    for i, device in enumerate(("GD-B01", "GD-B02")):
        send(client, site, device, ts + (3 + i) * 1_000_000, concentration=1.0)
    photo = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 100).decode()
    closed = step(
        action="close",
        cause="flange gasket of the outlet line failed",
        failure_mode="FM-LEAK-FLANGE",
        evidence={
            "summary": "gasket replaced, leak test passed",
            "measures": "isolated, purged, replaced gasket",
            "attachments": [{"name": "flange.png", "content_type": "image/png", "data": photo}],
        },
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    download = client.get(f"/api/safety/warnings/{number}/evidence/0", headers=tenant.viewer)
    assert download.content.startswith(b"\x89PNG")
    records = client.get("/api/safety/failures", headers=tenant.viewer).json()["items"]
    assert [(r["unit"], r["mode"], r["source"], r["peak_level"]) for r in records] == [
        ("tank-area-b", "FM-LEAK-FLANGE", "warning", 1)
    ]


def test_viewers_cannot_change_the_registry(client: TestClient, site: dict[str, Any]) -> None:
    response = client.put("/api/safety/units", json=UNIT, headers=site["tenant"].viewer)
    assert response.status_code == 403


def test_bad_credit_code_is_refused(client: TestClient, site: dict[str, Any]) -> None:
    bad = {**ENTERPRISE, "name": "other", "code": CODE[:-1] + "0"}
    response = client.put("/api/safety/enterprises", json=bad, headers=site["tenant"].engineer)
    assert response.status_code == 422
    assert "GB 32100" in response.text
