"""Remaining useful life on live telemetry: a pump's operating hours arrive as device telemetry, the
production model predicts after each hour, the prediction and its interval are written back as the
pump's ``rul``/``rul_lower``/``rul_upper``/``health``, a work order opens near the end of life, and a
restarted monitor picks the life up from the store."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.helpers import Tenant, new_tenant

from indunet.apps.phm import registry
from indunet.apps.phm.histories import Fleet, History
from indunet.apps.phm.lifetimes import LifeTracker, bind, parse_feeds, rebuild
from indunet.apps.phm.model import RulConfig, RulModel
from indunet.apps.phm.monitor import PhmMonitor
from indunet.apps.phm.tabular import read_table
from indunet.core.errors import InvalidInput
from indunet.core.timeutil import now_us
from indunet.platform import devices, telemetry
from indunet.platform.devicetypes import load_type
from indunet.platform.models import DeviceType, builtin_types
from indunet.platform.rules import RuleEngine
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.sim.wear_fleets import PUMP_SENSORS, PUMP_SETTINGS

FEEDS = (
    "ambient_c=ambient_temperature, voltage_v=supply_voltage, discharge_kpa=discharge_pressure*100, "
    "speed_rpm=speed, flow_m3h=flow, thrust_bearing_c=thrust_bearing_temperature, "
    "radial_bearing_c=bearing_temperature, oil_c=oil_temperature"
)
POINT_OF = {
    "ambient_c": ("ambient_temperature", 1.0),
    "voltage_v": ("supply_voltage", 1.0),
    "discharge_kpa": ("discharge_pressure", 100.0),
    "speed_rpm": ("speed", 1.0),
    "flow_m3h": ("flow", 1.0),
    "thrust_bearing_c": ("thrust_bearing_temperature", 1.0),
    "radial_bearing_c": ("bearing_temperature", 1.0),
    "oil_c": ("oil_temperature", 1.0),
}
HOUR_US = 60_000_000  # one operating hour per minute of telemetry: an accelerated pump


@pytest.fixture(scope="module")
def pumps() -> Fleet:
    path = Path(str(resources.files("indunet.sim") / "data" / "pump_fleet.csv.gz"))
    return read_table(path, settings=PUMP_SETTINGS, sensors=PUMP_SENSORS)


@pytest.fixture(scope="module")
def model(pumps: Fleet) -> RulModel:
    config = RulConfig(folds=2, draws=2, max_rounds=150, learning_rate=0.15, cap=250.0, max_rul=0.0)
    return RulModel(config).fit(Fleet(pumps.histories[:60], pumps.settings, pumps.sensors))


def records(history: History, start_us: int, first: int, last: int) -> list[dict[str, Any]]:
    columns = [*PUMP_SETTINGS, *PUMP_SENSORS]
    rows = np.hstack([history.settings, history.sensors])
    found = []
    for i in range(first, last):
        values: dict[str, float] = {"operating_hours": float(history.time[i])}
        for column, value in zip(columns, rows[i], strict=True):
            point, factor = POINT_OF[column]
            values[point] = float(value) / factor
        found.append({"device": "pw-1", "ts": start_us + i * HOUR_US, "values": values})
    return found


def send(client: TestClient, tenant: Tenant, batch: list[dict[str, Any]]) -> None:
    for first in range(0, len(batch), 200):
        response = client.post("/api/telemetry", json=batch[first : first + 200], headers=tenant.engineer)
        assert response.status_code == 200 and not response.json()["rejected"], response.text
    monitor: PhmMonitor = client.app.state.phm_monitor  # type: ignore[attr-defined]
    monitor.drain(60)
    engine: RuleEngine = client.app.state.rule_engine  # type: ignore[attr-defined]
    assert engine.wait_idle()


def series(client: TestClient, tenant: Tenant, device_id: str, point: str, start_us: int) -> list[float]:
    response = client.get(
        f"/api/telemetry/{device_id}",
        params={"point": point, "start": start_us // 1000, "end": now_us() // 1000 + 1, "limit": 100_000},
        headers=tenant.viewer,
    )
    assert response.status_code == 200, response.text
    return [v for _, v in response.json()["series"].get(point, [])]


def test_a_pump_s_hours_become_predictions_bands_and_a_work_order(
    platform: Platform, client: TestClient, pumps: Fleet, model: RulModel
) -> None:
    tenant = new_tenant(platform, client, "rul")
    system = Principal.system(tenant.id)
    pump = devices.create_device(platform, system, "pw-1", "centrifugal_pump", {"line": "water"})
    binding = bind(model, pumps.settings, model.sensors, parse_feeds(FEEDS),
                   load_type(platform, tenant.id, "centrifugal_pump"), "operating_hours", 0.9, 24.0)  # fmt: skip
    created = registry.register_rul(platform, system, "pump-wear", "centrifugal_pump", model, binding,
                                    {"source": "pump_fleet.csv.gz units 1-60"}, {})  # fmt: skip
    assert created["kind"] == "rul" and created["stage"] == "candidate"
    registry.promote(platform, system, "pump-wear", created["version"])

    held_out = pumps.histories[70]
    life = len(held_out)
    start = now_us() - (life + 10) * HOUR_US
    send(client, tenant, records(held_out, start, 0, life - 2))
    rul = series(client, tenant, pump["id"], "rul", start)
    lower = series(client, tenant, pump["id"], "rul_lower", start)
    upper = series(client, tenant, pump["id"], "rul_upper", start)
    health = series(client, tenant, pump["id"], "health", start)
    assert len(rul) == len(lower) == len(upper) == len(health) == life - 2
    assert all(lo <= r <= hi for lo, r, hi in zip(lower, rul, upper, strict=True))
    truth = held_out.rul()[: life - 2]
    late = slice(life // 2, life - 2)
    error = np.sqrt(np.mean((np.minimum(truth[late], 250) - np.asarray(rul)[late]) ** 2))
    mean_life = np.mean([len(h) for h in pumps.histories[:60]])
    naive = np.sqrt(np.mean((truth[late] - np.maximum(mean_life - np.arange(life - 2)[late], 0)) ** 2))
    assert error < 0.6 * naive, (error, naive)
    assert health[-1] < health[len(health) // 4]

    orders = client.get("/api/work-orders", params={"device": "pw-1"}, headers=tenant.viewer).json()["items"]
    assert len(orders) == 1 and orders[0]["source"] == "prediction"
    assert orders[0]["reason"]["model"] == "pump-wear v1" and orders[0]["reason"]["rul_lower"] < 24


def test_a_restarted_monitor_rebuilds_the_life_from_the_store(
    platform: Platform, client: TestClient, pumps: Fleet, model: RulModel
) -> None:
    tenant = new_tenant(platform, client, "rul-restart")
    system = Principal.system(tenant.id)
    pump = devices.create_device(platform, system, "pw-1", "centrifugal_pump", {})
    binding = bind(model, pumps.settings, model.sensors, parse_feeds(FEEDS),
                   load_type(platform, tenant.id, "centrifugal_pump"), "operating_hours")  # fmt: skip
    held_out = pumps.histories[65]
    start = now_us() - (len(held_out) + 10) * HOUR_US
    telemetry.ingest(platform, system, records(held_out, start, 0, 120))
    seen = LifeTracker(model, binding)
    for record in records(held_out, start, 0, 120):
        for point, value in sorted(record["values"].items(), key=lambda kv: kv[0] == "operating_hours"):
            seen.update(pump["id"], point, record["ts"], value)
    fresh = LifeTracker(model, binding)
    rebuild(platform, devices.resolve(platform, tenant.id, pump["id"]), fresh, now_us())
    assert fresh.lives[pump["id"]].cycles == seen.lives[pump["id"]].cycles
    assert np.allclose(np.vstack(fresh.lives[pump["id"]].rows), np.vstack(seen.lives[pump["id"]].rows))
    assert fresh.predict(pump["id"]) == pytest.approx(seen.predict(pump["id"]))


def test_a_counter_that_goes_back_starts_a_new_life(pumps: Fleet, model: RulModel) -> None:
    device_type = {t.name: t for t in builtin_types()}["centrifugal_pump"]
    binding = bind(model, pumps.settings, model.sensors, parse_feeds(FEEDS), device_type, "operating_hours")
    tracker = LifeTracker(model, binding)
    for hour in range(1, 6):
        for point, _ in POINT_OF.values():
            tracker.update("p", point, hour, 10.0 + hour)
        tracker.update("p", "operating_hours", hour, float(hour))
    assert tracker.lives["p"].cycles == [1, 2, 3, 4, 5]
    for point, _ in POINT_OF.values():
        tracker.update("p", point, 7, 1.0)
    assert tracker.update("p", "operating_hours", 7, 1.0)  # replaced: counter back to 1
    assert tracker.lives["p"].cycles == [1]


def test_bindings_are_checked_against_the_type(pumps: Fleet, model: RulModel) -> None:
    types = {t.name: t for t in builtin_types()}
    pump = types["centrifugal_pump"].model_dump()
    pump["points"] = [
        p for p in pump["points"] if p["name"] not in ("rul", "rul_lower", "rul_upper", "health")
    ]
    without_rul = DeviceType.model_validate(pump)
    with pytest.raises(InvalidInput, match="no point given for column"):
        bind(
            model,
            pumps.settings,
            model.sensors,
            parse_feeds("speed_rpm=speed"),
            types["centrifugal_pump"],
            "operating_hours",
        )
    with pytest.raises(InvalidInput, match="no numeric point 'tag'"):
        bind(model, pumps.settings, model.sensors, parse_feeds(FEEDS), types["centrifugal_pump"], "tag")
    with pytest.raises(InvalidInput, match="needs the points rul"):
        bind(model, pumps.settings, model.sensors, parse_feeds(FEEDS), without_rul, "operating_hours")
    with pytest.raises(InvalidInput, match="column=point"):
        parse_feeds("speed_rpm speed")
    with pytest.raises(InvalidInput, match="non-zero"):
        parse_feeds("speed_rpm=speed*0")
