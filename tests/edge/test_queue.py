"""The store-and-forward queue: durable, ordered, bounded with counted drops, dead letters kept aside."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.edge.queue import Sample, SampleQueue


def _samples(n: int, device: str = "pump-01", start: int = 1_700_000_000_000) -> list[Sample]:
    return [Sample(device, start + i, {"flow": float(i), "running": True}) for i in range(n)]


def test_samples_come_back_oldest_first_and_leave_only_when_acknowledged(tmp_path: Path) -> None:
    queue = SampleQueue(tmp_path / "q.db", 10_000_000)
    queue.put(_samples(5))
    queue.put(_samples(3, "cnc-01", 1_800_000_000_000))
    rows = queue.peek(100)
    assert [r.device for r in rows] == ["pump-01"] * 5 + ["cnc-01"] * 3
    assert [r.ts_ms for r in rows[:5]] == sorted(r.ts_ms for r in rows[:5])
    queue.ack([r.id for r in rows[:4]])
    left = queue.peek(100)
    assert [r.ts_ms for r in left] == [
        1_700_000_000_004,
        1_800_000_000_000,
        1_800_000_000_001,
        1_800_000_000_002,
    ]
    assert queue.peek(100, after_id=left[1].id) == left[2:]
    assert queue.stats().depth == 4


def test_a_full_queue_drops_the_oldest_samples_and_counts_them_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    queue = SampleQueue(path, 64 * 1024)
    for batch in range(50):
        queue.put(_samples(100, start=batch * 1000))
    stats = queue.stats()
    assert stats.bytes <= 64 * 1024
    assert stats.dropped > 0 and stats.depth + stats.dropped == 5000
    newest = queue.peek(10_000)
    assert newest[-1].ts_ms == 49 * 1000 + 99  # the newest survive
    assert newest[0].ts_ms > 0  # the oldest went
    queue.close()
    reopened = SampleQueue(path, 64 * 1024)
    assert reopened.stats().dropped == stats.dropped
    assert reopened.stats().depth == stats.depth


def test_refused_samples_move_to_the_dead_letter_table_with_the_reason(tmp_path: Path) -> None:
    queue = SampleQueue(tmp_path / "q.db", 10_000_000)
    queue.put(_samples(3))
    rows = queue.peek(10)
    queue.reject([rows[0].id], "pump-01.flow: above the maximum 400")
    assert queue.stats().depth == 2 and queue.stats().rejected == 1
    (dead,) = queue.dead_letters()
    assert dead["reason"] == "pump-01.flow: above the maximum 400"
    assert dead["values"] == {"flow": 0.0, "running": True}


def test_committed_samples_survive_a_killed_process(tmp_path: Path) -> None:
    # The writer is killed with SIGKILL right after put() returns: no close, no atexit, no flush.
    path = tmp_path / "q.db"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from indunet.edge.queue import Sample, SampleQueue
        queue = SampleQueue(Path({str(path)!r}), 10_000_000)
        queue.put([Sample("pump-01", 1000 + i, {{"flow": 1.5}}) for i in range(250)])
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), check=False)
    assert result.returncode == -9
    queue = SampleQueue(path, 10_000_000)
    assert [r.ts_ms for r in queue.peek(1000)] == list(range(1000, 1250))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["put", "ack", "reject"]), st.integers(1, 40)), max_size=25))
def test_every_sample_is_exactly_once_queued_acknowledged_rejected_or_dropped(
    steps: list[tuple[str, int]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        queue = SampleQueue(Path(folder) / "q.db", 64 * 1024)
        put = acked = 0
        for action, n in steps:
            if action == "put":
                queue.put(_samples(n * 10, start=put))
                put += n * 10
            else:
                ids = [r.id for r in queue.peek(n)]
                (queue.ack if action == "ack" else lambda i: queue.reject(i, "no"))(ids)
                acked += len(ids) if action == "ack" else 0
        stats = queue.stats()
        assert stats.enqueued == put
        assert stats.depth + stats.dropped + stats.rejected + acked == put
        assert stats.bytes <= 64 * 1024
        queue.close()
