"""The device-facing MQTT 5 server: one asyncio task per connection, ThingsBoard's device API.

``MqttServer`` runs on the caller's event loop; ``MqttThread`` gives it a loop of its own so that the
HTTP API (``indunet serve``) and tests can run it beside other work, and stops it cleanly.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from typing import Any

from indunet.platform.group_commit import GroupCommit
from indunet.platform.rpc import RpcRouter, router_for
from indunet.platform.runtime import Platform
from indunet.transport.mqtt import tls
from indunet.transport.mqtt.connection import MqttConnection
from indunet.transport.mqtt.ratelimit import RateLimiter
from indunet.transport.mqtt.sessions import SessionStore

KEEP_ALIVE_SWEEP_S = 1.0
"""How often silent connections are looked for: a keep-alive timeout is noticed within this."""


class MqttServer:
    """Listens on ``port`` and, when TLS is configured, on ``tls_port``; each is 0 while it is closed.

    Ports from the settings: 0 keeps that listener closed. Ports passed in: 0 means any free port.
    """

    def __init__(
        self,
        platform: Platform,
        host: str | None = None,
        port: int | None = None,
        tls_port: int | None = None,
    ) -> None:
        settings = platform.settings
        self.platform = platform
        self.host = host or settings.mqtt_host or settings.host
        self.port = settings.mqtt_port if port is None else port
        self.tls_port = settings.mqtt_tls_port if tls_port is None else tls_port
        self._plain = port is not None or settings.mqtt_port != 0
        # Built here, so that a bad certificate stops start-up in the caller's thread with a clear error.
        self._tls = tls.server_context(settings) if tls_port is not None or settings.mqtt_tls_port else None
        self.router: RpcRouter = router_for(platform)
        self.sessions = SessionStore()
        self.group_commit = GroupCommit(platform)
        self.limiter = RateLimiter(
            settings.mqtt_device_rate,
            settings.mqtt_device_burst,
            settings.mqtt_tenant_rate,
            settings.mqtt_tenant_burst,
        )
        self._live: dict[tuple[str, str], MqttConnection] = {}
        self._connections: set[MqttConnection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._listeners: list[asyncio.Server] = []

    async def start(self) -> None:
        if self._plain:
            self.port = await self._listen(self.port, None)
        if self._tls is not None:
            self.tls_port = await self._listen(self.tls_port, self._tls)
        self._sweeper = asyncio.create_task(self._sweep_keep_alive())

    async def _sweep_keep_alive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(KEEP_ALIVE_SWEEP_S)
            now = loop.time()
            for connection in list(self._connections):
                connection.check_keep_alive(now)

    async def _listen(self, port: int, context: ssl.SSLContext | None) -> int:
        timeout = tls.HANDSHAKE_TIMEOUT_S if context is not None else None
        listener = await asyncio.get_running_loop().create_server(
            self._accept, self.host, port, ssl=context, ssl_handshake_timeout=timeout
        )
        self._listeners.append(listener)
        bound: int = listener.sockets[0].getsockname()[1]
        return bound

    async def close(self) -> None:
        for listener in self._listeners:
            listener.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        connections = list(self._connections)
        for connection in connections:
            connection.shut_down()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.group_commit.close()
        # Each connection stores its will and keeps its session on the way out.
        await asyncio.gather(*(c.finished for c in connections), return_exceptions=True)
        for listener in self._listeners:
            await listener.wait_closed()

    def _accept(self) -> MqttConnection:
        return MqttConnection(self)

    def connection_opened(self, connection: MqttConnection) -> None:
        """The transport is up (for TLS: after the handshake, so a failed one leaves nothing behind)."""
        self._connections.add(connection)
        connection.finished.add_done_callback(lambda _: self._connections.discard(connection))

    def track(self, task: asyncio.Task[Any]) -> None:
        """Keep a connection's task until it ends, so that ``close`` can cancel it."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- connection registry ---------------------------------------------------------------------------
    def connection_started(self, connection: MqttConnection) -> None:
        key = (connection.device_id, connection.client_id)
        previous = self._live.get(key)
        if previous is not None:
            previous.take_over()
        self._live[key] = connection
        self.router.register(connection.device_id, connection)

    def connection_ended(self, connection: MqttConnection) -> None:
        key = (connection.device_id, connection.client_id)
        if self._live.get(key) is connection:
            del self._live[key]
        self.router.unregister(connection.device_id, connection)

    def session_limits(self) -> dict[str, Any]:
        """The limits this server enforces, in ThingsBoard's ``getSessionLimits`` format."""
        settings = self.platform.settings
        rate = f"{int(settings.mqtt_device_burst)}:{max(1, round(settings.mqtt_device_burst / settings.mqtt_device_rate))}"
        return {
            "maxPayloadSize": settings.mqtt_max_packet_bytes,
            "maxInflightMessages": settings.mqtt_receive_maximum,
            "rateLimits": {"messages": rate, "telemetryMessages": rate, "telemetryDataPoints": ""},
        }


class MqttThread:
    """An ``MqttServer`` on its own event loop thread; ``start`` returns once it listens."""

    def __init__(
        self,
        platform: Platform,
        host: str | None = None,
        port: int | None = None,
        tls_port: int | None = None,
    ) -> None:
        self.server = MqttServer(platform, host, port, tls_port)
        self._loop = _new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="indunet-mqtt", daemon=True)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def tls_port(self) -> int:
        return self.server.tls_port

    def start(self) -> MqttThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result()
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (it comes with uvicorn[standard] on Linux): thousands of device
    sockets cost it a fraction of the CPU the selector loop spends on them."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
