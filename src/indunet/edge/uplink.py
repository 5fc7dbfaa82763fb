"""The uplink: queued samples to the platform over its gateway API, MQTT 5 first and HTTP as fallback.

Theory of operation. One sender drains the queue oldest first, so samples arrive in the order they
were read, with their original timestamps. Over MQTT it keeps up to ``in_flight`` messages of up to
``batch_max_samples`` samples each on the wire (QoS 1; the platform sends the PUBACK after it
committed them) and deletes a message's samples from the queue when its PUBACK says success. A
refusal that will never succeed (malformed, not authorised, too large) moves the samples to the
dead-letter table; anything else (quota, a storage hiccup) stops the pipeline, waits, and sends
again from the oldest sample still queued. A lost connection fails the messages in flight; they are
still queued and go again after the reconnect: delivery is at least once. The few samples whose
PUBACK was lost with the connection arrive twice; the SQLite store keeps one value per point and
timestamp, PostgreSQL keeps both copies of the same value (see ``store.timeseries.postgres``).

While MQTT has been down for ``http_fallback_after_s`` and an HTTP URL is configured, the same
payloads go to the platform's HTTP gateway API, and the MQTT connection is retried with back-off
in between. Commands from the platform arrive only over MQTT.

On every (re)connect the gateway announces its devices (``v1/gateway/connect`` with their type),
which creates them on the platform on first sight and routes their commands to this gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from indunet.edge.config import UplinkConfig
from indunet.edge.mqtt_client import ConnectionLost, ConnectRefused, MqttClient, PubAck
from indunet.edge.queue import Queued, SampleQueue

log = logging.getLogger(__name__)

GATEWAY_TELEMETRY = "v1/gateway/telemetry"
GATEWAY_CONNECT = "v1/gateway/connect"
GATEWAY_ATTRIBUTES = "v1/gateway/attributes"
GATEWAY_RPC = "v1/gateway/rpc"
OWN_TELEMETRY = "v1/devices/me/telemetry"

# PUBACK reasons that a retry cannot cure: the samples go to the dead-letter table.
PERMANENT = frozenset({0x87, 0x90, 0x95, 0x99})
BACKOFF_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    rows: Sequence[Queued]


def messages(rows: Sequence[Queued], own_name: str, max_bytes: int) -> tuple[list[Message], list[Queued]]:
    """The gateway-API messages for ``rows`` (children's samples apart from the gateway's own), each
    at most ``max_bytes``; and the rows that alone exceed it, which no message can carry."""
    out: list[Message] = []
    too_large: list[Queued] = []
    children: dict[str, list[str]] = {}
    child_rows: list[Queued] = []
    child_size = 2
    own: list[str] = []
    own_rows: list[Queued] = []
    own_size = 2

    def flush_children() -> None:
        nonlocal children, child_rows, child_size
        if child_rows:
            body = ",".join(f"{json.dumps(name)}:[{','.join(items)}]" for name, items in children.items())
            out.append(Message(GATEWAY_TELEMETRY, ("{" + body + "}").encode(), child_rows))
        children, child_rows, child_size = {}, [], 2

    def flush_own() -> None:
        nonlocal own, own_rows, own_size
        if own_rows:
            out.append(Message(OWN_TELEMETRY, ("[" + ",".join(own) + "]").encode(), own_rows))
        own, own_rows, own_size = [], [], 2

    # Sizes are exact: "{" + '"name":[item,item]' joined by "," + "}", and "[" + items + "]".
    for row in rows:
        text = f'{{"ts":{row.ts_ms},"values":{row.body}}}'
        item = len(text.encode())
        if row.device == own_name:
            if 2 + item > max_bytes:
                too_large.append(row)
                continue
            if own_size + item + (1 if own else 0) > max_bytes:
                flush_own()
            own_size += item + (1 if own else 0)
            own.append(text)
            own_rows.append(row)
        else:
            name = len(json.dumps(row.device).encode())
            if 2 + name + 3 + item > max_bytes:
                too_large.append(row)
                continue
            cost = item + 1 if row.device in children else (1 if children else 0) + name + 3 + item
            if child_size + cost > max_bytes:
                flush_children()
                cost = name + 3 + item
            child_size += cost
            children.setdefault(row.device, []).append(text)
            child_rows.append(row)
    flush_children()
    flush_own()
    return out, too_large


class Uplink:
    def __init__(
        self,
        config: UplinkConfig,
        gateway_name: str,
        queue: SampleQueue,
        devices: Sequence[tuple[str, str]],
        on_message: Callable[[str, bytes], None],
    ) -> None:
        self.config = config
        self.name = gateway_name
        self.queue = queue
        self.devices = devices
        self.on_message = on_message
        self.mode = "down"
        self.sent = 0
        self.last_error = ""
        self.wakeup = asyncio.Event()
        self.client: MqttClient | None = None
        # Called after every MQTT (re)connect, once the devices are announced (state reports go then).
        self.on_connected: Callable[[], Awaitable[None]] | None = None
        self._down_since = time.monotonic()

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        async with httpx.AsyncClient(timeout=self.config.timeout_s) as http:
            while not stop.is_set():
                if self.config.mqtt:
                    try:
                        await self._mqtt_session(stop)
                        failures = 0
                    except ConnectRefused as exc:
                        self._lost(f"MQTT refused the gateway: {exc}")
                        failures = max(failures, 5)  # a bad token: retry slowly
                    except ConnectionLost as exc:
                        self._lost(str(exc))
                    except Exception as exc:  # a bug must not end the uplink: log it and go on
                        log.exception("uplink failed")
                        self._lost(f"{type(exc).__name__}: {exc}")
                if stop.is_set():
                    break
                failures += 1
                delay = min(BACKOFF_MAX_S, 2 ** min(failures - 1, 6)) * random.uniform(0.5, 1.0)  # noqa: S311
                fallback = self.config.http and (
                    not self.config.mqtt
                    or time.monotonic() - self._down_since >= self.config.http_fallback_after_s
                )
                if fallback:
                    await self._http_session(http, stop, delay)
                else:
                    await _sleep(stop, delay)

    async def publish_attributes(self, attributes: dict[str, dict[str, object]]) -> None:
        """Best-effort state report (QoS 0): lost while the uplink is down, sent afresh next time."""
        client = self.client
        if client is None or not client.connected or not attributes:
            return
        with contextlib.suppress(ConnectionLost, OSError):
            await client.publish_qos0(GATEWAY_ATTRIBUTES, json.dumps(attributes).encode())

    async def reply(self, topic: str, document: object) -> None:
        client = self.client
        if client is None or not client.connected:
            log.warning("cannot answer on %s: the uplink is down", topic)
            return
        try:
            await client.publish(topic, json.dumps(document, default=str).encode())
        except ConnectionLost as exc:
            log.warning("answer on %s lost: %s", topic, exc)

    def _lost(self, reason: str) -> None:
        if self.mode != "down":
            log.warning("uplink down: %s", reason)
            self._down_since = time.monotonic()
        self.mode = "down"
        self.last_error = reason

    async def _mqtt_session(self, stop: asyncio.Event) -> None:
        url = urlsplit(self.config.mqtt or "")
        tls: ssl.SSLContext | None = None
        if url.scheme == "mqtts":
            tls = ssl.create_default_context(cafile=str(self.config.ca_file) if self.config.ca_file else None)
        client = MqttClient(
            url.hostname or "127.0.0.1",
            url.port or (8883 if tls else 1883),
            token=self.config.token,
            client_id=f"indunet-gw-{self.name}"[:64],
            on_message=self.on_message,
            tls=tls,
            keep_alive_s=self.config.keep_alive_s,
            timeout_s=self.config.timeout_s,
            window=self.config.in_flight,
        )
        await client.connect()
        self.client = client
        try:
            await client.subscribe(GATEWAY_RPC, GATEWAY_ATTRIBUTES)
            for name, type_name in self.devices:
                ack = await client.publish(
                    GATEWAY_CONNECT, json.dumps({"device": name, "type": type_name}).encode()
                )
                if not ack.ok:
                    log.warning("platform refused device %s: %s", name, ack.message)
            if self.mode != "mqtt":
                log.info("uplink connected over MQTT")
            self.mode = "mqtt"
            if self.on_connected is not None:
                await self.on_connected()
            await self._drain_mqtt(client, stop)
        finally:
            self.client = None
            await client.close()

    async def _drain_mqtt(self, client: MqttClient, stop: asyncio.Event) -> None:
        cursor = 0
        in_flight: deque[tuple[Message, asyncio.Task[PubAck]]] = deque()
        try:
            while not stop.is_set():
                while len(in_flight) < self.config.in_flight:
                    rows = await asyncio.to_thread(self.queue.peek, self.config.batch_max_samples, cursor)
                    if not rows:
                        break
                    cursor = rows[-1].id
                    batch, too_large = messages(rows, self.name, self._max_payload(client))
                    if too_large:
                        await asyncio.to_thread(
                            self.queue.reject,
                            [r.id for r in too_large],
                            "larger than the server's packet limit",
                        )
                    for message in batch:
                        in_flight.append(
                            (message, asyncio.create_task(client.publish(message.topic, message.payload)))
                        )
                if not in_flight:
                    self.wakeup.clear()
                    closed = asyncio.ensure_future(client.wait_closed())
                    woken = asyncio.ensure_future(self.wakeup.wait())
                    stopped = asyncio.ensure_future(stop.wait())
                    await asyncio.wait(
                        {closed, woken, stopped}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
                    )
                    for waiter in (closed, woken, stopped):
                        waiter.cancel()
                    if not client.connected:
                        raise ConnectionLost(client._error)
                    continue
                message, task = in_flight.popleft()
                ack = await task
                if ack.ok:
                    await asyncio.to_thread(self.queue.ack, [r.id for r in message.rows])
                    self.sent += len(message.rows)
                    if ack.message:
                        log.warning("platform stored part of a batch: %s", ack.message[:300])
                elif ack.reason in PERMANENT:
                    log.warning("platform refused %d samples: %s", len(message.rows), ack.message)
                    await asyncio.to_thread(
                        self.queue.reject, [r.id for r in message.rows], ack.message or hex(ack.reason)
                    )
                else:
                    # Transient: let the rest of the window land, then start again from the oldest left.
                    log.info("platform deferred a batch (0x%02x %s); retrying", ack.reason, ack.message)
                    await self._settle(in_flight)
                    in_flight.clear()
                    cursor = 0
                    await _sleep(stop, 1.0)
        finally:
            for _, task in in_flight:
                task.cancel()

    def _max_payload(self, client: MqttClient) -> int:
        # The packet limit covers the fixed header, topic and properties too; 512 bytes is ample for them.
        return max(1024, min(self.config.batch_max_bytes, client.max_packet_size - 512))

    async def _settle(self, in_flight: deque[tuple[Message, asyncio.Task[PubAck]]]) -> None:
        for message, task in in_flight:
            try:
                ack = await task
            except ConnectionLost:
                return
            if ack.ok:
                await asyncio.to_thread(self.queue.ack, [r.id for r in message.rows])
                self.sent += len(message.rows)

    async def _http_session(self, http: httpx.AsyncClient, stop: asyncio.Event, duration_s: float) -> None:
        """Send over HTTP for ``duration_s`` (then MQTT gets another try)."""
        base = (self.config.http or "").rstrip("/") + f"/api/v1/{self.config.token}"
        deadline = time.monotonic() + duration_s
        try:
            for name, type_name in self.devices:
                response = await http.post(
                    f"{base}/gateway/connect", json={"device": name, "type": type_name}
                )
                if response.status_code >= 400:
                    log.warning("platform refused device %s over HTTP: %s", name, response.text[:200])
            if self.mode != "http":
                log.info("uplink over HTTP (MQTT down: %s)", self.last_error)
            self.mode = "http"
            while not stop.is_set() and time.monotonic() < deadline:
                rows = await asyncio.to_thread(self.queue.peek, self.config.batch_max_samples, 0)
                if not rows:
                    self.wakeup.clear()
                    await _sleep_or(stop, self.wakeup, min(1.0, max(0.0, deadline - time.monotonic())))
                    continue
                batch, too_large = messages(rows, self.name, self.config.batch_max_bytes)
                if too_large:
                    await asyncio.to_thread(
                        self.queue.reject, [r.id for r in too_large], "larger than a batch may be"
                    )
                for message in batch:
                    path = "/gateway/telemetry" if message.topic == GATEWAY_TELEMETRY else "/telemetry"
                    response = await http.post(
                        base + path, content=message.payload, headers={"content-type": "application/json"}
                    )
                    ids = [r.id for r in message.rows]
                    if response.status_code == 200:
                        await asyncio.to_thread(self.queue.ack, ids)
                        self.sent += len(ids)
                    elif response.status_code in (400, 413, 422):
                        await asyncio.to_thread(self.queue.reject, ids, response.text[:500])
                    else:
                        raise httpx.HTTPStatusError(
                            f"HTTP {response.status_code}: {response.text[:200]}",
                            request=response.request,
                            response=response,
                        )
        except httpx.HTTPError as exc:
            self._lost(f"HTTP fallback failed: {exc}")
            await _sleep(stop, max(0.0, deadline - time.monotonic()))


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _sleep_or(stop: asyncio.Event, other: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(other.wait())]
    await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
