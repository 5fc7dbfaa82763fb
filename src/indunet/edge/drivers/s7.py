"""Siemens S7 driver (S7-300/400/1200/1500 over ISO-on-TCP, PUT/GET) on python-snap7's pure-Python client.

Theory of operation. snap7's client blocks, so every call for one device runs on that device's own
worker thread (a one-thread executor): calls are serialised without further locking and never stall
the event loop. Every socket operation carries ``timeout_s``.

Reading: on connect the points are planned into blocks (``s7_codec.plan``, bounded by the negotiated
PDU) and the blocks packed into multi-item read requests (``s7_codec.pack``), so a poll costs one round
trip per packed request, typically one. A multi-item request fails as a whole in snap7 when one item
is refused (a DB that does not exist, a range past its end), so a failed request is repeated block by
block: the refused block becomes a DeviceError and the others still deliver. Blocks that failed are
read on their own from then on, so one bad address costs one extra request per poll, not the batch.

Writing: bytes are written as the codec encodes them; a bool is read-modify-written (its byte is read
and written back with one bit changed), which races with PLC logic writing the same byte in that
instant, as with every S7 client that writes bits through byte access.

Connection options: ``host``, ``port`` (102), ``rack`` (0), ``slot`` (1; S7-1200/1500 use 0/1, S7-300
0/2), ``timeout_s`` (2), ``max_gap`` (16 bytes read across to join neighbouring points).
Point options: ``address`` (e.g. ``DB1.DBD0``), ``type`` (see ``s7_codec``), ``length`` (strings).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from snap7.client import Client
from snap7.connection import ISOTCPConnection
from snap7.error import S7ConnectionError, S7Error, S7ProtocolError, S7TimeoutError
from snap7.type import Area, Block

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
from indunet.edge.drivers import s7_codec
from indunet.edge.drivers.s7_codec import Address
from indunet.edge.drivers.s7_codec import Block as ReadBlock
from indunet.platform.models import DataType

T = TypeVar("T")

DEFAULT_PORT = 102
DEFAULT_RACK = 0
DEFAULT_SLOT = 1
DEFAULT_TIMEOUT_S = 2.0
DEFAULT_MAX_GAP = 16
MAX_TIMEOUT_S = 60.0
MAX_GAP = 256
MAX_POINTS = 10_000
CONNECTION_KEYS = {"host", "port", "rack", "slot", "timeout_s", "max_gap"}
POINT_KEYS = {"address", "type", "length"}
_AREAS = {"DB": Area.DB, "M": Area.MK, "I": Area.PE, "Q": Area.PA}

# scan: the rack/slot pairs that reach nearly every CPU (1200/1500, 300, soft PLCs and CPs)
SCAN_RACK_SLOTS = ((0, 1), (0, 2), (0, 0))
SCAN_MAX_DBS = 64
SCAN_PROBE_DBS = 32
SCAN_BUDGET_S = 20.0
SCAN_MAX_DB_SIZE = 65_536


class _Client(Client):
    """snap7's client with the connect timeout it otherwise fixes at five seconds."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def _connect(self, address: str, rack: int, slot: int, tcp_port: int) -> Client:
        # The hook snap7 itself uses for LOGO connections; we only add the timeout.
        self.host, self.port, self.rack, self.slot = address, tcp_port, rack, slot
        connection = ISOTCPConnection(
            host=address, port=tcp_port, local_tsap=self.local_tsap, remote_tsap=self.remote_tsap
        )
        self.connection = connection
        try:
            connection.connect(timeout=self.timeout_s)
            self._setup_communication()
        except BaseException:
            self.disconnect()
            raise
        self.connected = True
        # Pipelined requests would exceed the one outstanding job both sides negotiated (AMQ 1).
        self.max_parallel = 1
        self.multi_read_max_gap = 0
        return self


@dataclass(frozen=True, slots=True)
class _Options:
    host: str
    port: int
    rack: int
    slot: int
    timeout_s: float
    max_gap: int


class S7Driver:
    subscribes = False

    def __init__(self, name: str, options: _Options, points: dict[str, Address]) -> None:
        self.name = name
        self.options = options
        self.points = points
        self.raw_types: Mapping[str, DataType] = {
            point: DataType(s7_codec.raw_kind(address.type)) for point, address in points.items()
        }
        self._names = list(points)
        self._addresses = list(points.values())
        self._client: _Client | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._groups: list[list[ReadBlock]] = []
        self._alone: set[ReadBlock] = set()

    @property
    def where(self) -> str:
        return f"{self.options.host}:{self.options.port}"

    async def _run(self, func: Callable[[], T]) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"s7-{self.name}")
        return await asyncio.get_running_loop().run_in_executor(self._executor, func)

    async def connect(self) -> None:
        await self._run(self._connect)

    def _connect(self) -> None:
        self._disconnect()
        opts = self.options
        client = _Client(opts.timeout_s)
        try:
            client.connect(opts.host, opts.rack, opts.slot, opts.port)
        except (S7Error, OSError) as exc:
            raise TransportError(f"S7 {self.where} rack {opts.rack} slot {opts.slot}: {exc}") from None
        self._client = client
        blocks = s7_codec.plan(self._addresses, s7_codec.max_read_bytes(client.pdu_length), opts.max_gap)
        self._groups = s7_codec.pack(blocks, client.pdu_length, Client.MAX_VARS)
        self._alone = set()

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        executor.shutdown(wait=False)

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.disconnect()

    def _connected(self) -> _Client:
        if self._client is None:
            raise TransportError(f"S7 {self.where}: not connected")
        return self._client

    async def read(self) -> PollResult:
        return await self._run(self._read)

    def _read(self) -> PollResult:
        client = self._connected()
        result = PollResult()
        for group in self._groups:
            together = [block for block in group if block not in self._alone]
            alone = [block for block in group if block in self._alone]
            data: dict[ReadBlock, bytes] = {}
            if len(together) > 1:
                items: list[dict[str, Any]] = [
                    {"area": _AREAS[b.area], "db_number": b.db, "start": b.start, "size": b.size}
                    for b in together
                ]
                try:
                    _, buffers = self._call(partial(client.read_multi_vars, items))
                    data.update(zip(together, (bytes(buf) for buf in buffers), strict=True))
                except DeviceError:
                    alone = together + alone
            else:
                alone = together + alone
            ts = now_us()
            for block in alone:
                try:
                    read = partial(client.read_area, _AREAS[block.area], block.db, block.start, block.size)
                    data[block] = bytes(self._call(read))
                    self._alone.discard(block)
                except DeviceError as exc:
                    self._alone.add(block)
                    result.errors.append(DeviceError(f"{block}: {exc}"))
            for block, raw in data.items():
                self._decode(block, raw, ts, result)
        return result

    def _decode(self, block: ReadBlock, raw: bytes, ts: int, result: PollResult) -> None:
        if len(raw) != block.size:
            result.errors.append(DeviceError(f"{block}: {len(raw)} bytes returned for {block.size}"))
            return
        for index in block.members:
            address = self._addresses[index]
            value = s7_codec.decode(address, block.slice(address, raw))
            result.readings.append(Reading(self._names[index], value, ts))

    def _call(self, func: Callable[[], T]) -> T:
        """Run one snap7 call, translating its errors; a broken connection is closed here."""
        try:
            return func()
        except S7ProtocolError as exc:
            raise DeviceError(str(exc)) from None
        except (S7ConnectionError, S7TimeoutError, S7Error, OSError) as exc:
            self._disconnect()
            raise TransportError(f"S7 {self.where}: {type(exc).__name__}: {exc}") from None

    async def subscribe(self, emit: Emit) -> None:
        raise DeviceError("the S7 driver polls; it does not subscribe")

    async def write(self, point: str, raw: Value) -> None:
        address = self.points.get(point)
        if address is None:
            raise DeviceError(f"no S7 point {point!r} on {self.name}")
        await self._run(lambda: self._write(address, raw))

    def _write(self, address: Address, raw: Value) -> None:
        client = self._connected()
        area = _AREAS[address.area]
        value = raw
        if s7_codec.raw_kind(address.type) == "int" and isinstance(raw, float) and math.isfinite(raw):
            value = round(raw)  # the gateway unscales to float; integers in the PLC take the nearest
        current = b"\x00"
        if address.type == "bool":
            current = bytes(self._call(lambda: client.read_area(area, address.db, address.start, 1)))
        try:
            data = s7_codec.encode(address, value, current)
        except ValueError as exc:
            raise DeviceError(str(exc)) from None
        self._call(lambda: client.write_area(area, address.db, address.start, bytearray(data)))

    async def call(self, command: str, params: Mapping[str, Any]) -> Any:
        raise DeviceError(f"S7 has no callable methods ({command!r}); bind commands to points instead")


def create(spec: DeviceSpec) -> S7Driver:
    """Check ``spec`` and build its driver (no I/O); BindingError names the offending entry."""
    options = _options(spec.connection)
    if len(spec.bindings) > MAX_POINTS:
        raise BindingError("points", f"at most {MAX_POINTS} points per device")
    points: dict[str, Address] = {}
    for index, binding in enumerate(spec.bindings):
        if binding.point in points:
            raise BindingError(f"points[{index}].point", f"point {binding.point!r} is bound twice")
        points[binding.point] = _address(index, binding)
    return S7Driver(spec.name, options, points)


def _options(connection: Mapping[str, Any]) -> _Options:
    unknown = sorted(set(connection) - CONNECTION_KEYS)
    if unknown:
        raise BindingError(
            f"connection.{unknown[0]}", f"unknown option (known: {', '.join(sorted(CONNECTION_KEYS))})"
        )
    host = connection.get("host")
    if not isinstance(host, str) or not host.strip() or len(host) > 253:
        raise BindingError("connection.host", "a host name or IP address is required")
    return _Options(
        host=host.strip(),
        port=_int(connection, "port", DEFAULT_PORT, 1, 65_535),
        rack=_int(connection, "rack", DEFAULT_RACK, 0, 7),
        slot=_int(connection, "slot", DEFAULT_SLOT, 0, 31),
        timeout_s=_timeout(connection.get("timeout_s", DEFAULT_TIMEOUT_S)),
        max_gap=_int(connection, "max_gap", DEFAULT_MAX_GAP, 0, MAX_GAP),
    )


def _int(connection: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = connection.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BindingError(f"connection.{key}", f"an integer {low}..{high} is required, got {value!r}")
    return value


def _timeout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_TIMEOUT_S:
        raise BindingError("connection.timeout_s", f"seconds in (0, {MAX_TIMEOUT_S}] required, got {value!r}")
    return float(value)


def _address(index: int, binding: Binding) -> Address:
    keys = binding.address
    path = f"points[{index}]"
    unknown = sorted(set(keys) - POINT_KEYS)
    if unknown:
        raise BindingError(
            f"{path}.{unknown[0]}", f"unknown key for S7 (known: {', '.join(sorted(POINT_KEYS))})"
        )
    kind = keys.get("type")
    if kind is not None and (not isinstance(kind, str) or kind.lower() not in s7_codec.TYPES):
        raise BindingError(f"{path}.type", f"one of {', '.join(s7_codec.TYPES)} expected, got {kind!r}")
    length = keys.get("length")
    if length is not None and (
        isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= s7_codec.MAX_STRING
    ):
        raise BindingError(f"{path}.length", f"an integer 1..{s7_codec.MAX_STRING} is required")
    text = keys.get("address")
    if not isinstance(text, str):
        raise BindingError(f"{path}.address", "an S7 address such as DB1.DBD0 is required")
    try:
        return s7_codec.parse_address(text, kind, length)
    except ValueError as exc:
        key = "length" if "length" in str(exc) and length is not None else "address"
        raise BindingError(f"{path}.{key}", str(exc)) from None


async def scan(host: str, port: int, timeout_s: float) -> list[dict[str, Any]]:
    """Find the CPU at ``host:port`` and its data blocks; one draft device entry, TransportError if none."""
    return await asyncio.to_thread(_scan, host, port, timeout_s)


def _scan(host: str, port: int, timeout_s: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + SCAN_BUDGET_S
    client: _Client | None = None
    failures: list[str] = []
    rack = slot = 0
    for rack, slot in SCAN_RACK_SLOTS:
        candidate = _Client(timeout_s)
        try:
            candidate.connect(host, rack, slot, port)
            client = candidate
            break
        except (S7Error, OSError) as exc:
            failures.append(f"rack {rack} slot {slot}: {exc}")
            if isinstance(exc, S7ConnectionError) and "TCP connection failed" in str(exc):
                break  # nothing listens there: other rack/slot pairs cannot help
    if client is None:
        raise TransportError(f"S7 {host}:{port}: no CPU answered ({'; '.join(failures)})")
    try:
        info = _cpu_info(client)
        dbs = _scan_dbs(client, deadline)
        markers = _readable(client, Area.MK, 0, 0)
    finally:
        with contextlib.suppress(Exception):
            client.disconnect()
    points: list[dict[str, Any]] = []
    for number, size in dbs[:3]:
        if size >= 4:
            points.append({"point": f"db{number}_dbd0", "address": f"DB{number}.DBD0", "type": "real"})
        else:
            points.append({"point": f"db{number}_dbb0", "address": f"DB{number}.DBB0", "type": "byte"})
    if markers:
        points.append({"point": "m0_0", "address": "M0.0", "type": "bool"})
    safe_host = "".join(ch if ch.isalnum() else "-" for ch in host)
    return [
        {
            "name": f"s7-{safe_host}-{port}",
            "type": "TODO",
            "driver": "s7",
            "connection": {"host": host, "port": port, "rack": rack, "slot": slot, "timeout_s": timeout_s},
            "poll_ms": 1000,
            "points": points,
            "info": {**info, "data_blocks": [{"db": n, "size": s} for n, s in dbs]},
        }
    ]


def _cpu_info(client: Client) -> dict[str, Any]:
    info: dict[str, Any] = {"pdu_length": client.pdu_length}
    with contextlib.suppress(S7Error, OSError):
        cpu = client.get_cpu_info()
        info["module_type"] = cpu.ModuleTypeName.decode("latin-1", "replace").strip("\x00 ")
        info["serial_number"] = cpu.SerialNumber.decode("latin-1", "replace").strip("\x00 ")
        info["as_name"] = cpu.ASName.decode("latin-1", "replace").strip("\x00 ")
    with contextlib.suppress(S7Error, OSError):
        order = client.get_order_code()
        info["order_code"] = order.OrderCode.decode("latin-1", "replace").strip("\x00 ")
        info["firmware"] = f"{order.V1}.{order.V2}.{order.V3}"
    return info


def _scan_dbs(client: Client, deadline: float) -> list[tuple[int, int]]:
    try:
        numbers = sorted(set(client.list_blocks_of_type(Block.DB, SCAN_MAX_DBS)))[:SCAN_MAX_DBS]
    except (S7Error, OSError):
        # Many CPUs refuse block listing to PUT/GET clients: try the low DB numbers one by one.
        numbers = list(range(1, SCAN_PROBE_DBS + 1))
    found: list[tuple[int, int]] = []
    for number in numbers:
        if time.monotonic() > deadline:
            break
        size = _db_size(client, number, deadline)
        if size:
            found.append((number, size))
    return found


def _db_size(client: Client, number: int, deadline: float) -> int:
    """Readable length of a DB by bisection on single-byte reads (0 if it cannot be read)."""
    if not _readable(client, Area.DB, number, 0):
        return 0
    low, high = 1, SCAN_MAX_DB_SIZE  # byte low-1 is readable, byte high-1 is not (or is the limit)
    while high - low > 1 and time.monotonic() <= deadline:
        middle = (low + high) // 2
        if _readable(client, Area.DB, number, middle - 1):
            low = middle
        else:
            high = middle
    return low


def _readable(client: Client, area: Area, number: int, offset: int) -> bool:
    try:
        client.read_area(area, number, offset, 1)
    except S7ProtocolError:
        return False
    return True


__all__: Sequence[str] = ("S7Driver", "create", "scan")
