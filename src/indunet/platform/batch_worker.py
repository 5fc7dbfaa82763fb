"""A worker thread for telemetry listeners that evaluate committed batches and the passing of time.

The listener only puts the batch on a queue, so ingest pays one ``put`` per batch; one worker thread
takes batches and clock ticks in order, so evaluation state needs no locks. A tick runs every ``tick_s``
(also between batches when telemetry is busy), or when ``tick`` asks for one. A failing batch is logged
and skipped: a database that is down or a bug in one rule must not stop evaluation for good. The rule
engine (alarms) and the safety monitor (warnings) are both built on it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from indunet.core.timeutil import now_us
from indunet.platform.runtime import StoredSample

log = logging.getLogger(__name__)


class _Tick:
    """A request for the time-driven checks; ``queued`` when it came through the queue."""

    __slots__ = ("now", "queued")

    def __init__(self, now: int, queued: bool = False) -> None:
        self.now = now
        self.queued = queued


class BatchWorker:
    def __init__(self, name: str, tick_s: float, max_queued: int, coalesce: int = 1) -> None:
        """``coalesce``: how many queued batches the worker may take as one when it has fallen behind
        (1: each on its own). Taking them together costs one evaluation per device or unit instead of
        one per batch, so a worker that falls behind catches up instead of falling further behind."""
        self.tick_s = tick_s
        self._coalesce = coalesce
        self._name = name
        self._queue: queue.Queue[list[StoredSample] | _Tick | None] = queue.Queue(max_queued)
        self._thread: threading.Thread | None = None
        self._last_tick = 0.0

    # -- to implement --------------------------------------------------------------------------------
    def _evaluate(self, samples: list[StoredSample]) -> None:
        raise NotImplementedError

    def _ticks(self, now: int) -> None:
        raise NotImplementedError

    # -- lifecycle -----------------------------------------------------------------------------------
    def _start_worker(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def _stop_worker(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def submit(self, samples: list[StoredSample]) -> None:
        """The telemetry listener: hand over and return."""
        if samples:
            try:
                self._queue.put_nowait(samples)
            except queue.Full:
                log.error("%s queue full; %d samples not evaluated", self._name, len(samples))

    def tick(self, now: int | None = None) -> None:
        """Run the time-driven checks now (the worker does this every ``tick_s``)."""
        self._queue.put(_Tick(now if now is not None else now_us(), queued=True))

    def drain(self) -> None:
        """Until every batch queued so far is evaluated and its results written."""
        self._queue.join()

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Until every batch queued so far is evaluated and written, at most ``timeout_s`` (tests,
        benchmarks)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.002)
        return not self._queue.unfinished_tasks

    # -- worker --------------------------------------------------------------------------------------
    def _run(self) -> None:
        # A tick or the stop found while coalescing batches, handled right after them (wrapped, as the
        # stop itself is None).
        pending: tuple[_Tick | None] | None = None
        item: list[StoredSample] | _Tick | None
        while True:
            if pending is not None:
                (item,), pending = pending, None
            else:
                try:
                    item = self._queue.get(timeout=self.tick_s)
                except queue.Empty:
                    item = _Tick(now_us())
            if item is None:
                self._queue.task_done()
                return
            if isinstance(item, _Tick):
                self._guarded(self._tick_now, item.now)
                if item.queued:
                    self._queue.task_done()
                continue
            samples, taken = item, 1
            while taken < self._coalesce:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(more, list):
                    pending = (more,)
                    break
                samples, taken = samples + more, taken + 1
            self._guarded(self._evaluate, samples)
            if time.monotonic() - self._last_tick >= self.tick_s:
                self._guarded(self._tick_now, now_us())
            for _ in range(taken):
                self._queue.task_done()

    def _guarded(self, job: Callable[[Any], None], argument: Any) -> None:
        try:
            job(argument)
        except Exception:
            log.exception("%s: evaluation failed", self._name)

    def _tick_now(self, now: int) -> None:
        self._last_tick = time.monotonic()
        self._ticks(now)
