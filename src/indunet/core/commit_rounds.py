"""Group commit for threads: concurrent callers' small writes share one transaction per round.

Each caller ``submit``s its job and blocks until the round holding it has committed, then gets its
own result (or its own exception). There is no writer thread: the first caller to find no round
running leads, taking every queued job (up to ``max_round``) into one ``commit`` call and repeating
while jobs wait; jobs arriving during a round form the next. Once the leader's own job is done it
hands the lead to the oldest waiting caller, so no caller serves the others for long. A lone caller
pays one commit, as without batching; under load the commits per job fall with the queue's length.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

J = TypeVar("J")
R = TypeVar("R")


class _Slot(Generic[J, R]):
    __slots__ = ("done", "error", "job", "lead", "result", "wake")

    def __init__(self, job: J) -> None:
        self.job = job
        self.wake = threading.Event()
        self.done = False
        self.lead = False
        self.result: R | None = None
        self.error: BaseException | None = None


class CommitRounds(Generic[J, R]):
    """``commit(jobs)`` writes a round in one transaction and returns one result (or an exception
    instance, raised to that job's caller alone) per job, in order; an exception it raises fails every
    job of the round."""

    def __init__(
        self, commit: Callable[[Sequence[J]], Sequence[R | BaseException]], max_round: int = 500
    ) -> None:
        self._commit = commit
        self._max = max_round
        self._lock = threading.Lock()
        self._queue: list[_Slot[J, R]] = []
        self._leading = False

    def submit(self, job: J) -> R:
        slot: _Slot[J, R] = _Slot(job)
        with self._lock:
            self._queue.append(slot)
            slot.lead = not self._leading
            self._leading = True
        while not slot.done:
            if slot.lead:
                self._lead(slot)
            else:
                slot.wake.wait()
                slot.wake.clear()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _lead(self, own: _Slot[J, R]) -> None:
        while not own.done:
            with self._lock:
                batch, self._queue = self._queue[: self._max], self._queue[self._max :]
            self._run(batch)
        with self._lock:
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                successor.wake.set()
            else:
                self._leading = False

    def _run(self, batch: list[_Slot[J, R]]) -> None:
        try:
            outcomes: Sequence[R | BaseException] = self._commit([s.job for s in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a round of {len(batch)} jobs gave {len(outcomes)} outcomes")
        except BaseException as exc:
            outcomes = [exc] * len(batch)
        for slot, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                slot.error = outcome
            else:
                slot.result = outcome
            slot.done = True
            slot.wake.set()
