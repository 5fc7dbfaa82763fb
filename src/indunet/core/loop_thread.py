"""An asyncio program run on its own event loop in a background thread of a synchronous process.

The demo runs its shop floor (protocol simulators and the edge gateway) and its identifier nodes this
way beside the web server. A subclass writes :meth:`LoopThread.main`, calls :meth:`ready` once it
serves, and returns when ``stop`` is set; :meth:`start` returns when it is ready (or failed, or the
start timed out), :meth:`stop` asks it to end and waits. A failure is logged and kept in ``error``:
the process goes on without that part.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Self

log = logging.getLogger(__name__)


class LoopThread:
    name = "loop"
    start_timeout_s = 30.0

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    async def main(self, stop: asyncio.Event) -> None:
        raise NotImplementedError

    def closed(self) -> None:
        """After the loop ended (in the caller's thread): release what the program left open."""

    def ready(self) -> None:
        self._ready.set()

    def start(self) -> Self:
        self._thread.start()
        self._ready.wait(self.start_timeout_s)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(15)
        self.closed()

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self.main(self._stop))
        except BaseException as exc:  # the process goes on without this part; say why
            self.error = exc
            log.exception("%s stopped", self.name)
        finally:
            self._ready.set()
            self._loop.close()
