"""A rule worker process for the kill tests: ``BusWorkers(rules=True)`` as ``indunet serve --role rules``
runs it, plus a telemetry listener that appends every sample it is given to a file and returns only
10 ms later, so that a kill finds batches heard but not yet acknowledged. Settings come from
``INDUNET_*`` variables.

    python rules_probe.py OUT_FILE      prints "ready" once the worker runs; stops on SIGTERM
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from indunet.core.config import load_settings
from indunet.platform.ingest_service import BusWorkers, close_sink
from indunet.platform.runtime import StoredSample, open_platform


def main(out: Path) -> int:
    platform = open_platform(load_settings())
    try:
        with out.open("a", encoding="utf-8") as file:

            def heard(samples: list[StoredSample]) -> None:
                file.write("".join(f"{s.device_id} {s.point} {s.ts_us}\n" for s in samples))
                file.flush()  # in the kernel before the listener returns: a SIGKILL cannot lose it
                time.sleep(0.01)

            platform.telemetry_listeners.append(heard)
            workers = BusWorkers(platform, writer=False, rules=True)
            workers.start()
            signal.signal(signal.SIGTERM, lambda _signum, _frame: workers.request_stop())
            print("ready", flush=True)
            workers.wait()
    finally:
        close_sink(platform)
        platform.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
