"""Where validated telemetry goes: committed in-process, or through NATS JetStream to writer processes.

``telemetry.prepare`` turns records into a ``TelemetryBatch`` (every point checked, series ids
allocated); a ``TelemetrySink`` makes it durable before the caller answers its client:

- ``DirectSink`` (``bus_url`` empty, the embedded default): writes the rows to the time-series store,
  then calls ``platform.telemetry_listeners``, all in the calling thread, exactly as before the bus.
- ``JetStreamSink`` (``bus_url = "nats://..."``): publishes the batch to the durable stream and returns
  after JetStream's acknowledgement. ``BusWorkers`` in writer processes pull the messages, store
  them with ``TimeseriesStore.write_once`` (the message id is recorded in the same transaction as the
  rows, so a redelivered message is stored once), publish the stored batch, split by rule partition,
  to the committed-samples stream, and acknowledge only after both. Rule workers host the rule engine,
  hold a share of the partitions and turn their messages into listener calls, acknowledging each
  batch once the engine has evaluated it (docs/scale-out.md: the guarantees).

A bus message whose rows the store refuses, or that does not decode, is logged and terminated (it
would fail the same way on every redelivery); a store that is down makes the writer ask for
redelivery instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
import weakref
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Protocol

from indunet.bus import TelemetryBatch, decode, encode, merge
from indunet.bus.partition import partition_of, split_by_partition
from indunet.core.errors import ConfigurationError, InvalidInput, StorageError
from indunet.core.timeutil import now_us
from indunet.platform.rules import RuleEngine
from indunet.platform.runtime import Platform, StoredSample

if TYPE_CHECKING:
    from indunet.bus.nats import JetStreamBus, Outcome

log = logging.getLogger(__name__)

ROWS_PER_MESSAGE = 8192
"""Rows per bus message: ~0.5 MB encoded, under NATS's default 1 MB payload limit."""
APPLIED_KEEP_US = 7 * 86_400_000_000
"""How long writers remember stored message ids: longer than any redelivery after a lost ack."""
_SWEEP_EVERY_S = 3600.0
_PRESENCE_EVERY_S = 5.0


class TelemetrySink(Protocol):
    """Makes a prepared batch durable. Both methods return only once it is (or raise StorageError)."""

    def submit(self, batch: TelemetryBatch) -> None: ...

    def submit_many(self, batches: Sequence[TelemetryBatch]) -> None:
        """Make several batches durable at once (one transaction or one publish round)."""
        ...

    async def submit_async(self, batch: TelemetryBatch) -> None: ...

    def close(self) -> None: ...


def samples_of(batch: TelemetryBatch) -> list[StoredSample]:
    devices = batch.devices
    tenant = batch.tenant_id
    new = tuple.__new__  # a named tuple's own constructor costs twice as much, once per stored point
    return [
        new(StoredSample, (tenant, devices[d][0], devices[d][1], point, ts, num, text))
        for d, point, _sid, ts, num, text in batch.rows
    ]


def notify(platform: Platform, batches: Sequence[TelemetryBatch]) -> None:
    """Hand committed batches to the in-process telemetry listeners (one call each for all of them)."""
    listeners = platform.telemetry_listeners
    if not listeners:
        return
    stored = [sample for batch in batches for sample in samples_of(batch)]
    if not stored:
        return
    for listener in listeners:
        try:
            listener(stored)
        except Exception:
            # The points are committed and the client will be told so; a failing listener is logged,
            # never allowed to turn a durable write into an error response.
            log.exception("telemetry listener %r failed", listener)


def _mark_seen(platform: Platform, batch: TelemetryBatch) -> None:
    for device_id, _type in batch.devices:
        platform.mark_seen(device_id, batch.arrived_us)


class DirectSink:
    """The embedded path: commit in the calling thread, then run the listeners."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def submit(self, batch: TelemetryBatch) -> None:
        self.submit_many([batch])

    def submit_many(self, batches: Sequence[TelemetryBatch]) -> None:
        rows = [(sid, ts, num, text) for batch in batches for _d, _p, sid, ts, num, text in batch.rows]
        if not rows:
            return
        self._platform.timeseries.write(rows)
        for batch in batches:
            _mark_seen(self._platform, batch)
        notify(self._platform, batches)

    async def submit_async(self, batch: TelemetryBatch) -> None:
        await asyncio.to_thread(self.submit, batch)

    def close(self) -> None:
        return None


class JetStreamSink:
    """The server path: durable once JetStream has acknowledged every piece of the batch."""

    def __init__(self, platform: Platform, bus: JetStreamBus) -> None:
        self._platform = platform
        self.bus = bus

    def _messages(self, batches: Sequence[TelemetryBatch]) -> list[tuple[str, str, bytes]]:
        by_tenant: dict[str, list[TelemetryBatch]] = {}
        for batch in batches:
            if batch.rows:
                by_tenant.setdefault(batch.tenant_id, []).append(batch)
        messages = []
        for tenant_id, group in by_tenant.items():
            # Many small batches (one per device connection) travel as one message per tenant.
            whole = group[0] if len(group) == 1 else merge(uuid.uuid4().hex, group)
            subject = self.bus.names.telemetry(tenant_id)
            messages += [(subject, piece.msg_id, encode(piece)) for piece in whole.split(ROWS_PER_MESSAGE)]
        return messages

    def submit(self, batch: TelemetryBatch) -> None:
        self.submit_many([batch])

    def submit_many(self, batches: Sequence[TelemetryBatch]) -> None:
        messages = self._messages(batches)
        if not messages:
            return
        self.bus.call(self.bus.publish(messages))
        for batch in batches:
            _mark_seen(self._platform, batch)

    async def submit_async(self, batch: TelemetryBatch) -> None:
        messages = self._messages([batch])
        if not messages:
            return
        await self.bus.call_async(self.bus.publish(messages))
        _mark_seen(self._platform, batch)

    def close(self) -> None:
        self.bus.close()


_sinks: weakref.WeakKeyDictionary[Platform, TelemetrySink] = weakref.WeakKeyDictionary()
_sinks_lock = threading.Lock()


def sink_for(platform: Platform) -> TelemetrySink:
    """The platform's sink, made on first use from ``settings.bus_url`` (connecting to NATS then)."""
    sink = _sinks.get(platform)
    if sink is not None:
        return sink
    with _sinks_lock:
        sink = _sinks.get(platform)
        if sink is None:
            settings = platform.settings
            if settings.bus_url:
                from indunet.bus.nats import JetStreamBus

                bus = JetStreamBus(
                    settings.bus_url,
                    settings.bus_prefix,
                    ack_wait_s=settings.bus_ack_wait_s,
                    rule_partitions=settings.bus_rule_partitions,
                    lease_s=settings.bus_rule_lease_s,
                )
                bus.start()
                sink = JetStreamSink(platform, bus)
            else:
                sink = DirectSink(platform)
            _sinks[platform] = sink
    return sink


def close_sink(platform: Platform) -> None:
    with _sinks_lock:
        sink = _sinks.pop(platform, None)
    if sink is not None:
        sink.close()


def bus_for(platform: Platform) -> JetStreamBus:
    sink = sink_for(platform)
    if not isinstance(sink, JetStreamSink):
        raise ConfigurationError(
            "writer and rules roles need a NATS bus: set bus_url (INDUNET_BUS_URL=nats://...)",
            key="error.bus_required",
        )
    return sink.bus


def commit_messages(platform: Platform, payloads: list[bytes]) -> tuple[list[Outcome], list[TelemetryBatch]]:
    """Store bus messages once each; return the outcome per message and, once each, every batch that
    is in the store now: newly stored or by an earlier delivery whose writer did not get to ack it."""
    outcomes: list[Outcome] = ["term"] * len(payloads)
    batches: dict[int, TelemetryBatch] = {}
    for i, payload in enumerate(payloads):
        try:
            batches[i] = decode(payload)
        except InvalidInput as exc:
            log.error("dropping an undecodable bus message: %s", exc)
    store = platform.timeseries
    applied_at = now_us()
    try:
        try:
            stored = set(store.write_once([(b.msg_id, b.store_rows()) for b in batches.values()], applied_at))
        except InvalidInput:
            # One bad message must not hold the others back: store them one by one to find it.
            stored = set()
            for i, batch in list(batches.items()):
                try:
                    stored.update(store.write_once([(batch.msg_id, batch.store_rows())], applied_at))
                except InvalidInput as exc:
                    log.error("dropping bus message %s, its rows were refused: %s", batch.msg_id, exc)
                    del batches[i]
    except StorageError as exc:
        log.warning("time-series store unavailable, %d messages left for redelivery: %s", len(payloads), exc)
        return ["nak"] * len(payloads), []
    done: dict[str, TelemetryBatch] = {}
    for i, batch in batches.items():
        outcomes[i] = "ack"
        if batch.msg_id not in done:  # a message delivered twice in one fetch counts once
            done[batch.msg_id] = batch
            if batch.msg_id in stored:
                _mark_seen(platform, batch)
    return outcomes, list(done.values())


def _no_device(_device_id: str) -> bool:
    return False


class BusWorkers:
    """Writer and/or rule-worker loops of one process, running on the bus's event loop.

    A rule worker hosts the rule engine: it registers as a telemetry listener and evaluates only the
    devices of the partitions this worker holds (none until the first leases are won).
    """

    def __init__(self, platform: Platform, *, writer: bool, rules: bool) -> None:
        self._platform = platform
        self._bus = bus_for(platform)
        self._writer = writer
        self._rules = rules
        self.role = "+".join(name for name, on in (("writer", writer), ("rules", rules)) if on)
        self.bus_url = self._bus.url
        self._stop: asyncio.Event | None = None
        self._done: Future[None] | None = None
        self._engine: RuleEngine | None = None

    def start(self) -> None:
        started = threading.Event()

        async def run() -> None:
            self._stop = asyncio.Event()
            jobs = []
            try:
                if self._rules:
                    self._engine = RuleEngine(self._platform, owns=_no_device)
                    await asyncio.to_thread(self._engine.start)
                    committed = self._bus.consume_committed(self._on_committed, self._stop, self._assigned)
                    jobs.append(asyncio.create_task(committed))
                if self._writer:
                    jobs.append(asyncio.create_task(self._bus.consume(self._on_messages, self._stop)))
                    jobs.append(asyncio.create_task(self._housekeeping(self._stop)))
                started.set()
                await self._stop.wait()
                await asyncio.gather(*jobs)
            finally:
                if self._engine is not None:
                    await asyncio.to_thread(self._engine.stop)
                await asyncio.to_thread(self._platform.flush_presence)

        self._done = self._bus.spawn(run())
        while not started.wait(0.1):
            if self._done.done():
                self._done.result()  # raises what made start-up fail

    def request_stop(self) -> None:
        """Ask the loops to finish their current batch and end; safe from a signal handler."""
        stop = self._stop
        if stop is not None:
            self._bus.call_soon(stop.set)

    def stop(self) -> None:
        self.request_stop()
        self.wait()

    def wait(self) -> None:
        """Block until stop() (from a signal handler or another thread) has finished the loops."""
        if self._done is not None:
            self._done.result()

    # -- writer --------------------------------------------------------------------------------------
    async def _on_messages(self, payloads: list[bytes]) -> list[Outcome]:
        outcomes, pieces = await asyncio.to_thread(self._commit, payloads)
        try:
            await self._bus.publish(pieces)
        except StorageError as exc:
            # The rows are committed; the messages come back, are found stored, and their samples
            # are published again then (same message ids, so JetStream keeps one copy).
            log.warning("committed samples not yet passed to rule workers, retrying: %s", exc)
            return ["nak" if outcome == "ack" else outcome for outcome in outcomes]
        return outcomes

    def _commit(self, payloads: list[bytes]) -> tuple[list[Outcome], list[tuple[str, str, bytes]]]:
        """Store the messages; return their outcomes and the committed-sample messages to publish."""
        outcomes, stored = commit_messages(self._platform, payloads)
        names, partitions = self._bus.names, self._bus.rule_partitions
        pieces = [
            (names.committed(piece.tenant_id, partition), piece.msg_id, encode(piece))
            for batch in stored
            for partition, piece in split_by_partition(batch, partitions).items()
        ]
        return outcomes, pieces

    # -- rule worker ---------------------------------------------------------------------------------
    async def _on_committed(self, payloads: list[bytes]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        batches: list[TelemetryBatch] = []
        for payload in payloads:
            try:
                batches.append(decode(payload))
                outcomes.append("ack")
            except InvalidInput as exc:
                log.error("dropping an undecodable committed-samples message: %s", exc)
                outcomes.append("term")
        await asyncio.to_thread(self._evaluate, batches)
        return outcomes

    def _evaluate(self, batches: list[TelemetryBatch]) -> None:
        notify(self._platform, batches)
        if self._engine is not None:
            self._engine.drain()

    def _assigned(self, partitions: frozenset[int]) -> None:
        count = self._bus.rule_partitions
        log.info("rule partitions held: %s", sorted(partitions) or "none")
        if self._engine is not None:
            self._engine.assign(lambda device_id: partition_of(device_id, count) in partitions)

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        last_sweep = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _PRESENCE_EVERY_S)
            try:
                await asyncio.to_thread(self._platform.flush_presence)
                if loop.time() - last_sweep >= _SWEEP_EVERY_S:
                    last_sweep = loop.time()
                    store = self._platform.timeseries
                    await asyncio.to_thread(store.forget_applied_before, now_us() - APPLIED_KEEP_US)
            except Exception:
                # Retried next round; housekeeping must never stop a writer.
                log.exception("writer housekeeping failed")
