"""Commands to devices over whichever transport holds their connection.

Transports register a ``DeviceChannel`` for each connected device and unregister it on disconnect; the
router numbers each request, hands it to the channel and waits, in the caller's thread, for the device's
answer or the timeout. Channels are called from any thread, so they must hand work to their own event
loop (``call_soon_threadsafe``) and return at once.

Transports without replies (the Sparkplug host) register as a ``PointWriter`` instead: it is asked for
devices no channel holds, and a write through it is fire-and-forget. Every command is checked against
the device type first (``platform.commands``) and every call is audited with its outcome, refusals too.
"""

from __future__ import annotations

import itertools
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, ClassVar, Final, Protocol

from indunet.core.errors import Conflict, IndunetError, InvalidInput, NotFound
from indunet.platform import audit, commands
from indunet.platform.devices import get_device
from indunet.platform.devicetypes import validator_for
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal

MAX_TIMEOUT_MS = 60_000
DEFAULT_TIMEOUT_MS = 10_000


class RpcTimeout(IndunetError):
    status: ClassVar[int] = 504
    code: ClassVar[str] = "rpc_timeout"


SENT: Final = {"status": "sent"}
"""The answer to a command delivered without waiting for a reply (one-way, or a transport without any)."""


class DeviceChannel(Protocol):
    def send_rpc(self, request_id: int, method: str, params: Any) -> None:
        """Queue the request for delivery to the device; never block. Conflict if the device is gone."""

    def send_attributes(self, update: dict[str, Any]) -> None:
        """Queue a shared-attribute update for delivery to the device; never block."""


class PointWriter(Protocol):
    """A transport that writes points of the devices it holds and gets no reply (Sparkplug NCMD/DCMD)."""

    def state_of(self, device_id: str) -> str | None:
        """``online``/``offline`` for a device this writer holds, None for any other."""

    def send_command(self, principal: Principal, device_id: str, point: str, value: Any) -> None:
        """Send the write; NotFound if not held, Conflict if offline, InvalidInput if it cannot carry it."""


class RpcRouter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, DeviceChannel] = {}
        self._writers: list[PointWriter] = []
        self._pending: dict[tuple[str, int], Future[Any]] = {}
        self._ids = itertools.count(1)

    def register(self, device_id: str, channel: DeviceChannel) -> None:
        with self._lock:
            self._channels[device_id] = channel

    def unregister(self, device_id: str, channel: DeviceChannel) -> None:
        with self._lock:
            if self._channels.get(device_id) is channel:
                del self._channels[device_id]

    def channel(self, device_id: str) -> DeviceChannel | None:
        with self._lock:
            return self._channels.get(device_id)

    def add_writer(self, writer: PointWriter) -> None:
        with self._lock:
            self._writers.append(writer)

    def remove_writer(self, writer: PointWriter) -> None:
        with self._lock:
            self._writers = [w for w in self._writers if w is not writer]

    def writer(self, device_id: str) -> PointWriter | None:
        with self._lock:
            writers = list(self._writers)
        return next((w for w in writers if w.state_of(device_id) is not None), None)

    def respond(self, device_id: str, request_id: int, result: Any) -> bool:
        """The device's answer to a request; False when nobody waits for it (late or unknown)."""
        with self._lock:
            future = self._pending.pop((device_id, request_id), None)
        if future is None:
            return False
        future.set_result(result)
        return True

    def call(self, device_id: str, method: str, params: Any, timeout_ms: int, oneway: bool) -> Any:
        channel = self.channel(device_id)
        if channel is None:
            raise Conflict("the device is not connected", key="error.device_offline")
        request_id = next(self._ids)
        future: Future[Any] = Future()
        if not oneway:
            with self._lock:
                self._pending[(device_id, request_id)] = future
        try:
            channel.send_rpc(request_id, method, params)
            if oneway:
                return None
            return future.result(timeout=timeout_ms / 1000)
        except FutureTimeout:
            raise RpcTimeout(
                f"the device did not answer within {timeout_ms} ms", key="error.rpc_timeout"
            ) from None
        finally:
            with self._lock:
                self._pending.pop((device_id, request_id), None)


_routers: weakref.WeakKeyDictionary[Platform, RpcRouter] = weakref.WeakKeyDictionary()
_routers_lock = threading.Lock()


def router_for(platform: Platform) -> RpcRouter:
    """The platform's router; one per ``Platform`` so test platforms never see each other's devices."""
    with _routers_lock:
        router = _routers.get(platform)
        if router is None:
            router = _routers[platform] = RpcRouter()
        return router


def call_device(
    platform: Platform,
    principal: Principal,
    device_id: str,
    method: str,
    params: Any,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    oneway: bool = False,
) -> Any:
    """Check the command against the device's type, send it and return the device's answer, or
    ``SENT`` when nothing answers (one-way, Sparkplug); audited whatever happens."""
    principal.require(Permission.WRITE_DEVICES)
    if not 1 <= timeout_ms <= MAX_TIMEOUT_MS:
        raise InvalidInput(f"timeout_ms must be within 1..{MAX_TIMEOUT_MS}", key="error.bad_timeout")
    device = get_device(platform, principal, device_id)
    request = {"method": method, "params": params, "oneway": oneway, "timeout_ms": timeout_ms}
    outcome: dict[str, Any] = {"outcome": "error"}
    try:
        checked = commands.check(validator_for(platform, principal.tenant_id, device["type"]), method, params)
        result = _deliver(platform, principal, device["id"], checked, method, params, timeout_ms, oneway)
        outcome = {"outcome": "sent"} if result is SENT else {"outcome": "answered", "result": result}
        return result
    except RpcTimeout:
        outcome = {"outcome": "timeout"}
        raise
    except (Conflict, NotFound):
        outcome = {"outcome": "offline"}
        raise
    except InvalidInput as exc:
        outcome = {"outcome": "refused", "reason": exc.message}
        raise
    finally:
        with platform.engine.begin() as conn:
            audit.record(conn, principal, "rpc", "device", device["id"], request, outcome)


def _deliver(
    platform: Platform,
    principal: Principal,
    device_id: str,
    checked: commands.Checked,
    method: str,
    params: Any,
    timeout_ms: int,
    oneway: bool,
) -> Any:
    router = router_for(platform)
    if router.channel(device_id) is None and (writer := router.writer(device_id)) is not None:
        if not isinstance(checked, commands.PointWrite):
            raise InvalidInput(
                "this device's transport carries point writes only, not commands",
                key="error.rpc_unsupported",
            )
        writer.send_command(principal, device_id, checked.point, checked.value)
        return SENT
    result = router.call(device_id, method, params, timeout_ms, oneway)
    return SENT if oneway else result


def answer_client_rpc(method: str, session_limits: Callable[[], dict[str, Any]]) -> Any:
    """The platform's answer to a device's own RPC (ThingsBoard client-side RPC), whatever the transport.

    ``session_limits`` gives the limits of the transport the device is on (``getSessionLimits``).
    InvalidInput for a method the platform does not answer.
    """
    if method == "getCurrentTime":
        return {"currentTime": int(time.time() * 1000)}
    if method == "getSessionLimits":
        return session_limits()
    raise InvalidInput(
        f"unsupported method {method[:128]!r}", key="error.rpc_unknown_method", method=method[:128]
    )
