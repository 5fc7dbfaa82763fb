"""Group commit: many small concurrent ingests (one per device connection) become one commit per round.

A device that publishes a message and waits for its PUBACK sends one or a few records at a time; five
thousand of them committing separately would spend the machine on transactions and thread hand-offs.
``GroupCommit.submit`` queues the records with a callback. One round at a time runs in a worker
thread: every queued job is checked (``telemetry.prepare``, per job, so one job's refusal is its own),
all of the round's batches go to the platform's sink in one ``submit_many`` (one transaction, or one
JetStream publish per tenant), and each job hears its own ``IngestResult`` (or error) only after that
returned, i.e. once its points are durable. Jobs that arrive while a round runs form the next one, so
rounds grow with the load and a lone device pays one commit, as before.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import NamedTuple

from indunet.bus import TelemetryBatch
from indunet.core.errors import IndunetError, StorageError
from indunet.platform.ingest_service import sink_for
from indunet.platform.runtime import Platform
from indunet.platform.telemetry import IngestResult, prepare
from indunet.platform.telemetry_formats import Record
from indunet.security import Principal

log = logging.getLogger(__name__)

MAX_ROUND_RECORDS = 20_000
"""Records per round: bounds one transaction (and one round's latency) when the queue runs long."""

Done = Callable[["IngestResult | BaseException"], None]
"""Told a job's outcome on the event loop: its ``IngestResult``, or the error that refused it all."""

Outcome = IngestResult | IndunetError


class _Job(NamedTuple):
    principal: Principal
    records: Sequence[Record]
    done: Done


def commit_round(platform: Platform, jobs: Sequence[tuple[Principal, Sequence[Record]]]) -> list[Outcome]:
    """Check every job, store the accepted points of all of them, and return each job's outcome.

    Blocking. A ``StorageError`` from the sink becomes the outcome of every job with points to store
    (none of them may be assumed stored); a job refused by its checks keeps its own error.
    """
    round_id = uuid.uuid4().hex
    outcomes: list[Outcome] = []
    batches: list[TelemetryBatch] = []
    members: list[int] = []
    for index, (principal, records) in enumerate(jobs):
        try:
            # Bus message ids must be unique: one random id per round, numbered per job, is cheaper
            # than a random id per job.
            result, batch = prepare(platform, principal, records, msg_id=f"{round_id}.{index}")
        except IndunetError as exc:
            outcomes.append(exc)
            continue
        result.accepted = len(batch.rows)
        outcomes.append(result)
        if batch.rows:
            batches.append(batch)
            members.append(index)
    if batches:
        try:
            sink_for(platform).submit_many(batches)
        except IndunetError as exc:
            for index in members:
                outcomes[index] = exc
    return outcomes


class GroupCommit:
    """Coalesces ``ingest`` calls made on one event loop; see the module docstring."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._queue: list[_Job] = []
        self._runner: asyncio.Task[None] | None = None

    def submit(self, principal: Principal, records: Sequence[Record], done: Done) -> None:
        """Queue ``records`` for the next round; ``done`` is called once they are durable (or refused).

        Call on the event loop; ``done`` runs there too, with no task switch on the way, which is
        what lets a connection acknowledge thousands of messages a second cheaply."""
        self._queue.append(_Job(principal, records, done))
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run())

    async def ingest(self, principal: Principal, records: Sequence[Record]) -> IngestResult:
        """``submit`` for coroutines: returns once the accepted points are durable."""
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()

        def done(outcome: IngestResult | BaseException) -> None:
            if future.done():
                return
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

        self.submit(principal, records, done)
        return await future

    async def close(self) -> None:
        """Stop; jobs of the round in progress and queued ones are told the server is going away."""
        runner = self._runner
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        # A runner cancelled before its first step never ran its clean-up: do it here.
        self._runner = None
        gone = StorageError("the server is shutting down", key="error.storage")
        for job in self._queue:
            _tell(job, gone)
        self._queue.clear()

    async def _run(self) -> None:
        jobs: list[_Job] = []
        try:
            while self._queue:
                jobs = self._next_round()
                try:
                    outcomes: Sequence[IngestResult | BaseException] = await asyncio.to_thread(
                        commit_round, self._platform, [(job.principal, job.records) for job in jobs]
                    )
                except Exception as exc:
                    # A bug in one round must fail that round's jobs, never strand later ones.
                    log.exception("group commit round failed")
                    outcomes = [exc] * len(jobs)
                for job, outcome in zip(jobs, outcomes, strict=True):
                    _tell(job, outcome)
                jobs = []
        finally:
            self._runner = None
            gone = StorageError("the server is shutting down", key="error.storage")
            for job in jobs + self._queue:
                _tell(job, gone)
            self._queue.clear()

    def _next_round(self) -> list[_Job]:
        taken = records = 0
        for job in self._queue:
            if taken and records + len(job.records) > MAX_ROUND_RECORDS:
                break
            taken += 1
            records += len(job.records)
        jobs, self._queue = self._queue[:taken], self._queue[taken:]
        return jobs


def _tell(job: _Job, outcome: IngestResult | BaseException) -> None:
    try:
        job.done(outcome)
    except Exception:
        # One connection's failing callback must not keep the other jobs of the round from hearing.
        log.exception("group commit callback failed")
