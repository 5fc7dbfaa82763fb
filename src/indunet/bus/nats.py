"""The only module that talks to NATS: a JetStream stream for telemetry and a core subject for rules.

Names, for ``prefix`` (``Settings.bus_prefix``)::

    stream   <prefix>_telemetry   subjects <prefix>.telemetry.<tenant>, file storage, work-queue
                                  retention (a message leaves the stream when a writer acknowledges it)
    consumer <prefix>_writer      durable pull consumer shared by every writer process
    subject  <prefix>.committed.<tenant>   committed samples, core NATS, queue group <prefix>_rules

The client runs on an event loop of its own, in a daemon thread, so that synchronous callers (the
HTTP thread pool, writers, the CLI) and coroutines on other loops (an asyncio MQTT server) share one
connection. Publishing waits for JetStream's acknowledgement, which the server sends only after the
message is stored in the (file-backed) stream; ``Nats-Msg-Id`` lets the server drop a publish retried
within the duplicate window. nats-py's exceptions become ``StorageError`` here, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from indunet.core.errors import StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")
Outcome = Literal["ack", "nak", "term"]
"""What a writer decided about a message: stored (or stored before), retry later, or never."""

DUPLICATE_WINDOW_S = 120.0
PUBLISH_TIMEOUT_S = 10.0
_CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class BusNames:
    prefix: str

    @property
    def stream(self) -> str:
        return f"{self.prefix}_telemetry"

    @property
    def consumer(self) -> str:
        return f"{self.prefix}_writer"

    @property
    def rules_group(self) -> str:
        return f"{self.prefix}_rules"

    def telemetry(self, tenant_id: str) -> str:
        return f"{self.prefix}.telemetry.{tenant_id}"

    def committed(self, tenant_id: str) -> str:
        return f"{self.prefix}.committed.{tenant_id}"


@contextlib.contextmanager
def _translate() -> Iterator[None]:
    try:
        yield
    except (TimeoutError, NatsError, OSError) as exc:
        raise StorageError(f"message bus unavailable: {exc!r}", key="error.bus") from exc


class JetStreamBus:
    """One NATS connection per process; start() connects and makes sure the stream exists."""

    def __init__(self, url: str, prefix: str, *, ack_wait_s: float = 30.0) -> None:
        self.url = url
        self.names = BusNames(prefix)
        self.ack_wait_s = ack_wait_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="indunet-bus", daemon=True)
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        try:
            self.call(self._connect())
        except BaseException:
            self.close()
            raise

    async def _connect(self) -> None:
        with _translate():
            # Once connected, reconnect forever (a NATS restart must not end a writer); but a server
            # that is not there at start-up is a configuration error, reported within seconds.
            self._nc = await asyncio.wait_for(
                nats.connect(
                    self.url,
                    connect_timeout=_CONNECT_TIMEOUT_S,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    name="indunet",
                ),
                2 * _CONNECT_TIMEOUT_S,
            )
            self._js = self._nc.jetstream(timeout=PUBLISH_TIMEOUT_S)
            try:
                await self._js.stream_info(self.names.stream)
            except NotFoundError:
                await self._js.add_stream(
                    StreamConfig(
                        name=self.names.stream,
                        subjects=[f"{self.names.prefix}.telemetry.>"],
                        retention=RetentionPolicy.WORK_QUEUE,
                        storage=StorageType.FILE,
                        duplicate_window=DUPLICATE_WINDOW_S,
                    )
                )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            if self._nc is not None:
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(self._nc.close(), self._loop).result(_CONNECT_TIMEOUT_S)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_CONNECT_TIMEOUT_S)
        if not self._loop.is_running():
            self._loop.close()

    def delete_stream(self) -> None:
        """Remove this prefix's stream and consumer (tests and benchmarks clean up with it)."""

        async def delete() -> None:
            with _translate(), contextlib.suppress(NotFoundError):
                await self._jetstream().delete_stream(self.names.stream)

        self.call(delete())

    # -- running coroutines on the bus loop ----------------------------------------------------------
    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the bus loop and wait for it, from any thread but the bus loop's own."""
        if self._closed:
            coro.close()
            raise StorageError("the message bus is closed", key="error.bus")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Start ``coro`` on the bus loop without waiting for it."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the bus loop (thread-safe), e.g. to set an asyncio.Event living there."""
        self._loop.call_soon_threadsafe(callback)

    async def call_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the bus loop from a coroutine running on any loop."""
        if asyncio.get_running_loop() is self._loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise StorageError("the message bus is not connected", key="error.bus")
        return self._js

    def _client(self) -> Client:
        if self._nc is None:
            raise StorageError("the message bus is not connected", key="error.bus")
        return self._nc

    # -- telemetry stream ----------------------------------------------------------------------------
    async def publish(self, messages: Sequence[tuple[str, str, bytes]]) -> int:
        """Publish (subject, msg_id, payload) messages concurrently; return once all are stored.

        Returns how many the server reported as duplicates (already in the stream). Any failure
        raises StorageError; messages acknowledged before it stay in the stream.
        """
        js = self._jetstream()

        async def one(subject: str, msg_id: str, payload: bytes) -> bool:
            headers = {"Nats-Msg-Id": msg_id}
            try:
                ack = await js.publish(subject, payload, headers=headers)
            except NatsTimeout:
                # The first attempt may have been stored and only its ack lost; the same msg id makes
                # the retry a no-op in that case.
                ack = await js.publish(subject, payload, headers=headers)
            return bool(ack.duplicate)

        with _translate():
            results = await asyncio.gather(*(one(*m) for m in messages))
        return sum(results)

    async def backlog(self) -> int:
        """Messages in the stream not yet acknowledged by a writer (work-queue retention drops the rest)."""
        with _translate():
            info = await self._jetstream().stream_info(self.names.stream)
        return int(info.state.messages)

    async def writer_state(self) -> tuple[int, int]:
        """(messages held by writers and not yet acknowledged, deliveries that were redeliveries)."""
        with _translate():
            info = await self._jetstream().consumer_info(self.names.stream, self.names.consumer)
        delivered = info.delivered
        redelivered = 0 if delivered is None else (delivered.consumer_seq or 0) - (delivered.stream_seq or 0)
        return int(info.num_ack_pending or 0), redelivered

    async def consume(
        self,
        handle: Callable[[list[bytes]], Awaitable[list[Outcome]]],
        stop: asyncio.Event,
        batch: int = 64,
    ) -> None:
        """Pull messages in batches and settle each as ``handle`` decides, until ``stop`` is set.

        ``handle`` gets the payloads and returns one outcome per message; messages are
        acknowledged only after it returns, so a writer that dies holding them leaves them to be
        redelivered to another writer after ``ack_wait_s``.
        """
        names = self.names
        with _translate():
            sub = await self._jetstream().pull_subscribe(
                f"{names.prefix}.telemetry.>",
                durable=names.consumer,
                stream=names.stream,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait_s, max_ack_pending=20_000
                ),
            )
        try:
            while not stop.is_set():
                try:
                    msgs: list[Msg] = await sub.fetch(batch, timeout=1.0)
                except TimeoutError:  # nats-py raises its own subclass, or the builtin from wait_for
                    continue
                except NatsError as exc:
                    log.warning("fetching from the bus failed, retrying: %r", exc)
                    await asyncio.sleep(1.0)
                    continue
                try:
                    outcomes = await handle([m.data for m in msgs])
                except Exception:
                    # A bug in one round must not end the writer; the messages come back later.
                    log.exception("writer failed on %d messages; they will be redelivered", len(msgs))
                    outcomes = ["nak"] * len(msgs)
                for msg, outcome in zip(msgs, outcomes, strict=True):
                    with contextlib.suppress(NatsError):
                        # A lost ack only means the message comes back and is skipped as applied.
                        if outcome == "ack":
                            await msg.ack()
                        elif outcome == "nak":
                            await msg.nak(delay=1.0)
                        else:
                            await msg.term()
        finally:
            with contextlib.suppress(NatsError):
                await sub.unsubscribe()

    # -- committed samples for rule workers (core NATS: at most once) --------------------------------
    async def publish_committed(self, tenant_id: str, payload: bytes) -> None:
        with _translate():
            await self._client().publish(self.names.committed(tenant_id), payload)

    async def subscribe_committed(
        self, handle: Callable[[bytes], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        """Share committed samples with the other rule workers (queue group); returns unsubscribe."""

        async def on_message(msg: Msg) -> None:
            try:
                await handle(msg.data)
            except Exception:
                log.exception("rule worker failed on committed samples")

        with _translate():
            sub = await self._client().subscribe(
                f"{self.names.prefix}.committed.>", queue=self.names.rules_group, cb=on_message
            )
        return sub.unsubscribe
