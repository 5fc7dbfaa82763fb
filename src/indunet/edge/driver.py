"""The one interface every field protocol implements; a new protocol is one new module in ``drivers/``.

A driver owns the connection to one field device and speaks its protocol; it knows nothing of the
platform, the queue or the uplink. The gateway calls it from one asyncio task per device:

    connect() -> read() every poll period (or subscribe() for the life of the connection) -> close()
    write() / call() in between, for commands from the platform

Errors say what the gateway should do next, so drivers translate their library's exceptions once,
at this boundary, into one of two kinds:

    DriverError        base; never raised itself
    ├── TransportError  the connection is gone or never came up (refused, reset, timed out): the gateway
    │                   closes the driver and reconnects with exponential back-off
    └── DeviceError     the device answered but refused or garbled it (a Modbus exception response, an
                        OPC UA Bad status, an S7 error class, a malformed frame): counted against the
                        device, the connection is kept and the next poll goes on

A ``read()`` whose blocks partly fail returns the good readings together with the errors of the bad
blocks, so one unreadable register range never hides the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from indunet.platform.models import DataType

Value = bool | int | float | str


class Reading(NamedTuple):
    """One value of one model point, timestamped at the source when the protocol carries a source
    time (OPC UA), else when the poll began. A tuple: drivers build one per point per poll."""

    point: str
    value: Value
    ts_us: int


@dataclass(slots=True)
class PollResult:
    readings: list[Reading] = field(default_factory=list)
    errors: list[DeviceError] = field(default_factory=list)


class DriverError(Exception):
    """Base of the errors a driver raises; ``str()`` is a one-line reason fit for a health report."""


class TransportError(DriverError):
    """No usable connection: reconnect with back-off."""


class DeviceError(DriverError):
    """The device refused or garbled one request; the connection stays up."""


class BindingError(ValueError):
    """A device's connection options or point addresses are invalid for its driver (start-up only).

    ``path`` locates the offending entry in the gateway configuration, e.g. ``points[3].address``.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True, slots=True)
class Binding:
    """Where one model point lives on the device.

    ``address`` holds the driver's own keys for the point (register table and offset, node id, DB
    address, JSON path ...), exactly as written in the configuration; each driver parses and checks
    them in ``create``. ``raw_type`` is the kind of value the driver produces for it (set by the
    driver), which the gateway checks against the point's data type in the data dictionary.
    Scale and offset are applied by the gateway (engineering value = raw * scale + offset), and
    inverted for writes, so every driver gets them for free.
    """

    point: str
    address: Mapping[str, Any]
    scale: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A device as its driver sees it: connection options, the bound points and, for protocols with
    callable methods, where each model command lives (``commands``: command name -> driver keys)."""

    name: str
    connection: Mapping[str, Any]
    bindings: Sequence[Binding]
    commands: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


Emit = Callable[[list[Reading]], None]


class Driver(Protocol):
    """One field device over one protocol. Methods are called from a single task, never concurrently."""

    raw_types: Mapping[str, DataType]
    """The kind of raw value the driver delivers per bound point (after decoding, before scaling)."""

    subscribes: bool
    """True when values arrive by subscription (``subscribe``) instead of by polling (``read``)."""

    async def connect(self) -> None:
        """Open the connection; TransportError when the device cannot be reached."""

    async def close(self) -> None:
        """Release the connection; never raises. Safe to call twice or before ``connect``."""

    async def read(self) -> PollResult:
        """Read every bound point once (coalescing adjacent addresses into as few requests as the
        protocol allows). Readings without a source timestamp share one, taken when the poll began,
        so one poll is one sample. TransportError when the connection broke."""

    async def subscribe(self, emit: Emit) -> None:
        """Deliver value changes to ``emit`` until the connection is lost, then raise TransportError.
        Only called when ``subscribes`` is true."""

    async def write(self, point: str, raw: Value) -> None:
        """Write the raw (already unscaled) value of one bound point."""

    async def call(self, command: str, params: Mapping[str, Any]) -> Any:
        """Invoke a device method (OPC UA Call); DeviceError when the driver has no such method."""


DriverFactory = Callable[[DeviceSpec], Driver]
"""Each driver module exposes ``create(spec) -> Driver``, which checks the spec (BindingError) and
does no I/O."""

Probe = Callable[[str, int, float], Awaitable[dict[str, Any]]]
