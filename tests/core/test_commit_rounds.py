"""Group commit for threads: every caller gets its own outcome, concurrent callers share rounds, a
failed round fails only its own jobs, and a lone caller pays one commit per job."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from indunet.core.commit_rounds import CommitRounds


class Store:
    def __init__(self, pause_s: float = 0.0) -> None:
        self.rounds: list[list[int]] = []
        self.pause_s = pause_s
        self.lock = threading.Lock()

    def commit(self, jobs: Sequence[int]) -> list[int | BaseException]:
        with self.lock:
            self.rounds.append(list(jobs))
        time.sleep(self.pause_s)  # a commit takes a while: callers queue meanwhile
        if any(job < 0 for job in jobs) and -999 in jobs:
            raise OSError("disk full")
        return [ValueError(f"refused {job}") if job % 7 == 3 else job * 10 for job in jobs]


def test_concurrent_callers_share_rounds_and_each_hears_its_own_outcome() -> None:
    store = Store(pause_s=0.002)
    rounds = CommitRounds(store.commit, max_round=50)

    def call(job: int) -> int | str:
        try:
            return rounds.submit(job)
        except ValueError as exc:
            return str(exc)

    with ThreadPoolExecutor(32) as pool:
        outcomes = list(pool.map(call, range(2000)))
    assert outcomes == [f"refused {j}" if j % 7 == 3 else j * 10 for j in range(2000)]
    committed = [job for batch in store.rounds for job in batch]
    assert sorted(committed) == list(range(2000))  # each job in exactly one round
    assert len(store.rounds) < 500 and max(len(b) for b in store.rounds) <= 50


def test_a_failed_round_fails_its_jobs_and_the_next_rounds_go_on() -> None:
    store = Store()
    rounds = CommitRounds(store.commit)
    with pytest.raises(OSError, match="disk full"):
        rounds.submit(-999)
    assert rounds.submit(4) == 40
    with pytest.raises(ValueError, match="refused 3"):
        rounds.submit(3)


def test_a_lone_caller_pays_one_commit_per_job() -> None:
    store = Store()
    rounds = CommitRounds(store.commit)
    assert [rounds.submit(n) for n in (1, 2, 4)] == [10, 20, 40]
    assert store.rounds == [[1], [2], [4]]
