"""A program on its own loop in a background thread: ready, stopped, cleaned up, or failed and said so."""

from __future__ import annotations

import asyncio

from indunet.core.loop_thread import LoopThread


class Counter(LoopThread):
    name = "counter"

    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0
        self.released = False

    async def main(self, stop: asyncio.Event) -> None:
        self.ready()
        while not stop.is_set():
            self.ticks += 1
            await asyncio.sleep(0.001)

    def closed(self) -> None:
        self.released = True


class Broken(LoopThread):
    name = "broken"

    async def main(self, stop: asyncio.Event) -> None:
        raise RuntimeError("no port for you")


def test_a_program_runs_until_stopped_and_is_cleaned_up() -> None:
    counter = Counter().start()
    assert counter._thread.is_alive() and counter.error is None
    counter.stop()
    assert not counter._thread.is_alive() and counter.released and counter.ticks > 0


def test_a_failing_program_does_not_hang_start_and_keeps_its_error() -> None:
    broken = Broken().start()
    assert isinstance(broken.error, RuntimeError)
    broken.stop()  # stopping what already ended is harmless
