"""The only module that talks to NATS: JetStream streams for telemetry and for rule workers, and the
leases by which rule workers share the rule partitions.

Names, for ``prefix`` (``Settings.bus_prefix``)::

    stream   <prefix>_telemetry   subjects <prefix>.telemetry.<tenant>, file storage, work-queue
                                  retention (a message leaves the stream when a writer acknowledges it)
    consumer <prefix>_writer      durable pull consumer shared by every writer process
    stream   <prefix>_committed   subjects <prefix>.committed.<tenant>.<partition>: what writers stored,
                                  split by rule partition (``indunet.bus.partition``); file storage,
                                  work-queue retention, at most COMMITTED_MAX_AGE_S / COMMITTED_MAX_BYTES
    consumer <prefix>_rules_<p>   durable pull consumer of partition p, used by the rule worker holding
                                  p's lease
    bucket   <prefix>_rules       key-value: ``p.<n>`` = lease of partition n, ``w.<id>`` = a live rule
                                  worker; an entry not rewritten within the bucket's TTL expires

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
import os
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from indunet.core.errors import ConfigurationError, StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")
Outcome = Literal["ack", "nak", "term"]
"""What a consumer decided about a message: done (or done before), retry later, or never."""
Handler = Callable[[list[bytes]], Awaitable[list[Outcome]]]

DUPLICATE_WINDOW_S = 120.0
COMMITTED_DUPLICATE_WINDOW_S = 600.0
"""Longer than a writer's redelivery takes (``bus_ack_wait_s`` plus a round), so that the pieces a
redelivered message publishes again are recognised as copies."""
COMMITTED_MAX_AGE_S = 86_400.0
COMMITTED_MAX_BYTES = 1 << 30
"""The rule workers' backlog is bounded: with no rule worker running, the oldest samples go first."""
PUBLISH_TIMEOUT_S = 10.0
_CONNECT_TIMEOUT_S = 5.0
_ERRORS = (TimeoutError, NatsError, OSError)


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
    def committed_stream(self) -> str:
        return f"{self.prefix}_committed"

    @property
    def leases(self) -> str:
        return f"{self.prefix}_rules"

    def telemetry(self, tenant_id: str) -> str:
        return f"{self.prefix}.telemetry.{tenant_id}"

    def committed(self, tenant_id: str, partition: int) -> str:
        return f"{self.prefix}.committed.{tenant_id}.{partition}"

    def partition_filter(self, partition: int) -> str:
        return f"{self.prefix}.committed.*.{partition}"

    def rules_consumer(self, partition: int) -> str:
        return f"{self.prefix}_rules_{partition}"


def _partitions_note(partitions: int) -> str:
    return f"indunet committed samples in {partitions} rule partitions"


@contextlib.contextmanager
def _translate() -> Iterator[None]:
    try:
        yield
    except _ERRORS as exc:
        raise StorageError(f"message bus unavailable: {exc!r}", key="error.bus") from exc


class JetStreamBus:
    """One NATS connection per process; start() connects and makes sure both streams exist."""

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        ack_wait_s: float = 30.0,
        rule_partitions: int = 8,
        lease_s: float = 10.0,
    ) -> None:
        self.url = url
        self.names = BusNames(prefix)
        self.ack_wait_s = ack_wait_s
        self.rule_partitions = rule_partitions
        self.lease_s = lease_s
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
            await self._ensure_stream(
                StreamConfig(
                    name=self.names.stream,
                    subjects=[f"{self.names.prefix}.telemetry.>"],
                    retention=RetentionPolicy.WORK_QUEUE,
                    storage=StorageType.FILE,
                    duplicate_window=DUPLICATE_WINDOW_S,
                )
            )
            committed = await self._ensure_stream(
                StreamConfig(
                    name=self.names.committed_stream,
                    description=_partitions_note(self.rule_partitions),
                    subjects=[f"{self.names.prefix}.committed.>"],
                    retention=RetentionPolicy.WORK_QUEUE,
                    storage=StorageType.FILE,
                    discard=DiscardPolicy.OLD,
                    max_age=COMMITTED_MAX_AGE_S,
                    max_bytes=COMMITTED_MAX_BYTES,
                    duplicate_window=COMMITTED_DUPLICATE_WINDOW_S,
                )
            )
        if committed.description != _partitions_note(self.rule_partitions):
            # Writers would publish to partitions no rule worker consumes, or the other way round.
            raise ConfigurationError(
                f"bus_rule_partitions = {self.rule_partitions}, but the stream "
                f"{self.names.committed_stream} was made for another count ({committed.description!r}); "
                "every process must use the same value",
                key="error.config",
            )

    async def _ensure_stream(self, config: StreamConfig) -> StreamConfig:
        """The stream's configuration, creating the stream from ``config`` if it does not exist."""
        js = self._jetstream()
        assert config.name is not None
        try:
            info = await js.stream_info(config.name)
        except NotFoundError:
            info = await js.add_stream(config)
        return info.config

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
        """Remove everything of this prefix from the server: streams, consumers, leases (tests, benches)."""

        async def delete() -> None:
            js = self._jetstream()
            with _translate():
                for stream in (self.names.stream, self.names.committed_stream):
                    with contextlib.suppress(NotFoundError):
                        await js.delete_stream(stream)
                with contextlib.suppress(NotFoundError):
                    await js.delete_key_value(self.names.leases)

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

    # -- publishing ----------------------------------------------------------------------------------
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

    # -- telemetry stream ----------------------------------------------------------------------------
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

    async def consume(self, handle: Handler, stop: asyncio.Event, batch: int = 64) -> None:
        """Pull telemetry in batches and settle each message as ``handle`` decides, until ``stop`` is set.

        ``handle`` gets the payloads and returns one outcome per message; messages are
        acknowledged only after it returns, so a writer that dies holding them leaves them to be
        redelivered to another writer after ``ack_wait_s``.
        """
        names = self.names
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait_s, max_ack_pending=20_000
        )
        await self._pull(
            f"{names.prefix}.telemetry.>", names.stream, names.consumer, config, handle, stop, batch
        )

    async def _pull(
        self,
        subject: str,
        stream: str,
        durable: str,
        config: ConsumerConfig,
        handle: Handler,
        stop: asyncio.Event,
        batch: int,
        *,
        reset: bool = False,
    ) -> None:
        """Consume ``durable`` until ``stop`` is set; ``reset`` makes it anew first, so that every
        message still in the stream for ``subject`` comes at once and in order."""
        js = self._jetstream()
        sub = None
        while sub is None:
            try:
                if reset:
                    with contextlib.suppress(NotFoundError):
                        await js.delete_consumer(stream, durable)
                sub = await js.pull_subscribe(subject, durable=durable, stream=stream, config=config)
            except _ERRORS as exc:
                # NATS restarting: the consumer is there again once it is back.
                log.warning("subscribing to %s failed, retrying: %r", durable, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                if stop.is_set():
                    return
        try:
            while not stop.is_set():
                try:
                    msgs: list[Msg] = await sub.fetch(batch, timeout=1.0)
                except TimeoutError:  # nats-py raises its own subclass, or the builtin from wait_for
                    continue
                except NatsError as exc:
                    log.warning("fetching from %s failed, retrying: %r", durable, exc)
                    await asyncio.sleep(1.0)
                    continue
                try:
                    outcomes = await handle([m.data for m in msgs])
                except Exception:
                    # A bug in one round must not end the consumer; the messages come back later.
                    log.exception("%s failed on %d messages; they will be redelivered", durable, len(msgs))
                    outcomes = ["nak"] * len(msgs)
                for msg, outcome in zip(msgs, outcomes, strict=True):
                    with contextlib.suppress(NatsError):
                        # A lost ack only means the message comes back and is handled again.
                        if outcome == "ack":
                            await msg.ack()
                        elif outcome == "nak":
                            await msg.nak(delay=1.0)
                        else:
                            await msg.term()
        finally:
            with contextlib.suppress(NatsError):
                await sub.unsubscribe()

    # -- committed samples for rule workers ----------------------------------------------------------
    async def consume_committed(
        self,
        handle: Handler,
        stop: asyncio.Event,
        assigned: Callable[[frozenset[int]], None],
        batch: int = 64,
    ) -> None:
        """Hold a fair share of the rule partitions and consume theirs, until ``stop`` is set.

        Every ``lease TTL / 3`` the worker renews its leases and counts the live workers; it gives up
        partitions beyond ``ceil(partitions / workers)`` (highest first) and claims free ones up to
        that share (lowest first). A partition's consumer is stopped, its batch in hand settled,
        before the lease is given up, and ``assigned`` is told the partitions held after every
        change: after a consumer stopped, before one starts. Messages are settled as ``handle``
        decides once it returns, as for ``consume``.
        """
        leases = None
        while leases is None:
            try:
                leases = await self._leases()
            except StorageError as exc:
                log.warning("opening the rule partition leases failed, retrying: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                if stop.is_set():
                    return
        running: dict[int, tuple[asyncio.Event, asyncio.Task[None]]] = {}
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait_s, max_ack_pending=1_000
        )

        def start(partition: int) -> None:
            halt = asyncio.Event()
            names = self.names
            # Made anew: with work-queue retention the stream holds exactly the messages not yet
            # acknowledged, so the batches a dead holder had in hand come first and in order rather
            # than after ack_wait, behind newer ones.
            job = self._pull(
                names.partition_filter(partition),
                names.committed_stream,
                names.rules_consumer(partition),
                config,
                handle,
                halt,
                batch,
                reset=True,
            )
            running[partition] = (halt, asyncio.create_task(job))

        async def halt(partitions: Iterable[int]) -> None:
            stopping = [running.pop(p) for p in partitions if p in running]
            for event, _task in stopping:
                event.set()
            await asyncio.gather(*(task for _event, task in stopping), return_exceptions=True)

        try:
            while not stop.is_set():
                for partition, (_halt, task) in list(running.items()):
                    if task.done():  # a bug, not a NATS outage (the pull loop rides those out)
                        ended = None if task.cancelled() else task.exception()
                        log.error("rule partition %d consumer ended (%r); restarting", partition, ended)
                        start(partition)
                try:
                    share: int | None = -(-self.rule_partitions // await leases.live_workers())
                except _ERRORS as exc:
                    # Keep what is held (its renewal fails too if NATS is gone), but claim nothing blind.
                    log.warning("counting rule workers failed, retrying: %r", exc)
                    share = None
                lost = await leases.renew()
                surplus = [] if share is None else sorted(leases.held)[share:]
                await halt([*lost, *surplus])
                for partition in surplus:
                    await leases.release(partition)
                if lost or surplus:
                    assigned(frozenset(leases.held))
                gained: list[int] = []
                for partition in range(self.rule_partitions):
                    if share is None or len(leases.held) >= share:
                        break
                    if partition not in leases.held and await leases.claim(partition):
                        gained.append(partition)
                if gained:
                    assigned(frozenset(leases.held))
                    for partition in gained:
                        start(partition)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), leases.ttl_s / 3)
        finally:
            await halt(list(running))
            assigned(frozenset())
            # Unreleased leases expire after the TTL anyway; stopping must not wait on a dead server.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(leases.leave(), _CONNECT_TIMEOUT_S)

    async def _leases(self) -> _Leases:
        js = self._jetstream()
        bucket = self.names.leases
        with _translate():
            try:
                kv = await js.key_value(bucket)
            except BucketNotFoundError:
                kv = await js.create_key_value(
                    KeyValueConfig(bucket=bucket, history=1, ttl=self.lease_s, storage=StorageType.FILE)
                )
            # The bucket's TTL, set by whoever made it, is the one every worker must renew within.
            ttl = (await kv.status()).ttl or self.lease_s
        return _Leases(js, kv, bucket, ttl)

    async def partition_owners(self) -> dict[int, str]:
        """Which rule worker (``host/pid/id``) holds each partition with a live lease."""
        leases = await self._leases()
        owners: dict[int, str] = {}
        with _translate():
            for partition in range(self.rule_partitions):
                with contextlib.suppress(NotFoundError):
                    entry = await leases.kv.get(_lease_key(partition))
                    if entry.value:
                        owners[partition] = entry.value.decode()
        return owners


def _lease_key(partition: int) -> str:
    return f"p.{partition}"


class _Leases:
    """One rule worker's leases: key-value entries it rewrites before the bucket's TTL expires them.

    Claiming is ``create`` (succeeds only when the key is absent or deleted), renewing and releasing
    are conditional on the revision last written, so two workers never both believe they won the
    same partition through the bucket; a worker that stops renewing loses its partitions after the
    TTL. Transient failures are logged and retried next round, never raised.
    """

    def __init__(self, js: JetStreamContext, kv: KeyValue, bucket: str, ttl_s: float) -> None:
        self._js = js
        self.kv = kv
        self._stream = f"KV_{bucket}"
        self._bucket = bucket
        self.ttl_s = ttl_s
        token = secrets.token_hex(6)
        self._heartbeat = f"w.{token}"
        self._me = f"{socket.gethostname()}/{os.getpid()}/{token}".encode()
        self.held: dict[int, int] = {}
        """Partition -> revision of this worker's lease entry."""
        self._renewed: dict[int, float] = {}

    async def live_workers(self) -> int:
        """Announce this worker and count those announced within the TTL (this one included)."""
        await self.kv.put(self._heartbeat, self._me)
        info = await self._js.stream_info(self._stream, subjects_filter=f"$KV.{self._bucket}.w.>")
        return max(1, len(info.state.subjects or {}))

    async def renew(self) -> list[int]:
        """Rewrite every lease held; returns the partitions lost (another worker took them)."""
        now = asyncio.get_running_loop().time()
        lost: list[int] = []
        for partition, revision in list(self.held.items()):
            key = _lease_key(partition)
            try:
                self.held[partition] = await self.kv.update(key, self._me, last=revision)
                self._renewed[partition] = now
                continue
            except KeyWrongLastSequenceError:
                # Our previous rewrite may have been stored with only its reply lost: still ours then.
                with contextlib.suppress(*_ERRORS):
                    entry = await self.kv.get(key)
                    if entry.value == self._me and entry.revision is not None:
                        self.held[partition] = entry.revision
                        self._renewed[partition] = now
                        continue
                lost.append(partition)
            except _ERRORS as exc:
                log.warning("renewing the lease of rule partition %d failed: %r", partition, exc)
                if now - self._renewed[partition] >= self.ttl_s:
                    lost.append(partition)  # expired meanwhile: another worker may hold it now
        for partition in lost:
            log.warning("rule partition %d was taken over by another worker", partition)
            del self.held[partition], self._renewed[partition]
        return lost

    async def claim(self, partition: int) -> bool:
        try:
            self.held[partition] = await self.kv.create(_lease_key(partition), self._me)
        except KeyWrongLastSequenceError:
            return False  # held by another worker
        except _ERRORS as exc:
            log.warning("claiming rule partition %d failed: %r", partition, exc)
            return False
        self._renewed[partition] = asyncio.get_running_loop().time()
        return True

    async def release(self, partition: int) -> None:
        revision = self.held.pop(partition)
        del self._renewed[partition]
        try:
            await self.kv.delete(_lease_key(partition), last=revision)
        except _ERRORS as exc:
            # It expires after the TTL instead.
            log.warning("releasing rule partition %d failed: %r", partition, exc)

    async def leave(self) -> None:
        """Give up every partition and the announcement, so that the others take over at once."""
        for partition in list(self.held):
            await self.release(partition)
        try:
            # Purged rather than deleted: a delete marker would still be counted as a worker.
            await self._js.purge_stream(self._stream, subject=f"$KV.{self._bucket}.{self._heartbeat}")
        except _ERRORS as exc:
            log.warning("withdrawing the rule worker announcement failed: %r", exc)
