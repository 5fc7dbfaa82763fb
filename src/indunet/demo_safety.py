"""The demo's safety production: a hazardous-chemicals site (sim/tank_farm.py) registered as an
enterprise with three units graded by GB 18218-2018, its 21 instruments bound as monitoring points, and
a scenario of incidents every hour: an LPG leak at sphere T-201 (blue to red within minutes: the vapour
climbs, reaches 25 % then 50 % LEL, then a second detector), a cooling failure at reactor R-401 (the
runaway), and a methanol leak at T-101. Warnings stay open at their level until someone disposes of
them in the console. A second, smaller enterprise in the same city makes the regional roll-up a
comparison, and a month of earlier incidents gives the reports and the safety index a history.

``site_document`` is the site file of the farm (the shape ``indunet safety load`` reads), used by the
tests too.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from indunet.apps.safety import registry
from indunet.core.errors import Conflict, NotFound
from indunet.core.timeutil import US_PER_MS, now_us
from indunet.platform import devices
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.sim import SimulatedDevice, run_simulators
from indunet.sim.tank_farm import TankFarm
from indunet.store.safety import safety_failures, safety_units, safety_warning_events, safety_warnings

log = logging.getLogger(__name__)

ENTERPRISE = "jinshan-chem"
SECOND_ENTERPRISE = "fengxian-gas"
UNIT_TYPES = {
    "tank-area-A": "atmospheric_storage",
    "tank-area-B": "pressurised_storage",
    "reactor-area": "reaction",
}
LEVEL_LIMITS = {"low_low": 10.0, "low": 15.0, "high": 85.0, "high_high": 90.0}
TANK_TEMPERATURE = {"high": 40.0, "high_high": 50.0}
SPHERE_PRESSURE = {
    "T-201": {"high": 1500.0, "high_high": 1650.0},
    "T-301": {"high": 1800.0, "high_high": 2000.0},
}
REACTOR_LIMITS = {
    "temperature": ("temperature", {"high": 100.0, "high_high": 120.0}),
    "pressure": ("pressure", {"high": 250.0, "high_high": 350.0}),
    "coolant_flow": ("flow", {"low": 5.0, "low_low": 2.0}),
}
BACKFILL_S = 1800
BACKFILL_BATCH = 300
CYCLE_S = 3600
SCHEDULED_HOURS = 24
MINUTE_US = 60 * 1_000_000
UNCLASSIFIED_MODE = "UNCLASSIFIED"


def site_document(farm: TankFarm) -> dict[str, Any]:
    """Enterprises, units and monitoring points of the farm, as ``indunet safety load`` reads them."""
    units = [
        {
            "name": unit.name,
            "enterprise": ENTERPRISE,
            "title": unit.title,
            "kind": unit.kind,
            "unit_type": UNIT_TYPES[unit.name],
            "exposed_people": unit.exposed_people,
            "holdings": [{"substance": s, "quantity_t": q} for s, q in unit.holdings],
            "plan": {"x": unit.x, "y": unit.y, "width": unit.width, "height": unit.height},
        }
        for unit in farm.units()
    ]
    points: list[dict[str, Any]] = []
    for device in farm.devices():
        base = {"unit": device.unit, "device": device.name}
        if device.kind == "combustible":
            points.append({**base, "point": "concentration", "kind": "combustible"})
        elif device.kind == "toxic":
            points.append({**base, "point": "concentration", "kind": "toxic", "substance": device.substance})
        elif device.kind == "tank":
            points.append(
                {**base, "point": "level_pct", "kind": "level", "measure_unit": "%", **LEVEL_LIMITS}
            )
            points.append(
                {
                    **base,
                    "point": "temperature",
                    "kind": "temperature",
                    "measure_unit": "°C",
                    **TANK_TEMPERATURE,
                }
            )
            if device.name in SPHERE_PRESSURE:
                points.append(
                    {
                        **base,
                        "point": "pressure",
                        "kind": "pressure",
                        "measure_unit": "kPa",
                        **SPHERE_PRESSURE[device.name],
                    }
                )
        else:
            for point, (kind, limits) in REACTOR_LIMITS.items():
                points.append({**base, "point": point, "kind": kind, **limits})
    return {
        "enterprises": [
            {
                "name": ENTERPRISE,
                "title": "Jinshan Petrochemical Storage Co. 金山石化储运有限公司",
                "code": "91310116MA1FL00015",
                "region": "310116",
                "region_name": "上海市金山区",
                "address": "Jinshan Second Industrial Zone, Shanghai",
                "latitude": 30.742,
                "longitude": 121.341,
            },
            {
                "name": SECOND_ENTERPRISE,
                "title": "Fengxian Gas Filling Station 奉贤燃气充装站",
                "code": "91310120MA1GQ0001F",
                "region": "310120",
                "region_name": "上海市奉贤区",
                "address": "Fengxian, Shanghai",
                "latitude": 30.918,
                "longitude": 121.474,
            },
        ],
        "units": [
            *units,
            {
                "name": "lpg-filling",
                "enterprise": SECOND_ENTERPRISE,
                "title": "LPG cylinder filling",
                "kind": "storage",
                "unit_type": "pressurised_storage",
                "exposed_people": 150,
                "holdings": [{"substance": "lpg", "quantity_t": 80}],
                "plan": {"x": 0, "y": 0, "width": 60, "height": 40},
            },
        ],
        "points": points,
    }


def load_site(platform: Platform, principal: Principal, document: dict[str, Any]) -> None:
    """Create or replace what the site file describes (idempotent: a point bound already is kept)."""
    for item in document["enterprises"]:
        registry.save_enterprise(
            platform, principal, registry.parse(registry.EnterpriseSpec, item, "enterprise")
        )
    for item in document["units"]:
        registry.save_unit(platform, principal, registry.parse(registry.UnitSpec, item, "unit"))
    for item in document["points"]:
        try:
            registry.bind(platform, principal, registry.parse(registry.PointSpec, item, "monitoring point"))
        except Conflict:
            continue


def schedule(farm: TankFarm, start_us: int, hours: int = SCHEDULED_HOURS) -> None:
    """Every hour from ``start_us``: an LPG leak half a minute in (ten minutes), a cooling failure at minute
    25 (twelve), a methanol leak at minute 45 (eight)."""
    for hour in range(hours):
        base = start_us + hour * CYCLE_S * 1_000_000
        farm.inject_leak("T-201", 1.5, base + MINUTE_US // 2)
        farm.stop_leak("T-201", base + MINUTE_US // 2 + 10 * MINUTE_US)
        farm.inject_runaway("R-401", base + 25 * MINUTE_US)
        farm.stop_runaway("R-401", base + 37 * MINUTE_US)
        farm.inject_leak("T-101", 2.0, base + 45 * MINUTE_US)
        farm.stop_leak("T-101", base + 53 * MINUTE_US)


def _tokens(platform: Platform, principal: Principal, farm: TankFarm) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for device in farm.devices():
        try:
            ref = devices.resolve(platform, principal.tenant_id, device.name)
            tokens[device.name] = devices.rotate_token(platform, principal, ref.id)
        except NotFound:
            location = {
                "site": "Jinshan storage site",
                "area": device.unit,
                "plan": f"{device.x:g},{device.y:g}",
            }
            made = devices.create_device(
                platform,
                principal,
                device.name,
                device.type_name,
                {"unit": device.unit},
                location,
                device.attributes,
            )
            tokens[device.name] = str(made["token"])
    return tokens


def _history(platform: Platform, tenant_id: str) -> None:
    """A month of earlier incidents, closed with evidence, and their failure records (once)."""
    with platform.engine.connect() as conn:
        if conn.execute(
            select(safety_warnings.c.id).where(safety_warnings.c.tenant_id == tenant_id).limit(1)
        ).first():
            return
        units = {
            row.name: (row.id, row.enterprise_id, row.unit_type)
            for row in conn.execute(
                select(
                    safety_units.c.name,
                    safety_units.c.id,
                    safety_units.c.enterprise_id,
                    safety_units.c.unit_type,
                ).where(safety_units.c.tenant_id == tenant_id)
            )
        }
    incidents = [
        (29, "tank-area-B", 3, "FM-LEAK-VALVE", "Ammonia valve packing leak", "packing replaced", 2.5),
        (
            26,
            "tank-area-A",
            4,
            "FM-LEAK-FLANGE",
            "Methanol vapour near T-102 manifold",
            "flange bolts re-torqued",
            1.0,
        ),
        (
            21,
            "reactor-area",
            2,
            "FM-COOLING-LOSS",
            "Coolant pump trip on R-401",
            "standby pump started, feed stopped",
            0.7,
        ),
        (
            17,
            "tank-area-B",
            1,
            "FM-LEAK-FLANGE",
            "LPG flange gasket leak at T-201 outlet",
            "isolated, gasket replaced",
            3.0,
        ),
        (
            12,
            "tank-area-A",
            3,
            "FM-LEAK-CORROSION",
            "Pinhole corrosion on T-101 drain line",
            "line section replaced",
            20.0,
        ),
        (8, "lpg-filling", 4, "FM-EQUIPMENT", "Filling scale compressor vibration", "bearing replaced", 30.0),
        (4, "reactor-area", 3, "FM-COOLING-LOSS", "Jacket valve stuck", "valve actuator replaced", 6.0),
        (1, "tank-area-B", 4, UNCLASSIFIED_MODE, "Detector drift at TD-B03", "recalibrated", 50.0),
    ]
    now = now_us()
    with platform.engine.begin() as conn:
        for number, (days_ago, unit, level, mode, title, measures, hours) in enumerate(incidents, start=1):
            if unit not in units:
                continue
            unit_id, enterprise_id, unit_type = units[unit]
            opened = now - days_ago * 86_400_000_000
            closed = opened + int(hours * 3600 * 1_000_000)
            warning_id = str(uuid.uuid4())
            conn.execute(
                safety_warnings.insert().values(
                    id=warning_id,
                    tenant_id=tenant_id,
                    number=number,
                    enterprise_id=enterprise_id,
                    unit_id=unit_id,
                    level=level,
                    condition_level=None,
                    status="closed",
                    reasons=[],
                    assignee="shift-lead@demo.example.cn",
                    open_key=None,
                    opened_at=opened,
                    level_since=opened,
                    updated_at=closed,
                    closed_at=closed,
                    closed_by="shift-lead@demo.example.cn",
                    failure_mode=mode,
                    cause=title,
                    evidence={"summary": title, "measures": measures, "attachments": []},
                )
            )
            for at, kind, note in ((opened, "opened", ""), (closed, "close", title)):
                conn.execute(
                    safety_warning_events.insert().values(
                        warning_id=warning_id,
                        at=at,
                        actor="system:demo",
                        kind=kind,
                        level=level,
                        note=note,
                        details={},
                    )
                )
            conn.execute(
                safety_failures.insert().values(
                    id=str(uuid.uuid4()),
                    tenant_id=tenant_id,
                    unit_id=unit_id,
                    unit_type=unit_type,
                    mode=mode,
                    title=title,
                    source="warning",
                    source_ref=warning_id,
                    occurred_at=opened,
                    closed_at=closed,
                    peak_level=level,
                    cause=title,
                    actions=measures,
                    features=[],
                    created_at=now,
                )
            )


class SafetySite:
    """Registers the site, then feeds its instruments once a second (after half an hour of history)."""

    def __init__(
        self, platform: Platform, principal: Principal, base_url: str, stop: threading.Event
    ) -> None:
        self.platform = platform
        self.principal = principal
        self.base_url = base_url
        self.stop = stop
        start = now_us() - BACKFILL_S * 1_000_000
        self.farm = TankFarm(seed=11, start_ts_us=start)
        schedule(self.farm, now_us())
        tokens = _tokens(platform, principal, self.farm)
        load_site(platform, principal, site_document(self.farm))
        _history(platform, principal.tenant_id)
        self.devices = [
            SimulatedDevice(d.name, d.type_name, tokens[d.name], self.farm.simulator(d.name))
            for d in self.farm.devices()
        ]
        self._start = start
        self._thread: threading.Thread | None = None

    def start(self) -> SafetySite:
        self._thread = threading.Thread(target=self._run, name="safety-site", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=30) as client:
                self._backfill(client)
        except httpx.HTTPError:
            log.exception("safety site backfill failed; live data continues")
        run_simulators(self.base_url, self.devices, period_s=1.0, stop=self.stop)

    def _backfill(self, client: httpx.Client) -> None:
        """Half an hour of the site, in time order (the devices share one model)."""
        records: dict[str, list[dict[str, Any]]] = {d.name: [] for d in self.devices}
        for step in range(BACKFILL_S):
            ts = self._start + step * 1_000_000
            for device in self.devices:
                records[device.name].append(
                    {"device": device.name, "ts": ts // US_PER_MS, "values": device.model.step(ts)}
                )
        for device in self.devices:
            rows = records[device.name]
            for first in range(0, len(rows), BACKFILL_BATCH):
                if self.stop.is_set():
                    return
                client.post(
                    f"{self.base_url}/api/telemetry",
                    json={"records": rows[first : first + BACKFILL_BATCH]},
                    headers={"Authorization": f"Bearer {device.token}"},
                ).raise_for_status()
