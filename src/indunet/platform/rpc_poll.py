"""Commands for devices that fetch them by long polling (ThingsBoard's HTTP ``GET /api/v1/{token}/rpc``).

A device is reachable while one of its polls waits and for ``GRACE_S`` after the last one ended, the
time a device needs to carry out a command, answer it and poll again; a command arriving in that gap
is queued (at most ``MAX_QUEUED``, each for at most ``GRACE_S``) and handed to the next poll. After
that the device counts as gone: the channel unregisters itself and the command is refused (409).

Polls are coroutines on the web server's event loop; commands arrive from the router's caller thread.
A command is bound to one waiting poll under the lock, so a poll that times out or whose client goes
away at that moment puts it back in the queue instead of losing it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from indunet.core.errors import Conflict
from indunet.platform.rpc import RpcRouter, router_for
from indunet.platform.runtime import Platform

MAX_POLL_MS: Final = 60_000
DEFAULT_POLL_MS: Final = 20_000
MAX_POLLS_PER_DEVICE: Final = 4
MAX_QUEUED: Final = 16
GRACE_S: Final = 10.0
# How often a waiting poll checks that its client is still there.
_CHECK_S: Final = 1.0

Command = dict[str, Any]


@dataclass(eq=False, slots=True)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    woken: asyncio.Future[None]
    command: Command | None = None


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(eq=False)
class PollChannel:
    """The ``DeviceChannel`` of one long-polling device."""

    router: RpcRouter
    device_id: str
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _waiters: deque[_Waiter] = field(default_factory=deque)
    _queued: deque[tuple[float, Command]] = field(default_factory=deque)
    _idle_since: float = field(default_factory=time.monotonic)

    # DeviceChannel, called from any thread
    def send_rpc(self, request_id: int, method: str, params: Any) -> None:
        command = {"id": request_id, "method": method, "params": params}
        with self._lock:
            if self._waiters:
                waiter = self._waiters.popleft()
                waiter.command = command
                waiter.loop.call_soon_threadsafe(_wake, waiter.woken)
                return
            self._drop_stale()
            if time.monotonic() - self._idle_since > GRACE_S:
                self.router.unregister(self.device_id, self)
                raise Conflict("the device is not connected", key="error.device_offline")
            if len(self._queued) >= MAX_QUEUED:
                raise Conflict(
                    f"the device has {MAX_QUEUED} commands waiting already", key="error.rpc_queue_full"
                )
            self._queued.append((time.monotonic(), command))

    def send_attributes(self, update: dict[str, Any]) -> None:
        """Shared-attribute updates are not carried by the RPC poll; the device asks for them."""

    async def poll(self, timeout_s: float, gone: Callable[[], Awaitable[bool]]) -> Command | None:
        """The next command for the device, or None after ``timeout_s`` or once ``gone()`` is true."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._drop_stale()
            if self._queued:
                self._idle_since = time.monotonic()
                return self._queued.popleft()[1]
            if len(self._waiters) >= MAX_POLLS_PER_DEVICE:
                raise Conflict(
                    f"at most {MAX_POLLS_PER_DEVICE} polls per device at a time", key="error.rpc_poll_limit"
                )
            waiter = _Waiter(loop, loop.create_future())
            self._waiters.append(waiter)
        self.router.register(self.device_id, self)
        abandoned = True
        try:
            abandoned = await self._wait(waiter, timeout_s, gone)
        finally:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                if not self._waiters:
                    self._idle_since = time.monotonic()
                command, waiter.command = waiter.command, None
                if command is not None and abandoned:
                    self._queued.appendleft((time.monotonic(), command))
                    command = None
        return command

    async def _wait(self, waiter: _Waiter, timeout_s: float, gone: Callable[[], Awaitable[bool]]) -> bool:
        """True when the client went away; False when woken or timed out."""
        deadline = waiter.loop.time() + timeout_s
        while (remaining := deadline - waiter.loop.time()) > 0:
            try:
                await asyncio.wait_for(asyncio.shield(waiter.woken), min(remaining, _CHECK_S))
                return False
            except TimeoutError:
                if await gone():
                    return True
        return False

    def _drop_stale(self) -> None:
        # A queued command older than the grace time has outlived any caller still waiting for it.
        limit = time.monotonic() - GRACE_S
        while self._queued and self._queued[0][0] < limit:
            self._queued.popleft()

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiters)


_channels: weakref.WeakKeyDictionary[Platform, dict[str, PollChannel]] = weakref.WeakKeyDictionary()
_channels_lock = threading.Lock()


def channel_for(platform: Platform, device_id: str) -> PollChannel:
    """The poll channel of a device; one per device, so concurrent polls share its queue."""
    with _channels_lock:
        channels = _channels.setdefault(platform, {})
        channel = channels.get(device_id)
        if channel is None:
            channel = channels[device_id] = PollChannel(router_for(platform), device_id)
        return channel
