"""``indunet demo``: a tenant, a login and simulated machines streaming into a running server.

Everything goes through the public API, as a real plant would: the simulators post telemetry with
their own device tokens, and a shop floor of real Modbus, OPC UA and S7 servers reaches the platform
through an edge gateway over the device MQTT endpoint (``demo_edge``). The login is generated once and kept in the data directory, so a second
``make demo`` shows the same credentials and the history recorded so far.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from sqlalchemy import insert, select

from indunet import demo_edge, demo_idr, demo_phm, demo_safety
from indunet.core.config import Settings
from indunet.core.errors import IndunetError, NotFound
from indunet.core.i18n import cli_language, translate
from indunet.core.timeutil import now_us
from indunet.ledger.watch import PlatformReport, Watch
from indunet.ledger.witness import SplitView, Witness
from indunet.platform import accounts, devices, identifiers, rules, tenants
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.security.crypto import keys
from indunet.sim import CncMachine, FlowMeter, SimulatedDevice, run_simulators, shifts
from indunet.sim.carriers import CarrierFleet
from indunet.store.device_days import device_days
from indunet.store.metadata import devices as devices_table
from indunet.transport.mqtt import MqttThread
from indunet.web.app import create_app

log = logging.getLogger(__name__)

TENANT = "demo"
EMAIL = "admin@demo.local"
BACKFILL_S = 3600
BACKFILL_BATCH = 300
CARRIERS = 5
"""Products of the demo that carry an active identifier carrier."""
MACHINES: tuple[tuple[str, str, dict[str, str], dict[str, Any]], ...] = (
    (
        "cnc-01",
        "cnc_machine_tool",
        {"line": "A", "cell": "milling"},
        {"site": "Suzhou plant", "area": "Hall 1"},
    ),
    (
        "cnc-02",
        "cnc_machine_tool",
        {"line": "A", "cell": "turning"},
        {"site": "Suzhou plant", "area": "Hall 1"},
    ),
    (
        "flow-01",
        "flow_pressure_instrument",
        {"line": "utilities", "medium": "cooling water"},
        {"site": "Suzhou plant", "area": "Pump house"},
    ),
    (
        "flow-02",
        "flow_pressure_instrument",
        {"line": "utilities", "medium": "compressed air"},
        {"site": "Suzhou plant", "area": "Pump house"},
    ),
)


# Heavy cuts push the simulated spindle past 40 % load for a while: the demo shows alarms come and go.
DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {
        "name": "Spindle load high",
        "description": "Spindle load above 40 % for 5 s; clears below 35 %.",
        "type": "cnc_machine_tool",
        "severity": "major",
        "condition": {"kind": "threshold", "point": "spindle_load", "high": 40, "hysteresis": 5, "for_s": 5},
    },
    {
        "name": "Ledger split view",
        "description": "The allocation ledger showed its witness two histories: someone rewrote it.",
        "type": "ledger_witness",
        "severity": "critical",
        "condition": {"kind": "threshold", "point": "split_view", "high": 0.5},
    },
    {
        "name": "Ledger witness silent",
        "description": "No check of the allocation ledger for 3 minutes.",
        "type": "ledger_witness",
        "severity": "major",
        "condition": {"kind": "no_data", "point": "ledger_size", "timeout_s": 180},
    },
)
WITNESS = "ledger-witness-1"
WITNESS_EVERY_S = 30.0


def _default_rules(platform: Platform, principal: Principal) -> None:
    existing = {r["name"] for r in rules.list_rules(platform, principal, 1000, 0)[0]}
    for document in DEFAULT_RULES:
        if document["name"] not in existing:
            rules.create_rule(platform, principal, rules.parse_spec(document))


def _login(platform: Platform, principal: Principal) -> tuple[str, str]:
    path = platform.settings.data_dir / "demo-login.json"
    if path.exists():
        saved = json.loads(path.read_text())
        return str(saved["email"]), str(saved["password"])
    password = secrets.token_urlsafe(12)
    accounts.add_user(platform, principal, EMAIL, password, "admin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"email": EMAIL, "password": password}, handle)
    return EMAIL, password


def _device_token(
    platform: Platform, principal: Principal, name: str, type_name: str, labels: dict[str, str], area: str
) -> str:
    """A fresh token of the named device, created on the first run."""
    try:
        ref = devices.resolve(platform, principal.tenant_id, name)
        return devices.rotate_token(platform, principal, ref.id)
    except NotFound:
        location = {"site": "Suzhou plant", "area": area}
        return str(devices.create_device(platform, principal, name, type_name, labels, location)["token"])


def _witness(
    platform: Platform, principal: Principal, federation: demo_idr.IdentifierFederation, base_url: str
) -> Watch:
    """A witness of the top-level node's ledger, reporting to the platform as a device."""
    token = _device_token(platform, principal, WITNESS, "ledger_witness", {"role": "witness"}, "Server room")
    data_dir = platform.settings.data_dir
    client = httpx.Client(timeout=10)
    witness = Witness(keys.own_key(data_dir / "demo-witness-key.pem"), data_dir / "demo-witness.json")
    report = PlatformReport(base_url, token, client)
    return Watch(
        witness, federation.ledger_url, client, federation.ledger_did, report=report, audit_entries=True
    )


def _watch(watch: Watch, stop: threading.Event) -> None:
    try:
        watch.run(WITNESS_EVERY_S, stop)
    except SplitView as split:
        log.error("ledger split view: %s (evidence in %s)", split.reason, split.evidence_path)
    finally:
        watch.client.close()


def _indices_history(platform: Platform, tenant_id: str) -> None:
    """A year of device days before today for the demo's machines (once): the Indices page has
    months to compare from the start; today's days come from the machines' own telemetry."""
    zone = ZoneInfo(platform.settings.indices_timezone)
    today = datetime.now(zone).date()
    with platform.engine.connect() as conn:
        if conn.execute(
            select(device_days.c.day).where(device_days.c.tenant_id == tenant_id).limit(1)
        ).first():
            return
        machines = conn.execute(
            select(devices_table.c.id, devices_table.c.name, devices_table.c.type_name).where(
                devices_table.c.tenant_id == tenant_id,
                devices_table.c.type_name.in_(["cnc_machine_tool", "centrifugal_pump"]),
            )
        ).all()
    first = today.replace(year=today.year - 1, day=1)
    rows = []
    for n, machine in enumerate(machines):
        counted = machine.type_name == "cnc_machine_tool"
        for row in shifts.device_days(
            machine.name, first, today - timedelta(days=1), base_hours=9.0 + n % 3, counted=counted
        ):
            rows.append({**row, "device_id": machine.id, "tenant_id": tenant_id, "updated_at": now_us()})
    if rows:
        with platform.engine.begin() as conn:
            conn.execute(insert(device_days), rows)


def prepare(platform: Platform) -> tuple[str, str, list[SimulatedDevice]]:
    """Tenant, admin login and the simulated devices with fresh tokens (idempotent)."""
    try:
        tenant = tenants.get_tenant_by_name(platform, TENANT)
    except NotFound:
        tenant = tenants.create_tenant(platform, TENANT, "Demo Manufacturing Co. 演示制造有限公司")
    principal = Principal.system(tenant["id"], label="system:demo")
    email, password = _login(platform, principal)
    simulated: list[SimulatedDevice] = []
    for seed, (name, type_name, labels, location) in enumerate(MACHINES, start=1):
        try:
            ref = devices.resolve(platform, tenant["id"], name)
            token = devices.rotate_token(platform, principal, ref.id)
        except NotFound:
            token = devices.create_device(platform, principal, name, type_name, labels, location)["token"]
        model = CncMachine(seed) if type_name == "cnc_machine_tool" else FlowMeter(seed)
        simulated.append(SimulatedDevice(name, type_name, token, model))
    _default_rules(platform, principal)
    return email, password, simulated


def backfill(client: httpx.Client, base_url: str, simulated: list[SimulatedDevice]) -> None:
    """The last hour, so charts have a history the moment the console opens and the spindle detector
    (demo_phm) has healthy running to learn from."""
    start = now_us() - BACKFILL_S * 1_000_000
    for device in simulated:
        records = []
        for step in range(BACKFILL_S):
            ts = start + step * 1_000_000
            records.append({"device": device.name, "ts": ts // 1000, "values": device.model.step(ts)})
        for first in range(0, len(records), BACKFILL_BATCH):
            response = client.post(
                f"{base_url}/api/telemetry",
                json={"records": records[first : first + BACKFILL_BATCH]},
                headers={"Authorization": f"Bearer {device.token}"},
            )
            response.raise_for_status()


def _start_mqtt(platform: Platform) -> MqttThread:
    """The device MQTT endpoint; on another port when the configured one is taken (by a broker)."""
    mqtt = MqttThread(platform, "127.0.0.1", platform.settings.mqtt_port or 0)
    try:
        return mqtt.start()
    except OSError:
        mqtt.stop()
        return MqttThread(platform, "127.0.0.1", 0).start()


def identify_devices(platform: Platform, principal: Principal, console_url: str) -> int:
    """Give every device of the tenant without one its identifier; how many were given."""
    given = 0
    for device in devices.list_devices(platform, principal, devices.DeviceQuery(limit=1000))[0]:
        if identifiers.IDENTIFIER_LABEL in (device.get("labels") or {}):
            continue
        try:
            identifiers.identify_device(platform, principal, device["id"], console_url)
            given += 1
        except Exception:  # one device's refusal must not stop the others
            log.exception("could not register an identifier for %s", device["name"])
    return given


def _start_identifiers(platform: Platform) -> demo_idr.IdentifierFederation | None:
    if platform.identifiers is None:
        return None
    assert platform.identifiers.carriers is not None  # the installation's prefix key
    federation = demo_idr.IdentifierFederation(
        platform.identifiers.store, platform.settings.data_dir, platform.identifiers.carriers.key.public_key()
    ).start()
    platform.identifiers.resolver = federation.resolver
    platform.identifiers.nodes = federation.nodes
    return federation


def run_demo(settings: Settings, log_level: str = "info") -> int:
    if not settings.idr_prefix:
        # The demo federation certifies the installation's key: its records are signed as written.
        settings = settings.model_copy(update={"idr_prefix": demo_idr.ENTERPRISE, "idr_sign_records": True})
    platform = Platform(settings)
    email, password, simulated = prepare(platform)
    tenant = tenants.get_tenant_by_name(platform, TENANT)
    principal = Principal.system(tenant["id"], label="system:demo")
    gateway_token = _device_token(
        platform, principal, demo_edge.GATEWAY, "edge_gateway", {"line": "utilities"}, "Hall 1, cabinet E3"
    )
    mqtt = _start_mqtt(platform)
    shop_floor = demo_edge.ShopFloor(gateway_token, mqtt.port, settings.data_dir).start()
    federation = _start_identifiers(platform)
    base_url = f"http://{settings.host}:{settings.port}"
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(platform),
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            access_log=False,
        )
    )
    stop = threading.Event()
    stop_timers: list[threading.Timer] = []
    fleets: list[CarrierFleet] = []

    def feed() -> None:
        while not server.started and not stop.is_set():
            time.sleep(0.1)
        with httpx.Client(timeout=30) as client:
            try:
                backfill(client, base_url, simulated)
                demo_phm.watch_spindle(platform, principal, simulated)
            except httpx.HTTPError:
                log.exception("demo backfill failed; live data continues")
        if federation is not None and platform.identifiers is not None:
            identify_devices(platform, principal, base_url)
            machines = [f"{demo_idr.ENTERPRISE}/{TENANT}/{m}" for m in ("cnc-01", "cnc-02", demo_edge.CNC)]
            demo_idr.register_products(platform.identifiers.store, machines)
            if platform.identifiers.carriers is not None and not stop.is_set():
                # The first products carry active identifier carriers that report every 5 s.
                products = [f"{demo_idr.ENTERPRISE}/P-2026-{n:06d}" for n in range(1, CARRIERS + 1)]
                fleets.append(CarrierFleet(platform.identifiers.carriers, products).start())
        _indices_history(platform, tenant["id"])
        demo_phm.PumpFleet(platform, principal, stop).start()
        try:
            demo_safety.SafetySite(platform, principal, base_url, stop).start()
        except IndunetError:
            log.exception("demo safety site not set up; the rest of the demo continues")
        print(
            translate("cli.demo_ready", cli_language(), url=f"{base_url}/", email=email, password=password),
            flush=True,
        )
        print(
            translate(
                "cli.demo_shop_floor",
                cli_language(),
                gateway=demo_edge.GATEWAY,
                mqtt=f"mqtt://127.0.0.1:{mqtt.port}",
            ),
            flush=True,
        )
        print(
            translate(
                "cli.demo_phm",
                cli_language(),
                pumps=demo_phm.PUMPS,
                seconds=demo_phm.HOUR_S,
                url=f"{base_url}/#/maintenance",
            ),
            flush=True,
        )
        print(translate("cli.demo_safety", cli_language(), url=f"{base_url}/#/safety"), flush=True)
        if federation is not None:
            print(
                translate(
                    "cli.demo_identifiers",
                    cli_language(),
                    resolver=str(federation.resolver),
                    example=f"{demo_idr.ENTERPRISE}/{TENANT}/cnc-01",
                ),
                flush=True,
            )
            print(
                translate(
                    "cli.demo_signed",
                    cli_language(),
                    resolver=str(federation.resolver),
                    example=f"{demo_idr.ENTERPRISE}/{TENANT}/cnc-01",
                    anchor=federation.anchor,
                ),
                flush=True,
            )
            print(
                translate(
                    "cli.demo_ledger", cli_language(), url=federation.ledger_url, log=federation.ledger_did
                ),
                flush=True,
            )
            witness = threading.Thread(
                target=_watch, args=(_witness(platform, principal, federation, base_url), stop), daemon=True
            )
            witness.start()
            # Devices behind the gateway appear when it first reports them: identify them then too.
            later = threading.Timer(20.0, identify_devices, (platform, principal, base_url))
            later.daemon = True
            stop_timers.append(later)
            later.start()
        run_simulators(base_url, simulated, period_s=1.0, stop=stop)

    feeder = threading.Thread(target=feed, name="simulators", daemon=True)
    feeder.start()
    try:
        server.run()
    finally:
        stop.set()
        for timer in stop_timers:
            timer.cancel()
        for fleet in fleets:
            fleet.stop()
        feeder.join(timeout=5)
        shop_floor.stop()
        if federation is not None:
            federation.stop()
        mqtt.stop()
        platform.close()
    return 0
