"""Commands to devices over whichever transport holds their connection.

Transports register a ``DeviceChannel`` for each connected device and unregister it on disconnect; the
router numbers each request, hands it to the channel and waits, in the caller's thread, for the device's
answer or the timeout. Channels are called from any thread, so they must hand work to their own event
loop (``call_soon_threadsafe``) and return at once. Every call is audited with its outcome.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, ClassVar, Protocol

from indunet.core.errors import Conflict, IndunetError, InvalidInput
from indunet.platform import audit
from indunet.platform.devices import get_device
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal

MAX_TIMEOUT_MS = 60_000
DEFAULT_TIMEOUT_MS = 10_000


class RpcTimeout(IndunetError):
    status: ClassVar[int] = 504
    code: ClassVar[str] = "rpc_timeout"


class DeviceChannel(Protocol):
    def send_rpc(self, request_id: int, method: str, params: Any) -> None:
        """Queue the request for delivery to the device; never block."""

    def send_attributes(self, update: dict[str, Any]) -> None:
        """Queue a shared-attribute update for delivery to the device; never block."""


class RpcRouter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, DeviceChannel] = {}
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
        channel.send_rpc(request_id, method, params)
        if oneway:
            return None
        try:
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
    """Send a command to the device and return its answer (None for one-way calls); audited."""
    principal.require(Permission.WRITE_DEVICES)
    if not 1 <= timeout_ms <= MAX_TIMEOUT_MS:
        raise InvalidInput(f"timeout_ms must be within 1..{MAX_TIMEOUT_MS}", key="error.bad_timeout")
    device = get_device(platform, principal, device_id)
    request = {"method": method, "params": params, "oneway": oneway, "timeout_ms": timeout_ms}
    outcome: dict[str, Any] = {"outcome": "error"}
    try:
        result = router_for(platform).call(device["id"], method, params, timeout_ms, oneway)
        outcome = {"outcome": "sent" if oneway else "answered", "result": result}
        return result
    except RpcTimeout:
        outcome = {"outcome": "timeout"}
        raise
    except Conflict:
        outcome = {"outcome": "offline"}
        raise
    finally:
        with platform.engine.begin() as conn:
            audit.record(conn, principal, "rpc", "device", device["id"], request, outcome)
