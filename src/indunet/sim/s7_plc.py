"""A Siemens S7 PLC of a utilities plant, served over real S7 (ISO-on-TCP) with python-snap7's server.

Theory of operation. The PLC measures the cooling-water line through a magnetic flow meter
(``indunet.sim.flowmeter.FlowMeter``, the points of ``flow_pressure_instrument``) and runs the line's
pump. Once per cycle (``step``, one second in ``serve``) it reads its setpoints from DB2, advances the
process and writes the process values into DB1 and a heartbeat into the marker area, each under the
server's lock for that area, so a client never reads a half-written block.

Memory layout (write the gateway configuration from this table; all values big-endian):

    DB1  process values (170 bytes, read only by convention)
      DB1.DBD0    REAL      volume_flow              m3/h, after the damping set in DB2.DBD0
      DB1.DBD4    REAL      pressure                 kPa gauge
      DB1.DBD8    REAL      temperature              degC, water
      DB1.DBD12   REAL      mass_flow                kg/h
      DB1.DBD16   REAL      density                  kg/m3
      DB1.DBD20   REAL      flow_velocity            m/s
      DB1.DBD24   REAL      conductivity             uS/cm
      DB1.DBD28   REAL      electronics_temperature  degC
      DB1.DBB32   LREAL     totalizer_volume         m3
      DB1.DBB40   LREAL     totalizer_mass           kg
      DB1.DBB48   LREAL     operating_hours          h
      DB1.DBW56   INT       device_health            NE 107: 0 normal, 1 failure, 2 check, 3 off spec, 4 maint.
      DB1.DBW58   INT       diagnostic_count         diagnostic events since power-on
      DB1.DBX60.0 BOOL      empty_pipe
      DB1.DBX60.1 BOOL      pump_running
      DB1.DBX60.2 BOOL      health_alarm             device_health is not NORMAL
      DB1.DBX60.3 BOOL      low_pressure             pressure below DB2.DBD4
      DB1.DBD62   REAL      pump_vibration           mm/s RMS at the pump bearing
      DB1.DBD66   REAL      pump_bearing_temperature degC
      DB1.DBB70   STRING[32] tag                     plant tag, e.g. FIT-101
      DB1.DBB104  STRING[64] diagnostic_message      empty when healthy

    DB2  setpoints (10 bytes, writable)
      DB2.DBD0    REAL      damping                  s, flow output time constant 0..100 (default 1)
      DB2.DBD4    REAL      low_pressure_limit       kPa (default 300)
      DB2.DBX8.0  BOOL      reset_totalizer          command: set to 1, the PLC zeroes totalizer_volume
                                                     and clears the bit on its next cycle
      DB2.DBX8.1  BOOL      pump_enable              0 stops the pump (default 1)

    M    markers (16 bytes)
      M0.0        BOOL      heartbeat                toggles every cycle
      MW2         INT       cycle counter            wraps at 32767

Example gateway entry: ``{point: volume_flow, address: DB1.DBD0, type: real}``,
``{point: totalizer_volume, address: DB1.DBB32, type: lreal}``,
``{point: diagnostic_message, address: DB1.DBB104, type: string, length: 64}``.

Faults (``inject(name, value)`` or ``--fault NAME[=VALUE]``):
    sensor_drift[=kPa/min]   the pressure reading drifts away linearly (default 1 kPa per minute)
    stuck                    volume flow freezes at its current value
    comm_drop[=s]            the CPU stops answering requests for that many seconds (default 10), from
                             the moment of injection: requests and new connections time out
    bearing_wear[=1/h]       the pump bearing wears: vibration and bearing temperature rise (default
                             full wear in one hour)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import socket
import struct
import time
from collections.abc import Iterator, Sequence
from typing import Any

from snap7.error import S7Error
from snap7.server import Server
from snap7.type import SrvArea

from indunet.core.timeutil import now_us
from indunet.sim.flowmeter import FlowMeter
from indunet.sim.signals import FirstOrderLag, clamp, noise

logger = logging.getLogger(__name__)

Value = bool | int | float | str

DB1_SIZE = 170
DB2_SIZE = 10
MK_SIZE = 16
TAG_LENGTH = 32
MESSAGE_LENGTH = 64
FAULTS = ("bearing_wear", "sensor_drift", "stuck", "comm_drop")
DEFAULT_FAULT_VALUES = {"bearing_wear": 1.0, "sensor_drift": 1.0, "stuck": 0.0, "comm_drop": 10.0}
MAX_STEP_S = 60.0
STOPPED_PRESSURE_KPA = 120.0
AMBIENT_C = 24.0


def parse_fault(text: str) -> tuple[str, float | None]:
    """``NAME`` or ``NAME=VALUE`` -> (name, value); ValueError for an unknown fault or a bad value."""
    name, _, raw = text.partition("=")
    name = name.strip()
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r} (one of {', '.join(FAULTS)})")
    if not raw:
        return name, None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"fault {name}: {raw!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"fault {name}: value must be a non-negative number")
    return name, value


class UtilitiesPlc:
    """The simulated process and the PLC's memory images; deterministic for a seed and timestamps."""

    def __init__(self, seed: int = 1, tag: str = "FIT-101") -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible runs, not secrets
        self.meter = FlowMeter(seed)
        self.db1 = bytearray(DB1_SIZE)
        self.db2 = bytearray(DB2_SIZE)
        self.mk = bytearray(MK_SIZE)
        self.tag = tag[:TAG_LENGTH]
        self.faults: dict[str, float] = {}
        self.flow = FirstOrderLag(1.0, 0.0)
        self.bearing_temperature = FirstOrderLag(900.0, 45.0)
        self.wear = 0.0
        self.drift_kpa = 0.0
        self.frozen_flow: float | None = None
        self.drop_until = 0.0
        self.diagnostics = 0
        self.cycles = 0
        self.last_message = ""
        self.server: Server | None = None
        self.last_ts_us: int | None = None
        self.values: dict[str, Value] = {}
        struct.pack_into(">ff", self.db2, 0, 1.0, 300.0)
        self.db2[8] = 0b10  # pump enabled
        self._write_string(self.db1, 70, TAG_LENGTH, self.tag)
        self._write_string(self.db1, 104, MESSAGE_LENGTH, "")

    # -- faults -------------------------------------------------------------------------------------

    def inject(self, name: str, value: float | None = None) -> None:
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r} (one of {', '.join(FAULTS)})")
        amount = DEFAULT_FAULT_VALUES[name] if value is None else value
        self.faults[name] = amount
        if name == "comm_drop":
            self.drop_until = time.monotonic() + amount
        logger.info("fault %s injected (%s)", name, amount)

    def clear(self, name: str) -> None:
        self.faults.pop(name, None)
        if name == "stuck":
            self.frozen_flow = None
        elif name == "sensor_drift":
            self.drift_kpa = 0.0
        elif name == "comm_drop":
            self.drop_until = 0.0

    def answering(self) -> bool:
        """False while a comm_drop lasts (wall clock, as it concerns real sockets)."""
        return time.monotonic() >= self.drop_until

    # -- process ------------------------------------------------------------------------------------

    def step(self, ts_us: int) -> dict[str, Value]:
        """Run one PLC cycle at ``ts_us``: read DB2, advance the process, write DB1 and the markers."""
        dt = 0.0 if self.last_ts_us is None else clamp((ts_us - self.last_ts_us) / 1e6, 0.0, MAX_STEP_S)
        self.last_ts_us = ts_us
        with self._locked(SrvArea.DB, 2):
            damping, low_limit = struct.unpack_from(">ff", self.db2, 0)
            commands = self.db2[8]
            # The PLC acknowledges a command bit by clearing it, as a rising-edge command in a DB does.
            self.db2[8] = commands & ~0b1 & 0xFF
        if commands & 0b1:
            self.meter.totalizer_volume = 0.0
        pump_on = bool(commands & 0b10)
        values = self.meter.step(ts_us)
        if self.cycles == 0:
            self.flow.value = float(values["volume_flow"])  # start settled, not ramping up from zero
        self._process(values, dt, pump_on, damping, low_limit)
        self.values = values
        with self._locked(SrvArea.DB, 1):
            self._write_db1(values)
        self.cycles += 1
        with self._locked(SrvArea.MK, 0):
            self.mk[0] = (self.mk[0] & 0xFE) | (self.cycles & 1)
            struct.pack_into(">h", self.mk, 2, self.cycles % 32_768)
        return values

    def _process(
        self, values: dict[str, Value], dt: float, pump_on: bool, damping: float, low: float
    ) -> None:
        if math.isfinite(damping):
            self.flow.tau = clamp(damping, 0.001, 100.0)
        flow = float(values["volume_flow"])
        if not pump_on:
            flow = 0.0
            values["pressure"] = round(STOPPED_PRESSURE_KPA + noise(self.rng, 1.0), 2)
        flow = self.flow.step(flow, dt)
        if "stuck" in self.faults:
            if self.frozen_flow is None:
                self.frozen_flow = flow
            flow = self.frozen_flow
        values["volume_flow"] = round(flow, 3)
        values["mass_flow"] = round(flow * float(values["density"]), 1)
        values["flow_velocity"] = round(flow / 3600.0 / (math.pi * 0.075**2), 4)
        if "sensor_drift" in self.faults:
            self.drift_kpa += self.faults["sensor_drift"] * dt / 60.0
        values["pressure"] = round(float(values["pressure"]) + self.drift_kpa, 2)
        if "bearing_wear" in self.faults:
            self.wear = min(1.0, self.wear + self.faults["bearing_wear"] * dt / 3600.0)
        load = abs(flow) / 300.0 if pump_on else 0.0
        vibration = (1.2 + 1.0 * load) * (1.0 + 6.0 * self.wear**2) if pump_on else 0.05
        values["pump_vibration"] = round(max(0.0, vibration + noise(self.rng, 0.03)), 3)
        target = AMBIENT_C + (18.0 * load + 45.0 * self.wear if pump_on else 0.0) + 6.0
        values["pump_bearing_temperature"] = round(self.bearing_temperature.step(target, dt), 2)
        values["pump_running"] = pump_on
        values["low_pressure"] = float(values["pressure"]) < low
        message = str(values["diagnostic_message"])
        if message and message != self.last_message:
            self.diagnostics += 1
        self.last_message = message
        values["diagnostic_count"] = self.diagnostics

    def _write_db1(self, values: dict[str, Value]) -> None:
        reals = (
            "volume_flow",
            "pressure",
            "temperature",
            "mass_flow",
            "density",
            "flow_velocity",
            "conductivity",
            "electronics_temperature",
        )
        struct.pack_into(">8f", self.db1, 0, *(float(values[name]) for name in reals))
        struct.pack_into(
            ">3d",
            self.db1,
            32,
            float(values["totalizer_volume"]),
            float(values["totalizer_mass"]),
            float(values["operating_hours"]),
        )
        struct.pack_into(">hh", self.db1, 56, int(values["device_health"]), self.diagnostics % 32_768)
        flags = (
            int(bool(values["empty_pipe"]))
            | int(bool(values["pump_running"])) << 1
            | int(values["device_health"] != 0) << 2
            | int(bool(values["low_pressure"])) << 3
        )
        self.db1[60] = flags
        struct.pack_into(
            ">ff", self.db1, 62, float(values["pump_vibration"]), float(values["pump_bearing_temperature"])
        )
        self._write_string(self.db1, 104, MESSAGE_LENGTH, str(values["diagnostic_message"]))

    @staticmethod
    def _write_string(area: bytearray, offset: int, length: int, text: str) -> None:
        data = text.encode("latin-1", "replace")[:length]
        area[offset : offset + 2 + length] = bytes([length, len(data)]) + data.ljust(length, b"\x00")

    @contextlib.contextmanager
    def _locked(self, area: SrvArea, index: int) -> Iterator[None]:
        # The server copies a block under the same lock, so readers see whole cycles only.
        server = self.server
        if server is None:
            yield
            return
        server.lock_area(area, index)
        try:
            yield
        finally:
            server.unlock_area(area, index)

    # -- setpoints, for tests and the CLI -----------------------------------------------------------

    @property
    def damping(self) -> float:
        value: float = struct.unpack_from(">f", self.db2, 0)[0]
        return value

    @property
    def pump_enable(self) -> bool:
        return bool(self.db2[8] & 0b10)


class _Server(Server):
    """snap7's server, silent while the PLC's communication is dropped, counting requests served."""

    def __init__(self, plc: UtilitiesPlc) -> None:
        super().__init__(log=False)
        self.plc = plc
        self.requests = 0

    def _process_request(self, request_data: bytes, client_address: tuple[str, int]) -> bytes | None:
        if not self.plc.answering():
            return None  # no reply at all: the client's receive times out, as with a hung CPU
        self.requests += 1
        response: bytes | None = super()._process_request(request_data, client_address)
        return response


class PlcServer:
    """The PLC behind an S7 server on ``host:port`` (port 0 picks a free one; see ``port``)."""

    def __init__(self, plc: UtilitiesPlc, host: str = "127.0.0.1", port: int = 0) -> None:
        self.plc = plc
        self.server = _Server(plc)
        self.server.register_area(SrvArea.DB, 1, plc.db1)
        self.server.register_area(SrvArea.DB, 2, plc.db2)
        self.server.register_area(SrvArea.MK, 0, plc.mk)
        self.host = socket.gethostbyname(host)
        self.requested_port = port
        self.port = port

    @property
    def requests(self) -> int:
        """S7 requests answered since start (reads count once per request, however many items)."""
        return self.server.requests

    def start(self) -> None:
        try:
            self.server.start_to(self.host, self.requested_port)
        except S7Error as exc:  # a port in use, say: an OSError like any other server's
            raise OSError(str(exc)) from exc
        sock = self.server.server_socket
        assert sock is not None
        self.port = int(sock.getsockname()[1])
        self.plc.server = self.server
        logger.info("S7 PLC simulator listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        self.plc.server = None
        self.server.stop()

    def __enter__(self) -> PlcServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


async def serve(
    host: str,
    port: int,
    *,
    seed: int = 1,
    faults: Sequence[str] = (),
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    period_s: float = 1.0,
    tag: str = "FIT-101",
) -> None:
    """Serve the PLC on ``host:port`` until ``stop`` is set, one PLC cycle every ``period_s``."""
    parsed = [parse_fault(text) for text in faults]
    plc = UtilitiesPlc(seed, tag)
    server = PlcServer(plc, host, port)
    await asyncio.to_thread(server.start)
    plc.step(now_us())
    for name, value in parsed:
        plc.inject(name, value)
    halt = stop if stop is not None else asyncio.Event()
    if ready is not None:
        ready.set()
    try:
        while not halt.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(halt.wait(), period_s)
            plc.step(now_us())
    finally:
        # stop() joins the server's threads: off the event loop.
        await asyncio.to_thread(server.stop)
