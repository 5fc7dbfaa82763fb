"""An OPC UA server simulating CNC machine tools, with an address space after OPC 40501-1.

Theory of operation. Each machine is a ``CncProcess``: the ``CncMachine`` simulator plus operator
commands (start/stop program, overrides, alarm and counter reset) and injected faults. The server
publishes it under ``Objects/Machines/<name>`` with the browse names of OPC UA for Machine Tools
(Identification, Monitoring, Production, Equipment, Notification); the companion nodesets cannot be
loaded offline, so every node lives in this simulator's own namespace (index 2) and only the
structure and names are mimicked. Each model point of ``cnc_machine_tool`` is one variable:

    Monitoring/Spindle/ActualSpeed   AnalogUnitRangeType, Double, EngineeringUnits rpm, EURange 0..24000
    Monitoring/Spindle/Override      writable: a client write changes the simulated override
    Production/ActiveProgram/State   ...                     (``VARIABLES`` lists them all)

A tick every ``period_s`` steps every process and writes the values that changed, stamped with the
tick as SourceTimestamp, so subscriptions see data changes. Before a tick overwrites them, the
writable overrides are compared with what the server last published: a difference is a client
write and goes to the machine. Methods on ``Production`` (Start, Stop, SetSpindleOverride, ...)
call the process directly.

Security: with a certificate directory the server offers Basic256Sha256 Sign and SignAndEncrypt
next to None (key and self-signed certificate are made on first start); with ``users`` it asks
for a user name and password, and admits anonymous clients only when ``allow_anonymous`` is set.
Client certificates are not checked against a trust list: this is a simulator.

Faults (``--fault NAME[=VALUE]`` or ``CncOpcUaServer.inject``):

    bearing_wear[=C_PER_MIN]  spindle temperature rises by C_PER_MIN (default 2) per minute, load with it
    sensor_drift[=PER_MIN]    the coolant temperature reading drifts by PER_MIN (default 0.5) per minute
    stuck[=POINT]             POINT (default spindle_speed) freezes at its current value
    comm_drop[=SECONDS]       for SECONDS (default 10) open connections go silent, new ones are refused
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import logging
import socket
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from asyncua import ua
from asyncua.common.node import Node
from asyncua.crypto import cert_gen
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.internal_server import InternalServer
from asyncua.server.server import Server
from asyncua.server.user_managers import UserManager
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from cryptography.x509.oid import ExtendedKeyUsageOID

from indunet.sim.cnc import PROGRAMS, CncMachine, Value
from indunet.sim.signals import clamp

logger = logging.getLogger(__name__)
T = TypeVar("T")

NAMESPACE_URI = "urn:indunet:sim:opcua-cnc"
APPLICATION_URI = "urn:indunet:sim:opcua-cnc:server"
NS = 2  # the first namespace a server registers after the two standard ones
DEFAULT_PERIOD_S = 0.25
MAX_MACHINES = 500
FAULTS = ("bearing_wear", "sensor_drift", "stuck", "comm_drop")
DEFAULT_COMM_DROP_S = 10.0
MAX_COMM_DROP_S = 3600.0


@dataclass(frozen=True)
class VariableDef:
    """One variable under a machine: the model point it carries (None for derived/static ones)."""

    point: str | None
    path: tuple[str, ...]
    vtype: ua.VariantType
    unit: str | None = None
    eu_range: tuple[float, float] | None = None
    writable: bool = False


_D = ua.VariantType.Double
VARIABLES: tuple[VariableDef, ...] = (
    VariableDef("operation_mode", ("Monitoring", "MachineTool", "OperationMode"), ua.VariantType.String),
    VariableDef(None, ("Monitoring", "MachineTool", "PowerOn"), ua.VariantType.Boolean),
    VariableDef(None, ("Monitoring", "Spindle", "IsRotating"), ua.VariantType.Boolean),
    VariableDef("spindle_speed", ("Monitoring", "Spindle", "ActualSpeed"), _D, "rpm", (0, 24000)),
    VariableDef("spindle_speed_setpoint", ("Monitoring", "Spindle", "CommandedSpeed"), _D, "rpm", (0, 24000)),
    VariableDef("spindle_override", ("Monitoring", "Spindle", "Override"), _D, "%", (50, 120), True),
    VariableDef("spindle_load", ("Monitoring", "Spindle", "Load"), _D, "%", (0, 200)),
    VariableDef("spindle_temperature", ("Monitoring", "Spindle", "Temperature"), _D, "degC", (-20, 120)),
    VariableDef("feed_rate", ("Monitoring", "Channel", "ActualFeedrate"), _D, "mm/min", (0, 30000)),
    VariableDef("feed_override", ("Monitoring", "Channel", "FeedOverride"), _D, "%", (0, 150), True),
    VariableDef("axis_x_position", ("Monitoring", "X", "ActualPosition"), _D, "mm", (0, 800)),
    VariableDef("axis_y_position", ("Monitoring", "Y", "ActualPosition"), _D, "mm", (0, 500)),
    VariableDef("axis_z_position", ("Monitoring", "Z", "ActualPosition"), _D, "mm", (-500, 0)),
    VariableDef("power_active", ("Monitoring", "Energy", "ActivePower"), _D, "kW", (0, 80)),
    VariableDef("energy_total", ("Monitoring", "Energy", "ActiveEnergy"), _D, "kW.h", (0, 1e9)),
    VariableDef("coolant_temperature", ("Monitoring", "Coolant", "Temperature"), _D, "degC", (-20, 80)),
    VariableDef("program_name", ("Production", "ActiveProgram", "Name"), ua.VariantType.String),
    VariableDef("program_state", ("Production", "ActiveProgram", "State"), ua.VariantType.String),
    VariableDef("part_count", ("Production", "ActiveProgram", "PartsProduced"), ua.VariantType.UInt32),
    VariableDef("cycle_time", ("Production", "ActiveProgram", "LastCycleTime"), _D, "s", (0, 86400)),
    VariableDef(
        "tool_number", ("Equipment", "Tools", "ActiveTool", "ControlIdentifier1"), ua.VariantType.UInt32
    ),
    VariableDef(
        "tool_life_remaining", ("Equipment", "Tools", "ActiveTool", "RemainingLife"), _D, "%", (0, 100)
    ),
    VariableDef("alarm_active", ("Notification", "Messages", "AlarmActive"), ua.VariantType.Boolean),
    VariableDef("alarm_code", ("Notification", "Messages", "AlarmCode"), ua.VariantType.UInt32),
)
_BY_POINT = {v.point: v for v in VARIABLES if v.point is not None}

# (browse name, model command, input arguments as (name, variant type))
METHODS: tuple[tuple[str, str, tuple[tuple[str, ua.VariantType], ...]], ...] = (
    ("Start", "start_program", (("ProgramName", ua.VariantType.String),)),
    ("Stop", "stop_program", ()),
    ("SetFeedOverride", "set_feed_override", (("Percent", ua.VariantType.Double),)),
    ("SetSpindleOverride", "set_spindle_override", (("Percent", ua.VariantType.Double),)),
    ("ResetAlarms", "reset_alarms", ()),
    ("ResetPartCount", "reset_part_count", (("Value", ua.VariantType.UInt32),)),
)

# UNECE Rec. 20 common codes, which OPC UA packs into EUInformation.UnitId.
_UNECE = {"rpm": "RPM", "%": "P1", "degC": "CEL", "mm": "MMT", "mm/min": "H81", "kW": "KWT", "kW.h": "KWH"}
_UNECE["s"] = "SEC"


def machine_names(count: int) -> list[str]:
    return [f"CNC-{i}" for i in range(1, count + 1)]


def node_id(machine: str, path: Sequence[str]) -> str:
    return f"ns={NS};s={machine}." + ".".join(path)


def point_node_id(machine: str, point: str) -> str:
    """The NodeId string of a model point's variable, e.g. ``ns=2;s=CNC-1.Monitoring.Spindle.Override``."""
    return node_id(machine, _BY_POINT[point].path)


def point_browse_path(machine: str, point: str) -> str:
    """The browse path of a model point's variable from the Objects folder."""
    parts = ["Objects", f"{NS}:Machines", f"{NS}:{machine}"] + [f"{NS}:{p}" for p in _BY_POINT[point].path]
    return "/" + "/".join(parts)


def gateway_points(machine: str) -> list[dict[str, Any]]:
    """Point entries for a gateway configuration of this machine (driver ``opcua``)."""
    return [
        {"point": v.point, "node": node_id(machine, v.path), "type": _type_name(v.vtype)}
        for v in VARIABLES
        if v.point is not None
    ]


def gateway_commands(machine: str) -> dict[str, dict[str, Any]]:
    """The ``commands`` section of a gateway configuration: model command -> object, method and args."""
    obj = node_id(machine, ("Production",))
    return {
        command: {
            "object": obj,
            "method": node_id(machine, ("Production", name)),
            "args": [_snake(arg) for arg, _ in args],
        }
        for name, command, args in METHODS
    }


def _snake(name: str) -> str:
    return {"ProgramName": "program_name", "Percent": "percent", "Value": "value"}[name]


def _type_name(vtype: ua.VariantType) -> str:
    if vtype is ua.VariantType.Boolean:
        return "bool"
    if vtype in (ua.VariantType.UInt32, ua.VariantType.Int32, ua.VariantType.UInt16):
        return "int"
    if vtype is ua.VariantType.String:
        return "string"
    return "float"


# --- the simulated process -------------------------------------------------------------------------


def parse_fault(text: str) -> tuple[str, str | None]:
    """``NAME[=VALUE]`` -> (name, value); ValueError for unknown faults."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    return name, (value.strip() if sep else None)


@dataclass
class _Active:
    value: str | None
    since_us: int | None = None
    frozen: Value | None = None


class CncProcess:
    """One machine: the CNC simulator plus operator commands and faults. Deterministic per seed."""

    def __init__(self, seed: int) -> None:
        self.machine = CncMachine(seed)
        self.stopped = False
        self.faults: dict[str, _Active] = {}
        self.last: dict[str, Value] = {}

    # --- commands ----------------------------------------------------------------------------

    def start_program(self, program_name: str) -> None:
        if program_name not in PROGRAMS:
            raise ValueError(f"unknown program {program_name!r}; known: {', '.join(sorted(PROGRAMS))}")
        m = self.machine
        m.program_name = program_name
        m.operations = PROGRAMS[program_name]
        for op in m.operations:
            m.tool_life.setdefault(op.tool, 100.0)
        m.op_index = 0
        m.cycle_elapsed = 0.0
        m.alarm_code = 0
        self.stopped = False
        m._enter("tool_change")

    def stop_program(self) -> None:
        # A state CncMachine does not know: it neither advances nor cuts, so the spindle runs down.
        self.stopped = True
        self.machine._enter("stopped")

    def set_spindle_override(self, percent: float) -> None:
        self.machine.spindle_override = _in_range("spindle override", percent, 50.0, 120.0)

    def set_feed_override(self, percent: float) -> None:
        self.machine.feed_override = _in_range("feed override", percent, 0.0, 150.0)

    def reset_alarms(self) -> None:
        if self.machine.state == "alarm":
            self.machine.alarm_code = 0
            self.machine._enter("cutting")

    def reset_part_count(self, value: int = 0) -> None:
        if not 0 <= value <= 1_000_000_000:
            raise ValueError(f"part count {value} out of range 0..1000000000")
        self.machine.part_count = value

    # --- faults ------------------------------------------------------------------------------

    def inject(self, name: str, value: str | None = None) -> None:
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}")
        if name == "stuck" and value is not None and value not in _BY_POINT:
            raise ValueError(f"stuck: unknown point {value!r}")
        if name in ("bearing_wear", "sensor_drift") and value is not None:
            float(value)  # fail now, not at the next step
        self.faults[name] = _Active(value)

    def clear(self, name: str) -> None:
        self.faults.pop(name, None)

    def step(self, ts_us: int) -> dict[str, Value]:
        values = self.machine.step(ts_us)
        if self.stopped:
            values["program_state"] = "Aborted"
        self._apply_faults(values, ts_us)
        self.last = values
        return values

    def _apply_faults(self, values: dict[str, Value], ts_us: int) -> None:
        for name, fault in self.faults.items():
            if fault.since_us is None:
                fault.since_us = ts_us
            minutes = (ts_us - fault.since_us) / 60e6
            if name == "bearing_wear":
                rise = min(60.0, float(fault.value or 2.0) * minutes)
                values["spindle_temperature"] = round(
                    clamp(float(values["spindle_temperature"]) + rise, -20.0, 120.0), 2
                )
                if float(values["spindle_speed"]) > 0:
                    load = float(values["spindle_load"]) + 0.3 * rise
                    values["spindle_load"] = round(clamp(load, 0.0, 200.0), 1)
            elif name == "sensor_drift":
                drifted = float(values["coolant_temperature"]) + float(fault.value or 0.5) * minutes
                values["coolant_temperature"] = round(clamp(drifted, -20.0, 80.0), 2)
            elif name == "stuck":
                point = fault.value or "spindle_speed"
                if fault.frozen is None:
                    fault.frozen = self.last.get(point, values[point])
                values[point] = fault.frozen


def _in_range(what: str, value: float, low: float, high: float) -> float:
    if not low <= value <= high:
        raise ValueError(f"{what} {value} out of range {low:g}..{high:g}")
    return float(value)


# --- certificates and users ---------------------------------------------------------------------


async def ensure_certificate(
    directory: Path, stem: str, application_uri: str, *, client: bool = False
) -> tuple[Path, Path]:
    """A self-signed OPC UA application certificate (DER) and its key (PEM) in ``directory``,
    made if missing or invalid. Returns (certificate, private key)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{stem}.der", directory / f"{stem}.pem"
    use = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    await cert_gen.setup_self_signed_certificate(
        key, cert, application_uri, socket.gethostname(), [use], {"organizationName": "indunet"}
    )
    return cert, key


class _Users(UserManager):
    def __init__(self, users: Mapping[str, str], allow_anonymous: bool) -> None:
        self.users = dict(users)
        self.allow_anonymous = allow_anonymous

    def get_user(
        self,
        iserver: InternalServer,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is None:
            return User(role=UserRole.User) if self.allow_anonymous else None
        expected = self.users.get(username)
        if expected is None or password is None or not _same(expected, password):
            return None
        return User(role=UserRole.User, name=username)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# --- the server ----------------------------------------------------------------------------------


@dataclass
class _MachineNodes:
    name: str
    process: CncProcess
    nodes: dict[str, ua.NodeId] = field(default_factory=dict)  # model point -> node
    derived: dict[tuple[str, ...], ua.NodeId] = field(default_factory=dict)
    published: dict[str, Value] = field(default_factory=dict)


class CncOpcUaServer:
    """An OPC UA server with ``machines`` simulated machine tools (``CNC-1`` ...)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        machines: int = 1,
        seed: int = 1,
        faults: Sequence[str] = (),
        cert_dir: Path | None = None,
        users: Mapping[str, str] | None = None,
        allow_anonymous: bool | None = None,
        period_s: float = DEFAULT_PERIOD_S,
    ) -> None:
        if not 1 <= machines <= MAX_MACHINES:
            raise ValueError(f"machines must be 1..{MAX_MACHINES}")
        if not 0.01 <= period_s <= 60:
            raise ValueError("period_s must be 0.01..60")
        self.host, self.port = host, port
        self.cert_dir = cert_dir
        self.users = dict(users or {})
        self.allow_anonymous = (not self.users) if allow_anonymous is None else allow_anonymous
        self.period_s = period_s
        self.machines = [
            _MachineNodes(n, CncProcess(seed + i)) for i, n in enumerate(machine_names(machines))
        ]
        self.server_certificate: Path | None = None
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._silent_until = 0.0
        self._dropper: asyncio.Task[None] | None = None
        self._ts_us = 0
        for text in faults:
            parse_fault(text)
        self._initial_faults = tuple(faults)

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}"

    @property
    def processes(self) -> list[CncProcess]:
        return [m.process for m in self.machines]

    def inject(self, fault: str, machine: int | None = None) -> None:
        """Inject ``NAME[=VALUE]`` into one machine (index) or all; comm_drop affects the whole server."""
        name, value = parse_fault(fault)
        if name == "comm_drop":
            seconds = DEFAULT_COMM_DROP_S if value is None else float(value)
            if not 0 < seconds <= MAX_COMM_DROP_S:
                raise ValueError(f"comm_drop: seconds must be in (0, {MAX_COMM_DROP_S:g}]")
            self._request_drop(seconds)
            return
        targets = self.processes if machine is None else [self.processes[machine]]
        for process in targets:
            process.inject(name, value)

    def clear(self, name: str) -> None:
        for process in self.processes:
            process.clear(name)

    async def start(self) -> None:
        server = Server(user_manager=_Users(self.users, self.allow_anonymous))
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("indunet CNC simulator")
        await server.set_application_uri(APPLICATION_URI)
        policies = [ua.SecurityPolicyType.NoSecurity]
        if self.cert_dir is not None:
            cert, key = await ensure_certificate(self.cert_dir, "server", APPLICATION_URI)
            await server.load_certificate(str(cert))
            await server.load_private_key(str(key))
            self.server_certificate = cert
            policies += [
                ua.SecurityPolicyType.Basic256Sha256_Sign,
                ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
            ]
        server.set_security_policy(policies)
        tokens: list[type] = [ua.UserNameIdentityToken] if self.users else []
        if self.allow_anonymous:
            tokens.append(ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        ns = await server.register_namespace(NAMESPACE_URI)
        assert ns == NS, ns
        folder = await server.nodes.objects.add_folder(_sid("Machines"), ua.QualifiedName("Machines", NS))
        for machine in self.machines:
            await self._build(server, folder, machine)
        self._tick()  # initial values before the first client reads
        for machine in self.machines:
            await self._publish(server, machine)
        await server.start()
        self._server = server
        self._ticker = asyncio.create_task(self._tick_loop())
        for text in self._initial_faults:
            self.inject(text)

    async def stop(self) -> None:
        for task in (self._ticker, self._dropper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._ticker = self._dropper = None
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    # --- address space -----------------------------------------------------------------------

    async def _build(self, server: Server, folder: Node, machine: _MachineNodes) -> None:
        name = machine.name
        root = await folder.add_object(_sid(name), ua.QualifiedName(name, NS))
        objects: dict[tuple[str, ...], Node] = {(): root}

        async def obj(path: tuple[str, ...]) -> Node:
            if path not in objects:
                parent = await obj(path[:-1])
                objects[path] = await parent.add_object(
                    _sid(f"{name}." + ".".join(path)), ua.QualifiedName(path[-1], NS)
                )
            return objects[path]

        ident = await obj(("Identification",))
        year = 2016 + machine.process.machine.rng.randint(0, 8)
        static: list[tuple[str, Any, ua.VariantType]] = [
            (
                "Manufacturer",
                ua.LocalizedText("indunet Werkzeugmaschinen", "en"),
                ua.VariantType.LocalizedText,
            ),
            ("Model", ua.LocalizedText("VMC 850", "en"), ua.VariantType.LocalizedText),
            ("SerialNumber", f"VMC850-{10000 + int(name.split('-')[1]):05d}", ua.VariantType.String),
            ("YearOfConstruction", year, ua.VariantType.UInt16),
            ("SoftwareRevision", "4.7.2", ua.VariantType.String),
            ("ProductInstanceUri", f"urn:indunet:machine:{name}", ua.VariantType.String),
        ]
        for bname, value, vtype in static:
            await ident.add_property(
                _sid(f"{name}.Identification.{bname}"),
                ua.QualifiedName(bname, NS),
                ua.Variant(value, vtype),
            )
        for v in VARIABLES:
            parent = await obj(v.path[:-1])
            nid = _sid(f"{name}." + ".".join(v.path))
            await _add_variable(parent, nid, v)
            if v.point is None:
                machine.derived[v.path] = nid
            else:
                machine.nodes[v.point] = nid
        production = await obj(("Production",))
        for bname, command, args in METHODS:
            inputs = [_argument(arg, vtype) for arg, vtype in args]
            await production.add_method(
                _sid(f"{name}.Production.{bname}"),
                ua.QualifiedName(bname, NS),
                self._method(machine.process, command),
                inputs,
                [],
            )

    def _method(self, process: CncProcess, command: str) -> Any:
        async def call(parent: ua.NodeId, *args: ua.Variant) -> list[ua.Variant] | ua.StatusCode:
            values = [a.Value for a in args]
            try:
                if command == "start_program":
                    process.start_program(str(values[0]))
                elif command == "stop_program":
                    process.stop_program()
                elif command == "set_feed_override":
                    process.set_feed_override(float(values[0]))
                elif command == "set_spindle_override":
                    process.set_spindle_override(float(values[0]))
                elif command == "reset_alarms":
                    process.reset_alarms()
                else:
                    process.reset_part_count(int(values[0]) if values else 0)
            except (ValueError, TypeError, IndexError) as exc:
                # A status, not an exception: asyncua reports raised exceptions as BadUnexpectedError.
                logger.info("method %s refused: %s", command, exc)
                return ua.StatusCode(_any(StatusCodes.BadInvalidArgument))
            return []

        return call

    # --- periodic update ---------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.period_s)
            server = self._server
            if server is None or loop.time() < self._silent_until:
                continue
            try:
                for machine in self.machines:
                    self._take_client_writes(server, machine)
                self._tick()
                for machine in self.machines:
                    await self._publish(server, machine)
            except Exception:  # one bad tick must not end the simulation
                logger.exception("simulator tick failed")

    def _take_client_writes(self, server: Server, machine: _MachineNodes) -> None:
        for point, apply in (
            ("spindle_override", machine.process.set_spindle_override),
            ("feed_override", machine.process.set_feed_override),
        ):
            current = server.read_attribute_value(machine.nodes[point]).Value
            value = None if current is None else current.Value
            if value is None or value == machine.published.get(point):
                continue
            try:
                apply(float(value))
            except (TypeError, ValueError) as exc:
                logger.info("write to %s ignored: %s", point, exc)
                # Forget what was published so the next tick puts the machine's value back.
                machine.published.pop(point, None)

    def _tick(self) -> None:
        ts_us = int(dt.datetime.now(dt.UTC).timestamp() * 1e6)
        self._ts_us = ts_us
        for machine in self.machines:
            machine.process.step(ts_us)

    async def _publish(self, server: Server, machine: _MachineNodes) -> None:
        ts = dt.datetime.fromtimestamp(self._ts_us / 1e6, dt.UTC)
        values = machine.process.last
        for point, nid in machine.nodes.items():
            value = values[point]
            if machine.published.get(point) == value and point in machine.published:
                continue
            variant = ua.Variant(value, _BY_POINT[point].vtype)
            await server.write_attribute_value(nid, _data_value(variant, ts))
            machine.published[point] = value
        derived = {
            ("Monitoring", "MachineTool", "PowerOn"): True,
            ("Monitoring", "Spindle", "IsRotating"): float(values["spindle_speed"]) > 0,
        }
        for path, flag in derived.items():
            await server.write_attribute_value(
                machine.derived[path],
                _data_value(ua.Variant(flag, ua.VariantType.Boolean), ts),
            )

    # --- comm_drop ---------------------------------------------------------------------------

    def _request_drop(self, seconds: float) -> None:
        if self._dropper is not None and not self._dropper.done():
            self._dropper.cancel()
        self._dropper = asyncio.get_running_loop().create_task(self._drop(seconds))

    async def _drop(self, seconds: float) -> None:
        server = self._server
        if server is None or server.bserver is None:
            return
        bserver = server.bserver
        loop = asyncio.get_running_loop()
        self._silent_until = loop.time() + seconds
        logger.warning("comm_drop: silent for %.1f s", seconds)
        silenced = list(server.iserver.asyncio_transports)
        for transport in silenced:
            if isinstance(transport, asyncio.ReadTransport):
                transport.pause_reading()
        listener = bserver._server
        if listener is not None:
            listener.close()
        if bserver.cleanup_task is not None:
            bserver.cleanup_task.cancel()
        try:
            await asyncio.sleep(seconds)
        finally:
            for transport in silenced:
                transport.close()
            if self._server is server:
                await bserver.start()
                logger.warning("comm_drop: answering again")


async def _add_variable(parent: Node, nid: ua.NodeId, v: VariableDef) -> None:
    initial: Any = {
        ua.VariantType.Boolean: False,
        ua.VariantType.String: "",
        ua.VariantType.UInt32: 0,
    }.get(v.vtype, 0.0)
    item = ua.AddNodesItem()
    item.RequestedNewNodeId = nid
    item.BrowseName = ua.QualifiedName(v.path[-1], NS)
    item.NodeClass = ua.NodeClass.Variable
    item.ParentNodeId = parent.nodeid
    item.ReferenceTypeId = _nid(ObjectIds.HasComponent)
    analog = v.unit is not None
    item.TypeDefinition = _nid(ObjectIds.AnalogUnitRangeType if analog else ObjectIds.BaseDataVariableType)
    attrs = ua.VariableAttributes()
    attrs.DisplayName = ua.LocalizedText(v.path[-1])
    attrs.Description = ua.LocalizedText(v.point.replace("_", " ") if v.point else v.path[-1])
    attrs.DataType = _nid(v.vtype.value)
    attrs.Value = ua.Variant(initial, v.vtype)
    attrs.ValueRank = ua.ValueRank.Scalar
    access = ua.AccessLevel.CurrentRead.mask
    if v.writable:
        access |= ua.AccessLevel.CurrentWrite.mask
    attrs.AccessLevel = attrs.UserAccessLevel = access
    attrs.MinimumSamplingInterval = 0.0
    item.NodeAttributes = attrs
    result = (await parent.session.add_nodes([item]))[0]
    result.StatusCode.check()
    node = Node(parent.session, result.AddedNodeId)
    if v.unit is not None:
        unit = ua.EUInformation()
        unit.NamespaceUri = "http://www.opcfoundation.org/UA/units/un/cefact"
        code = _UNECE.get(v.unit, "")
        unit.UnitId = int.from_bytes(code.encode().rjust(3, b"\0"), "big") if code else -1
        unit.DisplayName = ua.LocalizedText(v.unit)
        unit.Description = ua.LocalizedText(v.unit)
        await node.add_property(
            _sid(f"{nid.to_string().split(';s=', 1)[1]}.EngineeringUnits"),
            ua.QualifiedName("EngineeringUnits", 0),
            ua.Variant(unit, ua.VariantType.ExtensionObject),
            datatype=_nid(ObjectIds.EUInformation),
        )
    if v.eu_range is not None:
        await node.add_property(
            _sid(f"{nid.to_string().split(';s=', 1)[1]}.EURange"),
            ua.QualifiedName("EURange", 0),
            ua.Variant(ua.Range(*map(float, v.eu_range)), ua.VariantType.ExtensionObject),
            datatype=_nid(ObjectIds.Range),
        )


def _any(value: Any) -> Any:
    """asyncua annotates with NewTypes (Int32, UInt32 ...) that plain ints do not satisfy."""
    return value


def _nid(identifier: int) -> ua.NodeId:
    return ua.NodeId(_any(identifier), _any(0))


def _sid(identifier: str) -> ua.NodeId:
    return ua.NodeId(_any(identifier), _any(NS))


def _data_value(variant: ua.Variant, ts: dt.datetime) -> ua.DataValue:
    return ua.DataValue(variant, SourceTimestamp=_any(ts), ServerTimestamp=_any(ts))


def _argument(name: str, vtype: ua.VariantType) -> ua.Argument:
    arg = ua.Argument()
    arg.Name = name
    arg.DataType = _nid(vtype.value)
    arg.ValueRank = ua.ValueRank.Scalar
    arg.Description = ua.LocalizedText(name)
    return arg


async def serve(
    host: str,
    port: int,
    *,
    seed: int = 1,
    faults: Sequence[str] = (),
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    machines: int = 1,
    cert_dir: Path | None = None,
    users: Mapping[str, str] | None = None,
    allow_anonymous: bool | None = None,
    period_s: float = DEFAULT_PERIOD_S,
) -> None:
    """Run the simulator until ``stop`` is set (forever without one)."""
    server = CncOpcUaServer(
        host,
        port,
        machines=machines,
        seed=seed,
        faults=faults,
        cert_dir=cert_dir,
        users=users,
        allow_anonymous=allow_anonymous,
        period_s=period_s,
    )
    await server.start()
    try:
        if ready is not None:
            ready.set()
        await (stop or asyncio.Event()).wait()
    finally:
        await server.stop()


class ServerThread:
    """The simulator on its own event loop in a background thread, for tests and synchronous callers.

    ``run(coro)`` executes a coroutine on the server's loop (to inject faults, stop or restart it).
    """

    def __init__(self, server: CncOpcUaServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="opcua-cnc", daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self.run(self.server.start())
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def call(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the server's loop (inject(), which may create tasks)."""

        async def wrapper() -> T:
            return fn()

        return self.run(wrapper())
