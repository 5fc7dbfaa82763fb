"""The device-facing MQTT 5 server: one asyncio task per connection, ThingsBoard's device API.

``MqttServer`` runs on the caller's event loop; ``MqttThread`` gives it a loop of its own so that the
HTTP API (``indunet serve``) and tests can run it beside other work, and stops it cleanly.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from indunet.platform.rpc import RpcRouter, router_for
from indunet.platform.runtime import Platform
from indunet.transport.mqtt.connection import MqttConnection
from indunet.transport.mqtt.ratelimit import RateLimiter
from indunet.transport.mqtt.sessions import SessionStore


class MqttServer:
    def __init__(self, platform: Platform, host: str | None = None, port: int | None = None) -> None:
        settings = platform.settings
        self.platform = platform
        self.host = host or settings.mqtt_host or settings.host
        self.port = settings.mqtt_port if port is None else port
        self.router: RpcRouter = router_for(platform)
        self.sessions = SessionStore()
        self.limiter = RateLimiter(
            settings.mqtt_device_rate,
            settings.mqtt_device_burst,
            settings.mqtt_tenant_rate,
            settings.mqtt_tenant_burst,
        )
        self._live: dict[tuple[str, str], MqttConnection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._live.values()):
            connection.shut_down()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await MqttConnection(self, reader, writer).run()
        finally:
            self._tasks.discard(task)

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

    def __init__(self, platform: Platform, host: str | None = None, port: int | None = None) -> None:
        self.server = MqttServer(platform, host, port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="indunet-mqtt", daemon=True)

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> MqttThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result()
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
