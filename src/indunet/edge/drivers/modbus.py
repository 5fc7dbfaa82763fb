"""Modbus TCP driver: indunet's own sans-I/O framing (``modbus_frames``) on an asyncio connection
(``modbus_link``); pymodbus probes unknown devices in ``scan``.

Theory of operation. ``create`` parses every point's keys with ``modbus_codec``, plans the reads and
compiles one decoder per point, once; ``read`` sends one request per planned block, one after the
other on one connection, and decodes each point out of its block with one struct call. An exception
response or a short reply fails its block only (DeviceError in ``PollResult.errors``); a timeout, a
malformed frame or a broken connection fails the whole poll (TransportError), because after a lost or
garbled reply the connection can no longer be trusted and the gateway's reconnect with back-off is
the recovery. The driver never retries or reconnects by itself. The framing is indunet's own rather
than pymodbus' client because a poll through pymodbus' transaction manager cost about as much CPU
again as everything else the gateway does with it (see ``bench/edge_modbus.py``); pymodbus' server
is the peer every test talks to.

Connection keys: ``host`` (required), ``port`` (502), ``unit`` (1..247 or 0/255 for TCP-only
devices, default 1), ``timeout_s`` (2), ``max_gap`` (0: merge contiguous addresses only).

Commands (``DeviceSpec.commands``) are point writes: ``{write: POINT, value: V}`` writes a constant
(``start: {write: running, value: true}``) and ``{write: POINT, param: NAME}`` writes a command
parameter (``set_speed: {write: speed_setpoint, param: rpm}``); values are raw, unscaled.

``scan`` finds unit ids and readable ranges of an unknown device and drafts a configuration entry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from indunet.core.timeutil import now_us
from indunet.edge.driver import (
    Binding,
    BindingError,
    DeviceError,
    DeviceSpec,
    Emit,
    PollResult,
    Reading,
    TransportError,
    Value,
)
from indunet.edge.drivers import modbus_frames as frames
from indunet.edge.drivers.modbus_codec import (
    MAX_GAP,
    AddressError,
    BlockDecoder,
    Kind,
    PointAddress,
    ReadBlock,
    Table,
    block_bytes,
    block_decoder,
    parse_address,
    plan_reads,
)
from indunet.edge.drivers.modbus_link import LinkError, ModbusLink
from indunet.platform.models import DataType

DEFAULT_PORT = 502
DEFAULT_TIMEOUT_S = 2.0
MAX_TIMEOUT_S = 60.0
_CONNECTION_KEYS = frozenset({"host", "port", "unit", "timeout_s", "max_gap"})
_EXCEPTIONS = {
    1: "ILLEGAL FUNCTION",
    2: "ILLEGAL DATA ADDRESS",
    3: "ILLEGAL DATA VALUE",
    4: "SERVER DEVICE FAILURE",
    5: "ACKNOWLEDGE",
    6: "SERVER DEVICE BUSY",
    8: "MEMORY PARITY ERROR",
    10: "GATEWAY PATH UNAVAILABLE",
    11: "GATEWAY TARGET DEVICE FAILED TO RESPOND",
}
_GATEWAY_MISSES = (10, 11)


_READ_FUNCTIONS = {
    Table.COIL: frames.READ_COILS,
    Table.DISCRETE: frames.READ_DISCRETE_INPUTS,
    Table.INPUT: frames.READ_INPUT_REGISTERS,
    Table.HOLDING: frames.READ_HOLDING_REGISTERS,
}


@dataclass(frozen=True, slots=True)
class _PlannedRead:
    """One block with everything a poll needs worked out once: request, label, decoders."""

    block: ReadBlock
    function: int
    label: str
    decoders: tuple[tuple[str, BlockDecoder], ...]


class ModbusDriver:
    raw_types: Mapping[str, DataType]
    subscribes = False

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        unit: int,
        timeout_s: float,
        points: dict[str, PointAddress],
        blocks: list[ReadBlock],
        commands: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.unit = unit
        self.timeout_s = timeout_s
        self.points = points
        self.names = list(points)
        self.blocks = blocks
        self.commands = commands
        self.raw_types = {name: p.raw_type for name, p in points.items()}
        self._reads = [
            _PlannedRead(
                block,
                _READ_FUNCTIONS[block.table],
                f"{block.table.value} {block.start}..{block.start + block.count - 1}",
                tuple(
                    (
                        self.names[i],
                        block_decoder(points[self.names[i]], points[self.names[i]].address - block.start),
                    )
                    for i in block.members
                ),
            )
            for block in blocks
        ]
        self._link: ModbusLink | None = None

    async def connect(self) -> None:
        await self.close()
        try:
            self._link = await ModbusLink.open(self.host, self.port, self.timeout_s)
        except LinkError as exc:
            raise TransportError(str(exc)) from None

    async def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.close()

    async def read(self) -> PollResult:
        result = PollResult()
        readings = result.readings
        # One timestamp per poll: a poll is one sample of the device, however many requests it took.
        ts = now_us()
        for planned in self._reads:
            try:
                values = await self._read_block(planned)
            except DeviceError as exc:
                result.errors.append(exc)
                continue
            data = b"" if planned.block.table.bits else block_bytes(values)
            for name, decode in planned.decoders:
                readings.append(Reading(name, decode(values, data), ts))
        return result

    async def subscribe(self, emit: Emit) -> None:
        raise DeviceError("Modbus is polled; it has no subscriptions")

    async def write(self, point: str, raw: Value) -> None:
        address = self.points.get(point)
        if address is None:
            raise DeviceError(f"no bound point {point!r}")
        if not address.table.writable:
            raise DeviceError(f"{point}: {address.table.value} {address.address} is read-only")
        try:
            words = address.encode(raw)
        except ValueError as exc:
            raise DeviceError(f"{point}: {exc}") from None
        where = f"{address.table.value} {address.address}"
        at, unit = address.address, self.unit
        if address.table is Table.COIL:
            value = bool(words[0])
            await self._exchange(
                where, frames.WRITE_SINGLE_COIL, lambda t: frames.write_coil_request(t, unit, at, value)
            )
        elif address.kind is Kind.BOOL:
            # A bit of a register: read-modify-write; not atomic, as with any plain Modbus device.
            current = await self._exchange(
                where,
                frames.READ_HOLDING_REGISTERS,
                lambda t: frames.read_request(t, unit, frames.READ_HOLDING_REGISTERS, at, 1),
            )
            word = _registers(current, 1, where)[0]
            assert address.bit is not None
            mask = 1 << address.bit
            word = (word | mask) if words[0] else (word & ~mask)
            await self._exchange(
                where,
                frames.WRITE_SINGLE_REGISTER,
                lambda t: frames.write_register_request(t, unit, at, word),
            )
        elif len(words) == 1:
            single = words[0]
            await self._exchange(
                where,
                frames.WRITE_SINGLE_REGISTER,
                lambda t: frames.write_register_request(t, unit, at, single),
            )
        else:
            await self._exchange(
                where,
                frames.WRITE_MULTIPLE_REGISTERS,
                lambda t: frames.write_registers_request(t, unit, at, words),
            )

    async def call(self, command: str, params: Mapping[str, Any]) -> Any:
        target = self.commands.get(command)
        if target is None:
            raise DeviceError(f"no Modbus binding for command {command!r}")
        if "param" in target:
            name = str(target["param"])
            if name not in params:
                raise DeviceError(f"{command}: missing parameter {name!r}")
            value = params[name]
        else:
            value = target["value"]
        await self.write(str(target["write"]), value)
        return None

    async def _read_block(self, planned: _PlannedRead) -> Sequence[int]:
        block, where, unit = planned.block, planned.label, self.unit
        response = await self._exchange(
            where,
            planned.function,
            lambda t: frames.read_request(t, unit, planned.function, block.start, block.count),
        )
        if block.table.bits:
            bits = response.bits
            if len(bits) < block.count:
                raise DeviceError(f"{where}: malformed reply with {len(bits)} of {block.count} bits")
            return [int(b) for b in bits[: block.count]]
        return _registers(response, block.count, where)

    async def _exchange(self, where: str, function: int, build: Callable[[int], bytes]) -> frames.Response:
        """One request and its response; ``build`` makes the frame for a transaction id."""
        link = self._link
        if link is None or not link.open_:
            raise TransportError(f"not connected to {self.host}:{self.port}")
        transaction = link.next_id()
        try:
            response = await link.request(transaction, build(transaction))
        except LinkError as exc:
            raise TransportError(f"{where}: {exc}") from None
        if response.function != function:
            link.close()  # an answer to a question never asked: the stream is out of step
            raise TransportError(f"{where}: reply for function {response.function}, not {function}")
        if response.exception is not None:
            code = response.exception
            raise DeviceError(f"{where}: exception {code:02X} {_EXCEPTIONS.get(code, 'UNKNOWN')}")
        return response


def _registers(response: frames.Response, count: int, where: str) -> list[int]:
    registers = list(response.registers)
    if len(registers) != count:
        raise DeviceError(f"{where}: malformed reply with {len(registers)} of {count} registers")
    return registers


def _client(host: str, port: int, timeout_s: float) -> AsyncModbusTcpClient:
    # retries=0 and no reconnect: the gateway core owns retrying, with back-off and health reports.
    return AsyncModbusTcpClient(
        host, port=port, timeout=timeout_s, retries=0, reconnect_delay=0, reconnect_delay_max=0
    )


def create(spec: DeviceSpec) -> ModbusDriver:
    """Check ``spec`` (BindingError with the configuration path) and build the driver; no I/O."""
    conn = spec.connection
    unknown = sorted(set(conn) - _CONNECTION_KEYS)
    if unknown:
        raise BindingError(
            f"connection.{unknown[0]}", f"unknown key (have: {', '.join(sorted(_CONNECTION_KEYS))})"
        )
    host = conn.get("host")
    if not isinstance(host, str) or not host or len(host) > 253:
        raise BindingError("connection.host", "a host name or IP address is required")
    port = _conn_int(conn, "port", DEFAULT_PORT, 1, 65535)
    unit = _conn_int(conn, "unit", 1, 0, 255)
    if 247 < unit < 255:
        raise BindingError("connection.unit", f"{unit} is reserved; use 1..247, or 0/255 for TCP devices")
    max_gap = _conn_int(conn, "max_gap", 0, 0, MAX_GAP)
    timeout = conn.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT_S:
        raise BindingError("connection.timeout_s", f"must be a number of seconds in (0, {MAX_TIMEOUT_S}]")

    points: dict[str, PointAddress] = {}
    for i, binding in enumerate(spec.bindings):
        if binding.point in points:
            raise BindingError(f"points[{i}].point", f"{binding.point!r} is bound twice")
        points[binding.point] = _parse_point(i, binding)
    blocks = plan_reads(list(points.values()), max_gap)
    commands = _check_commands(spec.commands, points)
    return ModbusDriver(spec.name, host, port, unit, float(timeout), points, blocks, commands)


def _parse_point(i: int, binding: Binding) -> PointAddress:
    try:
        return parse_address(binding.address)
    except AddressError as exc:
        raise BindingError(f"points[{i}].{exc.key}", str(exc)) from None


def _check_commands(
    commands: Mapping[str, Mapping[str, Any]], points: Mapping[str, PointAddress]
) -> dict[str, Mapping[str, Any]]:
    for name, keys in commands.items():
        path = f"commands.{name}"
        if set(keys) not in ({"write", "value"}, {"write", "param"}):
            raise BindingError(
                path, "a Modbus command is {write: POINT, value: V} or {write: POINT, param: NAME}"
            )
        target = points.get(str(keys["write"]))
        if target is None:
            raise BindingError(f"{path}.write", f"{keys['write']!r} is not a bound point")
        if not target.table.writable:
            raise BindingError(
                f"{path}.write", f"{keys['write']!r} is in the read-only {target.table.value} table"
            )
        if "value" in keys:
            try:
                target.encode(keys["value"])
            except ValueError as exc:
                raise BindingError(f"{path}.value", str(exc)) from None
    return dict(commands)


def _conn_int(conn: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = conn.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BindingError(f"connection.{key}", f"must be an integer in {low}..{high}")
    return value


# -- scan ---------------------------------------------------------------------------------------

SCAN_UNITS = (*range(1, 17), 255, 0)
SCAN_WINDOWS = (0, 100, 1000, 10000, 40000)
SCAN_MAX_REQUESTS = 600
SCAN_MAX_POINTS_PER_TABLE = 250
SCAN_MISSES_AFTER_HIT = 3
_PREFIX = {Table.HOLDING: "hr", Table.INPUT: "ir", Table.COIL: "co", Table.DISCRETE: "di"}


class _Prober:
    """One scan's connection and request budget. A timeout poisons the connection (a late reply
    could still arrive), so the prober reconnects after one."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.client: AsyncModbusTcpClient | None = None
        self.requests = 0
        self.deadline = time.monotonic() + 30.0 * max(timeout_s, 1.0)

    async def ensure(self) -> AsyncModbusTcpClient:
        if self.client is None or not self.client.connected:
            self.close()
            client = _client(self.host, self.port, self.timeout_s)
            try:
                ok = await asyncio.wait_for(client.connect(), timeout=self.timeout_s + 1.0)
            except (TimeoutError, OSError, ModbusException):
                ok = False
            if not ok:
                client.close()
                raise TransportError(f"cannot connect to {self.host}:{self.port}")
            self.client = client
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    async def probe(self, unit: int, table: Table, start: int, count: int) -> bool | None:
        """True when readable, False on an exception reply, None when nothing answered."""
        if self.requests >= SCAN_MAX_REQUESTS or time.monotonic() > self.deadline:
            raise TimeoutError("scan budget exhausted")
        self.requests += 1
        client = await self.ensure()
        method = {
            Table.COIL: client.read_coils,
            Table.DISCRETE: client.read_discrete_inputs,
            Table.INPUT: client.read_input_registers,
            Table.HOLDING: client.read_holding_registers,
        }[table]
        try:
            async with asyncio.timeout(self.timeout_s + 1.0):
                response = await method(start, count=count, slave=unit)
        except (TimeoutError, ModbusException, OSError):
            self.close()
            return None
        if response.isError():
            return None if response.exception_code in _GATEWAY_MISSES else False
        got = len(response.bits) if table.bits else len(response.registers)
        return got >= count


async def scan(host: str, port: int, timeout_s: float) -> list[dict[str, Any]]:
    """Draft device entries for every answering unit id of a Modbus TCP server.

    Probes unit ids 1..16 (stopping after a few misses past the last hit), then 255 and 0 if none
    answered; per unit, probes each table at a few customary start addresses and finds the end of
    each readable range by binary search. ``timeout_s`` bounds each request; a request budget
    bounds the whole scan. TransportError when the server cannot be reached at all.
    """
    timeout_s = min(max(timeout_s, 0.05), MAX_TIMEOUT_S)
    prober = _Prober(host, port, timeout_s)
    await prober.ensure()
    drafts: list[dict[str, Any]] = []
    try:
        misses = 0
        for unit in SCAN_UNITS:
            if unit in (255, 0) and drafts:
                break
            if drafts and misses >= SCAN_MISSES_AFTER_HIT and unit not in (255, 0):
                continue
            found = await _scan_unit(prober, unit)
            if found is None:
                misses += 1
                continue
            misses = 0
            drafts.append(_draft(host, port, unit, found))
    except TimeoutError:
        pass  # budget exhausted: return what was found so far
    finally:
        prober.close()
    return drafts


async def _scan_unit(prober: _Prober, unit: int) -> dict[Table, list[tuple[int, int]]] | None:
    """Readable ranges per table, or None when the unit does not answer at all."""
    first = await prober.probe(unit, Table.HOLDING, 0, 1)
    if first is None:
        return None
    ranges: dict[Table, list[tuple[int, int]]] = {}
    for table in (Table.HOLDING, Table.INPUT, Table.COIL, Table.DISCRETE):
        found: list[tuple[int, int]] = []
        total = 0
        for start in SCAN_WINDOWS:
            if any(a <= start < b for a, b in found) or total >= SCAN_MAX_POINTS_PER_TABLE:
                continue
            end = await _range_end(prober, unit, table, start, SCAN_MAX_POINTS_PER_TABLE - total)
            if end > start:
                found.append((start, end))
                total += end - start
        if found:
            ranges[table] = found
    return ranges


async def _range_end(prober: _Prober, unit: int, table: Table, start: int, limit: int) -> int:
    """One past the last readable entry of the range starting at ``start`` (``start`` if none)."""
    chunk = table.read_limit
    end = start
    while end - start < limit and end <= 0xFFFF:
        size = min(chunk, 0x10000 - end, start + limit - end)
        if await prober.probe(unit, table, end, size):
            end += size
            continue
        # Binary search for the longest readable prefix of [end, end + size).
        low, high = 0, size - 1  # low: known readable count, high: largest possible
        if not await prober.probe(unit, table, end, 1):
            return end
        low = 1
        while low < high:
            mid = (low + high + 1) // 2
            if await prober.probe(unit, table, end, mid):
                low = mid
            else:
                high = mid - 1
        return end + low
    return end


def _draft(host: str, port: int, unit: int, ranges: Mapping[Table, list[tuple[int, int]]]) -> dict[str, Any]:
    points: list[dict[str, Any]] = []
    for table, spans in ranges.items():
        for a, b in spans:
            for address in range(a, b):
                entry: dict[str, Any] = {"point": f"{_PREFIX[table]}_{address}", "table": table.value}
                entry["address"] = address
                entry["type"] = "bool" if table.bits else "uint16"
                points.append(entry)
    safe_host = "".join(c if c.isalnum() else "-" for c in host)
    return {
        "name": f"modbus-{safe_host}-{port}-u{unit}",
        "type": "TODO",
        "driver": "modbus",
        "connection": {"host": host, "port": port, "unit": unit, "timeout_s": DEFAULT_TIMEOUT_S},
        "poll_ms": 1000,
        "points": points,
    }
