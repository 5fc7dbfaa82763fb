"""PHM monitoring through the platform: train a detector on a pump's healthy week over REST, promote it,
and watch a rubbing impeller become a ``phm_anomaly`` score and an alarm raised by the platform's own
rule engine, while healthy running raises none; the registry keeps versions, lineage and one
production version per name."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.helpers import Tenant, new_tenant

from indunet.apps.phm.monitor import PhmMonitor
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform import devices
from indunet.platform.rules import RuleEngine
from indunet.platform.runtime import Platform
from indunet.security import Principal

POINTS = ["flow", "discharge_pressure", "motor_current", "bearing_temperature", "vibration"]
PERIOD_US = 60_000_000


def pump_rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    duty = np.zeros(n)
    noise = rng.normal(0, 0.05, n)
    for i in range(1, n):
        duty[i] = 0.98 * duty[i - 1] + noise[i]
    duty += np.sin(np.arange(n) * 2 * np.pi / 1440)
    return np.column_stack(
        [
            200 + 40 * duty + rng.normal(0, 2, n),
            6 - 0.8 * duty + rng.normal(0, 0.05, n),
            80 + 12 * duty + rng.normal(0, 0.6, n),
            55 + 3 * duty + rng.normal(0, 0.3, n),
            rng.normal(2.0, 0.15, n).clip(0.1),
        ]
    )


def send(client: TestClient, tenant: Tenant, device: str, start_us: int, rows: np.ndarray) -> None:
    records = [
        {
            "device": device,
            "ts": start_us + i * PERIOD_US,
            "values": dict(zip(POINTS, map(float, row), strict=True)),
        }
        for i, row in enumerate(rows)
    ]
    for first in range(0, len(records), 500):
        response = client.post("/api/telemetry", json=records[first : first + 500], headers=tenant.engineer)
        assert response.status_code == 200 and not response.json()["rejected"], response.text


def monitor(client: TestClient) -> PhmMonitor:
    found: PhmMonitor = client.app.state.phm_monitor  # type: ignore[attr-defined]
    return found


def settle(client: TestClient) -> None:
    """Scores written and the rules run over them."""
    monitor(client).drain()
    engine: RuleEngine = client.app.state.rule_engine  # type: ignore[attr-defined]
    assert engine.wait_idle()


@pytest.fixture
def plant(platform: Platform, client: TestClient) -> Tenant:
    tenant = new_tenant(platform, client, "phm")
    tenant.device = devices.create_device(
        platform, Principal.system(tenant.id), "pump-7", "centrifugal_pump", {}
    )
    return tenant


def train(client: TestClient, tenant: Tenant, start_us: int, days: float, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "pump-7-health",
        "device": "pump-7",
        "points": POINTS,
        "start": to_rfc3339(start_us),
        "end": to_rfc3339(start_us + int(days * 86_400_000_000)),
        **extra,
    }
    response = client.post("/api/phm/models", json=body, headers=tenant.engineer)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def phm_alarms(client: TestClient, tenant: Tenant) -> list[dict[str, Any]]:
    items = client.get("/api/alarms", params={"status": "open"}, headers=tenant.viewer).json()["items"]
    return [a for a in items if a["name"].startswith("PHM ")]


def test_a_rubbing_impeller_raises_a_phm_alarm_and_healthy_running_does_not(
    client: TestClient, plant: Tenant
) -> None:
    week = 7 * 1440
    start = now_us() - 30 * 86_400_000_000
    start -= start % PERIOD_US
    send(client, plant, "pump-7", start, pump_rows(week, seed=1))
    model = train(client, plant, start, 7, false_alarms_per_day=0.1, persistence=3)
    assert model["stage"] == "candidate" and model["version"] == 1
    assert model["lineage"]["rows"] == week and len(model["lineage"]["sha256"]) == 64
    assert model["metrics"]["period_s"] == 60.0

    promoted = client.post("/api/phm/models/pump-7-health/1/promote", headers=plant.engineer)
    assert promoted.status_code == 200, promoted.text
    rule = client.get(f"/api/rules/{promoted.json()['rule_id']}", headers=plant.viewer).json()
    assert rule["condition"] == {"kind": "threshold", "point": "phm_anomaly", "high": 1.0,
                                 "low": None, "hysteresis": 0.0, "for_s": 120.0, "inclusive": False}  # fmt: skip

    live = start + week * PERIOD_US
    send(client, plant, "pump-7", live, pump_rows(1440, seed=2))  # a healthy day
    settle(client)
    assert phm_alarms(client, plant) == []
    pump = plant.device
    scores = client.get(
        f"/api/telemetry/{pump['id']}",
        params={
            "point": "phm_anomaly",
            "start": to_rfc3339(live),
            "end": to_rfc3339(live + 1440 * PERIOD_US),
        },
        headers=plant.viewer,
    )
    assert scores.status_code == 200, scores.text
    healthy = [v for _, v in scores.json()["series"]["phm_anomaly"]]
    assert len(healthy) == 1440 and max(healthy) > 0.05

    rubbing = pump_rows(600, seed=3)
    rubbing[:, 2] += np.linspace(0, 15, 600)  # current climbs at the same flow
    send(client, plant, "pump-7", live + 1440 * PERIOD_US, rubbing)
    settle(client)
    raised = phm_alarms(client, plant)
    assert [(a["name"], a["device_id"]) for a in raised] == [("PHM pump-7-health", pump["id"])]


def test_versions_lineage_and_one_production_version(client: TestClient, plant: Tenant) -> None:
    start = now_us() - 60 * 86_400_000_000
    start -= start % PERIOD_US
    send(client, plant, "pump-7", start, pump_rows(3 * 1440, seed=4))
    first = train(client, plant, start, 2)
    second = train(client, plant, start, 3, kind="stream")
    assert (first["version"], second["version"]) == (1, 2)
    assert second["kind"] == "stream" and second["lineage"]["rows"] == 3 * 1440
    for version in (1, 2):
        assert (
            client.post(
                f"/api/phm/models/pump-7-health/{version}/promote", headers=plant.engineer
            ).status_code
            == 200
        )
    stages = {
        m["version"]: m["stage"] for m in client.get("/api/phm/models", headers=plant.viewer).json()["items"]
    }
    assert stages == {1: "archived", 2: "production"}
    again = client.post("/api/phm/models/pump-7-health/1/promote", headers=plant.engineer)
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    document = client.get("/api/phm/models/pump-7-health/2", headers=plant.viewer).json()["document"]
    assert document["kind"] == "stream" and document["inputs"] == POINTS
    assert client.post("/api/phm/models", json={}, headers=plant.viewer).status_code in (403, 422)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"points": ["flow", "no_such_point"]}, "no numeric point 'no_such_point'"),
        ({"points": ["tag"]}, "no numeric point 'tag'"),
        ({"points": ["flow", "flow"]}, "each point once"),
        ({"device": "nowhere"}, "no device 'nowhere'"),
        ({"end": "2000-01-01T00:00:00Z"}, "at most 366 days"),
        ({}, "cannot learn from that window"),  # the window holds no telemetry at all
    ],
)
def test_bad_training_requests_are_refused_with_a_reason(
    client: TestClient, plant: Tenant, changes: dict[str, Any], reason: str
) -> None:
    body = {"name": "m", "device": "pump-7", "points": POINTS, "start": "2020-01-01T00:00:00Z",
            "end": "2020-01-08T00:00:00Z", **changes}  # fmt: skip
    response = client.post("/api/phm/models", json=body, headers=plant.engineer)
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]


def test_promotion_needs_the_score_point_on_the_type(client: TestClient, platform: Platform) -> None:
    tenant = new_tenant(platform, client, "phm-type")
    start = now_us() - 10 * 86_400_000_000
    start -= start % PERIOD_US
    records = [
        {
            "device": "cnc-01",
            "ts": start + i * PERIOD_US,
            "values": {"spindle_load": 40 + i % 7, "spindle_speed": 8000 + i % 11},
        }
        for i in range(600)
    ]
    assert client.post("/api/telemetry", json=records, headers=tenant.engineer).status_code == 200
    body = {"name": "spindle", "device": "cnc-01", "points": ["spindle_load", "spindle_speed"],
            "start": to_rfc3339(start), "end": to_rfc3339(start + 600 * PERIOD_US)}  # fmt: skip
    response = client.post("/api/phm/models", json=body, headers=tenant.engineer)
    assert response.status_code == 201, response.text
    promoted = client.post("/api/phm/models/spindle/1/promote", headers=tenant.engineer)
    assert promoted.status_code == 200, promoted.text
