"""A pump-station PLC on Modbus TCP: one unit id per centrifugal pump (``centrifugal_pump``).

Theory of operation. ``PumpStation`` holds ``units`` pumps (unit ids 1..units) and the register image
of each; ``step(dt_s)`` advances the process and rewrites the input registers, so tests step it
deterministically and ``serve`` steps it once per second of wall time. The pymodbus server answers
from the register image through ``_UnitContext`` (unmapped addresses give exception 02 ILLEGAL DATA
ADDRESS, unknown unit ids exception 0B GATEWAY TARGET FAILED TO RESPOND, as a TCP gateway in front
of serial pumps does). Writes land in the image and the next step acts on them.

Process. A variable-speed pump (rated 200 m3/h at 40 m head, 2960 rpm, 37 kW) works against a
system curve with static head 20 m; the operating point follows from pump curve = system curve,
scaled by the affinity laws (flow ~ n, head ~ n^2). Demand (valve positions) and the suction tank
level wander slowly. Speed ramps to the setpoint at 300 rpm/s when running. Bearing temperature is a
first-order lag towards a load-dependent value. Vibration is velocity RMS in mm/s; zone boundaries
after ISO 10816-7 (category I, up to 200 kW): A/B 2.5, B/C 4.0, C/D 6.6 mm/s. The pump raises an
alarm code in zone C or above 85 degC and trips (stops, latched until a fault reset) in zone D or
above 95 degC.

Register map of every unit (addresses are 0-based PDU addresses; "40001"-style manuals would add 1):

    input registers (FC 4), read only
      0-1   flow                  float32  m3/h          ABCD (big/big)
      2-3   discharge_pressure    float32  bar (gauge)   ABCD
      4-5   suction_pressure      float32  bar (gauge)   ABCD
      6-7   motor_current         float32  A             ABCD
      8-9   speed                 float32  rpm           ABCD
      10-11 bearing_temperature   float32  degC          ABCD
      12-13 vibration             float32  mm/s RMS      ABCD
      14    fault_code            uint16   0 none, 10 vibration alarm, 11 bearing temperature alarm,
                                           20 no flow (dead-heading or dry running),
                                           30 vibration trip, 31 bearing temperature trip
      15-16 operating_hours       float32  h             ABCD
      17-18 energy                uint32   kWh           CDAB (word_order: little)
      19-26 tag                   string   16 ASCII characters, NUL padded
    holding registers (FC 3, 6, 16)
      0     speed_setpoint        uint16   rpm, 0..3000 (larger values: exception 03 ILLEGAL DATA VALUE)
      1000-1099                   uint16   general-purpose memory, not used by the process
    coils (FC 1, 5, 15)
      0     running               run command: 1 run, 0 stop
      1     fault_reset           write 1 to clear a latched trip; reads back 0
    discrete inputs (FC 2)
      0     running_feedback      the motor is turning
      1     fault_active          fault_code is not 0

Faults (``PumpStation.inject`` or ``--fault NAME[=VALUE]``; pump faults hit unit 1 unless a unit is
given): ``bearing_wear[=SPEEDUP]`` vibration and bearing temperature rise over about two hours
divided by SPEEDUP; ``sensor_drift[=BAR_PER_H]`` discharge pressure drifts (default 0.5 bar/h);
``stuck[=S]`` flow freezes for S seconds (default: until cleared); ``comm_drop[=S]`` the whole
station swallows every request for S seconds (default 30), so clients time out.

Scale-out. ``serve(..., units=N)`` is one port with N unit ids; ``serve_many(host, ports, ...)`` is one
station (of ``units`` pumps) per port on one event loop and one process-wide 1 s ticker, which is how
the throughput benchmark gets 100 devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import struct
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pymodbus.datastore import ModbusBaseSlaveContext, ModbusServerContext
from pymodbus.exceptions import NoSuchSlaveException
from pymodbus.server import ModbusTcpServer

from indunet.sim.signals import FirstOrderLag, Ramp, RandomWalk, clamp, noise

logger = logging.getLogger(__name__)

MAX_UNITS = 247
MAX_STEP_S = 60.0
FAULTS = ("bearing_wear", "sensor_drift", "stuck", "comm_drop")
PUMP_FAULTS = ("bearing_wear", "sensor_drift", "stuck")

RATED_SPEED_RPM = 2960.0
MAX_SPEED_RPM = 3000
RATED_FLOW_M3H = 200.0
SHUTOFF_HEAD_M = 52.0
STATIC_HEAD_M = 20.0
PUMP_CURVE_A = (SHUTOFF_HEAD_M - 40.0) / RATED_FLOW_M3H**2
SYSTEM_CURVE_K = (40.0 - STATIC_HEAD_M) / RATED_FLOW_M3H**2
BAR_PER_M = 0.0981  # water at about 10 degC
AMBIENT_C = 25.0
ZONE_C_MM_S = 4.0
ZONE_D_MM_S = 6.6
TEMP_ALARM_C = 85.0
TEMP_TRIP_C = 95.0
WEAR_HOURS = 2.0

FAULT_NONE, VIB_ALARM, TEMP_ALARM, DRY_RUN, VIB_TRIP, TEMP_TRIP = 0, 10, 11, 20, 30, 31

IR_SIZE = 27
HR_SETPOINT = 0
HR_MEMORY = range(1000, 1100)
COIL_RUN, COIL_RESET = 0, 1
ILLEGAL_ADDRESS = 0x02
ILLEGAL_VALUE = 0x03
GATEWAY_NO_RESPONSE = 0x0B


@dataclass
class Pump:
    """One simulated centrifugal pump; ``step`` advances it and returns its process values."""

    rng: random.Random
    tag: str
    speed_setpoint: int = 2960
    run_command: bool = True
    wear: float = 0.0
    wear_speedup: float = 0.0
    drift_bar_per_h: float = 0.0
    drift_bar: float = 0.0
    stuck_s: float | None = None
    tripped: int = FAULT_NONE
    operating_hours: float = 0.0
    energy_kwh: float = 0.0
    values: dict[str, float | int | bool | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.demand = RandomWalk(self.rng, 1.0, 0.005, 0.6, 1.6, reversion_per_s=0.002)
        self.tank = RandomWalk(self.rng, 1.5, 0.003, 0.8, 2.2, reversion_per_s=0.001)
        self.speed = Ramp(300.0, float(self.speed_setpoint))
        self.bearing = FirstOrderLag(1200.0, self._bearing_target(1.0))
        self.operating_hours = self.rng.uniform(2_000.0, 30_000.0)
        self.energy_kwh = self.operating_hours * self.rng.uniform(20.0, 28.0)
        self.base_vibration = self.rng.uniform(1.2, 2.0)
        self.step(0.0)

    def step(self, dt: float) -> dict[str, float | int | bool | str]:
        dt = clamp(dt, 0.0, MAX_STEP_S)
        running = self.run_command and self.tripped == FAULT_NONE
        speed = self.speed.step(float(self.speed_setpoint) if running else 0.0, dt)
        s = speed / RATED_SPEED_RPM
        suction = self.tank.step(dt) + noise(self.rng, 0.01)
        k = SYSTEM_CURVE_K * self.demand.step(dt)
        head_available = SHUTOFF_HEAD_M * s * s - STATIC_HEAD_M
        flow = math.sqrt(head_available / (PUMP_CURVE_A + k)) if head_available > 0 else 0.0
        head = SHUTOFF_HEAD_M * s * s - PUMP_CURVE_A * flow * flow
        if s > 0.05:
            flow = max(0.0, flow + noise(self.rng, 0.4))
        if self.stuck_s is not None:
            flow = float(self.values.get("flow", flow))
            self.stuck_s -= dt
            if self.stuck_s <= 0:
                self.stuck_s = None

        efficiency = max(0.25, 0.78 - 0.5 * (flow / (RATED_FLOW_M3H * max(s, 0.05)) - 1.0) ** 2)
        shaft_kw = 1000.0 * 9.81 * (flow / 3600.0) * max(head, 0.0) / efficiency / 1000.0
        electric_kw = shaft_kw / 0.93 + (0.6 if s > 0.05 else 0.0)
        current = (electric_kw * 1000.0 / (math.sqrt(3.0) * 400.0 * 0.86) + 14.0 * s) if s > 0.01 else 0.0

        if self.wear_speedup > 0 and s > 0.05:
            self.wear = min(1.0, self.wear + self.wear_speedup * dt / (WEAR_HOURS * 3600.0))
        self.drift_bar += self.drift_bar_per_h * dt / 3600.0
        bearing = self.bearing.step(self._bearing_target(s), dt) + noise(self.rng, 0.05)
        # Unbalance and misalignment grow with speed squared; a worn bearing adds broadband energy.
        vibration = (self.base_vibration * s * s + 6.5 * self.wear * s) * (1.0 + noise(self.rng, 0.03))
        vibration = max(0.02, vibration + abs(noise(self.rng, 0.02)))

        if s > 0.05:
            self.operating_hours += dt / 3600.0
            self.energy_kwh += electric_kw * dt / 3600.0
        fault = self._fault_code(running, s, flow, vibration, bearing)
        discharge = suction + head * BAR_PER_M * (1.0 if s > 0.01 else 0.0) + self.drift_bar
        self.values = {
            "flow": round(flow, 2),
            "discharge_pressure": round(discharge + noise(self.rng, 0.01), 3),
            "suction_pressure": round(suction, 3),
            "motor_current": round(max(0.0, current + (noise(self.rng, 0.2) if s > 0.01 else 0.0)), 2),
            "speed": round(max(0.0, speed + (noise(self.rng, 1.0) if s > 0.01 else 0.0)), 1),
            "bearing_temperature": round(bearing, 2),
            "vibration": round(vibration, 3),
            "fault_code": fault,
            "operating_hours": round(self.operating_hours, 3),
            "energy": int(self.energy_kwh),
            "tag": self.tag,
            "running": self.run_command,
            "running_feedback": s > 0.01,
            "speed_setpoint": self.speed_setpoint,
        }
        return self.values

    def _bearing_target(self, s: float) -> float:
        return AMBIENT_C + 28.0 * s * s + 45.0 * self.wear * s

    def _fault_code(self, running: bool, s: float, flow: float, vibration: float, bearing: float) -> int:
        if self.tripped == FAULT_NONE and running:
            if vibration > ZONE_D_MM_S:
                self.tripped = VIB_TRIP
            elif bearing > TEMP_TRIP_C:
                self.tripped = TEMP_TRIP
        if self.tripped != FAULT_NONE:
            return self.tripped
        if vibration > ZONE_C_MM_S:
            return VIB_ALARM
        if bearing > TEMP_ALARM_C:
            return TEMP_ALARM
        if running and s > 0.5 and flow < 5.0:
            return DRY_RUN
        return FAULT_NONE

    def reset_fault(self) -> None:
        self.tripped = FAULT_NONE


NOT_MAPPED = frozenset(
    {
        "thrust_bearing_temperature",
        "oil_temperature",
        "ambient_temperature",
        "supply_voltage",
        "vibration_crest_factor",
        "vibration_kurtosis",
        "vibration_envelope_bpfo",
        "vibration_envelope_bpfi",
    }
)
"""Points of ``centrifugal_pump`` this station has no registers for: a larger pump's instruments, and
the waveform indicators (POST /api/telemetry/waveforms)."""
MODEL_POINTS = (
    "flow",
    "discharge_pressure",
    "suction_pressure",
    "motor_current",
    "speed",
    "bearing_temperature",
    "vibration",
    "fault_code",
    "operating_hours",
    "energy",
    "tag",
    "running",
    "speed_setpoint",
)


class CentrifugalPump:
    """One pump as a plain ``Simulator`` (``step(ts_us)`` -> the ``centrifugal_pump`` points), for the
    HTTP simulator runner and ``indunet.sim.registry``, without Modbus."""

    def __init__(self, seed: int) -> None:
        self.pump = Pump(random.Random(seed), "P-101")  # noqa: S311 - reproducible runs, not secrets
        self.last_ts_us: int | None = None

    def step(self, ts_us: int) -> dict[str, float | int | bool | str]:
        dt = 0.0 if self.last_ts_us is None else (ts_us - self.last_ts_us) / 1e6
        self.last_ts_us = ts_us
        values = self.pump.step(dt)
        return {name: values[name] for name in MODEL_POINTS}


class PumpStation:
    """The PLC: pumps on unit ids 1..``units`` and their register images."""

    def __init__(self, units: int = 1, seed: int = 1, tag_prefix: str = "P") -> None:
        if not 1 <= units <= MAX_UNITS:
            raise ValueError(f"units must be 1..{MAX_UNITS}")
        rng = random.Random(seed)  # noqa: S311 - reproducible runs, not secrets
        self.pumps = {
            u: Pump(random.Random(rng.getrandbits(64)), f"{tag_prefix}-{100 + u}")  # noqa: S311
            for u in range(1, units + 1)
        }
        self.input: dict[int, list[int]] = {u: [0] * IR_SIZE for u in self.pumps}
        self.holding: dict[int, dict[int, int]] = {
            u: {HR_SETPOINT: p.speed_setpoint} | dict.fromkeys(HR_MEMORY, 0) for u, p in self.pumps.items()
        }
        self.requests: Counter[tuple[int, int]] = Counter()
        """Requests that reached a pump, by (unit, function code); swallowed ones are not counted."""
        self.drop_until = 0.0
        for unit in self.pumps:
            self._publish(unit)

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    def step(self, dt_s: float = 1.0) -> None:
        for unit, pump in self.pumps.items():
            pump.speed_setpoint = self.holding[unit][HR_SETPOINT]
            pump.step(dt_s)
            self._publish(unit)

    def dropping(self) -> bool:
        return time.monotonic() < self.drop_until

    def inject(self, name: str, value: float | None = None, unit: int = 1) -> None:
        """Start a fault (see the module docstring); ValueError for an unknown fault or unit."""
        if name == "comm_drop":
            self.drop_until = time.monotonic() + (30.0 if value is None else value)
            return
        pump = self._pump(unit)
        if name == "bearing_wear":
            pump.wear_speedup = 1.0 if value is None else value
        elif name == "sensor_drift":
            pump.drift_bar_per_h = 0.5 if value is None else value
        elif name == "stuck":
            pump.stuck_s = math.inf if value is None else value
        else:
            raise ValueError(f"unknown fault {name!r} (have: {', '.join(FAULTS)})")

    def clear(self, name: str, unit: int = 1) -> None:
        """End a fault; accumulated wear and drift stay, as they would on a real machine."""
        if name == "comm_drop":
            self.drop_until = 0.0
            return
        pump = self._pump(unit)
        if name == "bearing_wear":
            pump.wear_speedup = 0.0
        elif name == "sensor_drift":
            pump.drift_bar_per_h = 0.0
        elif name == "stuck":
            pump.stuck_s = None
        else:
            raise ValueError(f"unknown fault {name!r} (have: {', '.join(FAULTS)})")

    def set_registers(self, unit: int, address: int, values: Sequence[int]) -> None:
        """Write holding registers directly (tests and demos)."""
        for i, v in enumerate(values):
            if address + i not in self.holding[unit]:
                raise ValueError(f"holding {address + i} is not mapped")
            self.holding[unit][address + i] = v & 0xFFFF

    # -- register image ------------------------------------------------------------------------

    def read(self, unit: int, fc: int, address: int, count: int) -> list[int] | list[bool] | int:
        """Values for a request, or a Modbus exception code."""
        if fc <= 4:  # writes are counted in ``write``; pymodbus reads back after some of them
            self.requests[unit, fc] += 1
        pump = self.pumps[unit]
        if fc in (1, 5, 15):
            if address + count > 2:
                return ILLEGAL_ADDRESS
            coils = [pump.run_command, False]
            return coils[address : address + count]
        if fc == 2:
            if address + count > 2:
                return ILLEGAL_ADDRESS
            bits = [bool(pump.values["running_feedback"]), pump.values["fault_code"] != FAULT_NONE]
            return bits[address : address + count]
        if fc == 4:
            if address + count > IR_SIZE:
                return ILLEGAL_ADDRESS
            return self.input[unit][address : address + count]
        holding = self.holding[unit]
        try:
            return [holding[a] for a in range(address, address + count)]
        except KeyError:
            return ILLEGAL_ADDRESS

    def write(self, unit: int, fc: int, address: int, values: Sequence[int | bool]) -> int | None:
        """Apply a write request; a Modbus exception code when refused."""
        self.requests[unit, fc] += 1
        pump = self.pumps[unit]
        if fc in (5, 15):
            if address + len(values) > 2:
                return ILLEGAL_ADDRESS
            for a, bit in enumerate(values, start=address):
                if a == COIL_RUN:
                    pump.run_command = bool(bit)
                elif bit:
                    pump.reset_fault()
            return None
        holding = self.holding[unit]
        if any(a not in holding for a in range(address, address + len(values))):
            return ILLEGAL_ADDRESS
        if address <= HR_SETPOINT < address + len(values) and values[HR_SETPOINT - address] > MAX_SPEED_RPM:
            return ILLEGAL_VALUE
        for a, v in enumerate(values, start=address):
            holding[a] = int(v) & 0xFFFF
        return None

    def _pump(self, unit: int) -> Pump:
        try:
            return self.pumps[unit]
        except KeyError:
            raise ValueError(f"no pump on unit {unit}") from None

    def _publish(self, unit: int) -> None:
        v = self.pumps[unit].values
        regs: list[int] = []
        for name in (
            "flow",
            "discharge_pressure",
            "suction_pressure",
            "motor_current",
            "speed",
            "bearing_temperature",
            "vibration",
        ):
            regs += _float32(float(v[name]))
        regs.append(int(v["fault_code"]))
        regs += _float32(float(v["operating_hours"]))
        energy = int(v["energy"]) & 0xFFFFFFFF
        regs += [energy & 0xFFFF, energy >> 16]  # CDAB: low word first
        tag = str(v["tag"]).encode("ascii")[:16].ljust(16, b"\x00")
        regs += [int.from_bytes(tag[i : i + 2], "big") for i in range(0, 16, 2)]
        self.input[unit] = regs


def _float32(value: float) -> list[int]:
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [hi, lo]


class _UnitContext(ModbusBaseSlaveContext):
    def __init__(self, station: PumpStation, unit: int) -> None:
        self.station = station
        self.unit = unit

    def getValues(self, fc_as_hex: int, address: int, count: int = 1) -> list[int] | list[bool] | int:  # type: ignore[override]
        return self.station.read(self.unit, fc_as_hex, address, count)

    def setValues(self, fc_as_hex: int, address: int, values: Sequence[int | bool]) -> int | None:
        return self.station.write(self.unit, fc_as_hex, address, values)


class _AbsentUnit(ModbusBaseSlaveContext):
    def getValues(self, fc_as_hex: int, address: int, count: int = 1) -> int:  # type: ignore[override]
        return GATEWAY_NO_RESPONSE

    def setValues(self, fc_as_hex: int, address: int, values: Sequence[int | bool]) -> int:
        return GATEWAY_NO_RESPONSE


class _StationContext(ModbusServerContext):
    """Routes unit ids to pumps; during comm_drop it pretends no unit exists, and the server (with
    ``ignore_missing_slaves``) then sends nothing at all."""

    def __init__(self, station: PumpStation) -> None:
        # The base initializer only sets these two; it is untyped, so set them here.
        self.single = False
        self._slaves: dict[int, ModbusBaseSlaveContext] = {}
        self.station = station
        self.units = {u: _UnitContext(station, u) for u in station.pumps}
        self.absent = _AbsentUnit()

    def __contains__(self, slave: object) -> bool:
        return True

    def __getitem__(self, slave: int) -> ModbusBaseSlaveContext:
        if self.station.dropping():
            raise NoSuchSlaveException("comm_drop")  # type: ignore[no-untyped-call]
        return self.units.get(slave, self.absent)

    def slaves(self) -> list[int]:
        return list(self.units)


def parse_fault(spec: str) -> tuple[str, float | None]:
    """``NAME[=VALUE]`` from the command line."""
    name, _, raw = spec.partition("=")
    name = name.strip()
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r} (have: {', '.join(FAULTS)})")
    try:
        return name, float(raw) if raw.strip() else None
    except ValueError:
        raise ValueError(f"fault value {raw!r} is not a number") from None


async def start_server(host: str, port: int, station: PumpStation) -> tuple[ModbusTcpServer, int]:
    """Start serving ``station``; returns the server and the bound port (useful with port 0)."""
    server = ModbusTcpServer(_StationContext(station), address=(host, port), ignore_missing_slaves=True)
    await server.serve_forever(background=True)
    listener = server.transport
    if not isinstance(listener, asyncio.Server):
        raise OSError(f"cannot listen on {host}:{port}")
    bound = int(listener.sockets[0].getsockname()[1])
    return server, bound


async def serve_many(
    host: str,
    ports: Sequence[int],
    *,
    units: int = 1,
    seed: int = 1,
    faults: Sequence[str] = (),
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    stations: list[PumpStation] | None = None,
    bound_ports: list[int] | None = None,
) -> None:
    """Serve one station of ``units`` pumps on each port until ``stop`` is set.

    ``faults`` hit the first station only (a fleet with one sick member). Pass ``stations`` and
    ``bound_ports`` (empty lists) to get the stations and the actual ports back, e.g. for port 0.
    """
    parsed = [parse_fault(f) for f in faults]
    own = [PumpStation(units, seed=seed + i, tag_prefix=f"P{i + 1:03d}") for i in range(len(ports))]
    if own and parsed:
        for name, value in parsed:
            own[0].inject(name, value)
    servers: list[ModbusTcpServer] = []
    stop = stop if stop is not None else asyncio.Event()
    try:
        for port, station in zip(ports, own, strict=True):
            server, bound = await start_server(host, port, station)
            servers.append(server)
            if bound_ports is not None:
                bound_ports.append(bound)
        if stations is not None:
            stations.extend(own)
        logger.info("modbus pump stations on %s ports %s, %d units each", host, list(ports), units)
        if ready is not None:
            ready.set()
        await _tick(own, stop)
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                await server.shutdown()  # type: ignore[no-untyped-call]


async def serve(
    host: str,
    port: int,
    *,
    seed: int = 1,
    faults: Sequence[str] = (),
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    units: int = 1,
    station: PumpStation | None = None,
) -> None:
    """Serve one pump station (``units`` pumps on unit ids 1..units) until ``stop`` is set."""
    station = station if station is not None else PumpStation(units, seed=seed)
    for name, value in (parse_fault(f) for f in faults):
        station.inject(name, value)
    stop = stop if stop is not None else asyncio.Event()
    server, _ = await start_server(host, port, station)
    try:
        if ready is not None:
            ready.set()
        await _tick([station], stop)
    finally:
        with contextlib.suppress(Exception):
            await server.shutdown()  # type: ignore[no-untyped-call]


async def _tick(stations: Sequence[PumpStation], stop: asyncio.Event, period_s: float = 1.0) -> None:
    last = time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=period_s)
        now = time.monotonic()
        for station in stations:
            station.step(now - last)
        last = now
