"""Identifier resolution over UDP: one ``indunet idr serve`` node against this machine's UDP limit.

indunet: a node process (SQLite store holding ``IDENTIFIERS`` identifiers of two values each) answering
Handle protocol resolution requests for random identifiers. Peer, in the same run: a bare asyncio UDP
echo process that answers every datagram with a datagram of the node's answer size, which is what
a Python process on this machine can do with no work per message at all. The load generator (this
process) keeps ``WINDOW`` requests outstanding for ``SECONDS`` and times each answer.

This is the baseline the issue's target (60,000 resolutions/s, p99 under 2 ms, 10 million identifiers)
is measured against; the 10-million store and the HTTP and TCP figures come with the recursive node.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import free_port, percentile, record, write_results
from indunet.idr import records
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.model import HandleValue
from indunet.idr.store import open_store
from indunet.idr.wire import Message, ResolutionRequest, decode, encode

NAME = "idr_resolve"
PREFIX = "88.100.1"
WINDOW = 64

ECHO = """
import asyncio, sys
size = int(sys.argv[2])
class Echo(asyncio.DatagramProtocol):
    def connection_made(self, t): self.t = t
    def datagram_received(self, data, addr): self.t.sendto(data[:20] + bytes(size - 20), addr)
async def main():
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", int(sys.argv[1])))
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def _populate(path: Path, count: int) -> None:
    store = open_store(path)
    ensure_prefix(store, PREFIX, b"bench")
    batch = 10_000
    for start in range(0, count, batch):
        records.register_many(
            store,
            (
                (
                    f"{PREFIX}/p{i:08d}",
                    [
                        HandleValue(1, "URL", f"https://plant.example/p/{i:08d}".encode()),
                        HandleValue(2, "model", b"CP-200"),
                    ],
                )
                for i in range(start, min(count, start + batch))
            ),
        )
    store.close()


async def _load(port: int, count: int, seconds: float) -> tuple[float, float, int]:
    """(answers/s, p99 latency in ms, answer size) with WINDOW requests in flight."""
    loop = asyncio.get_running_loop()
    rng = random.Random(7)
    sent: dict[int, float] = {}
    latencies: list[float] = []
    answered = [0]
    size = [0]
    wake = asyncio.Event()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            request_id = int.from_bytes(data[8:12], "big")
            started = sent.pop(request_id, None)
            if started is not None:
                latencies.append(time.perf_counter() - started)
                answered[0] += 1
                size[0] = len(data)
                wake.set()

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
    pool = [
        encode(Message(ResolutionRequest(f"{PREFIX}/p{rng.randrange(count):08d}"), request_id=i + 1))
        for i in range(50_000)
    ]
    next_id = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        while len(sent) < WINDOW:
            packet = pool[next_id % len(pool)]
            request_id = int.from_bytes(packet[8:12], "big")
            sent[request_id] = time.perf_counter()
            transport.sendto(packet)
            next_id += 1
        wake.clear()
        try:
            await asyncio.wait_for(wake.wait(), 0.5)
        except TimeoutError:
            sent.clear()  # lost datagrams: start the window afresh
    elapsed = time.perf_counter() - start
    transport.close()
    return answered[0] / elapsed, percentile(latencies, 0.99) * 1000, size[0]


def run(quick: bool = False) -> list[dict[str, Any]]:
    count = 20_000 if quick else 200_000
    seconds = 5.0 if quick else 10.0
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "idr.db"
        _populate(store, count)
        port = free_port()
        node = subprocess.Popen(
            [sys.executable, "-m", "indunet", "idr", "serve", "--prefix", PREFIX, "--port", str(port),
             "--store", str(store), "--admin-secret", "bench"],
            stdout=subprocess.PIPE, env={**os.environ, "INDUNET_DATA_DIR": tmp},
        )  # fmt: skip
        try:
            assert node.stdout is not None
            node.stdout.readline()
            check = decode(asyncio.run(_one(port)))
            assert check.response_code == 1, check
            rate, p99, size = asyncio.run(_load(port, count, seconds))
        finally:
            node.terminate()
            node.wait(10)
    echo_port = free_port()
    echo = subprocess.Popen([sys.executable, "-c", ECHO, str(echo_port), str(size)], stdout=subprocess.PIPE)
    try:
        assert echo.stdout is not None
        echo.stdout.readline()
        echo_rate, echo_p99, _ = asyncio.run(_load(echo_port, count, seconds))
    finally:
        echo.terminate()
        echo.wait(10)
    records_ = [
        record(
            f"UDP resolutions, {count:,} identifiers in SQLite, {WINDOW} requests in flight, answers of {size} "
            f"octets; p99 {p99:.2f} ms (echo p99 {echo_p99:.2f} ms)",
            rate,
            "resolutions/s",
            "bare asyncio UDP echo of the same sizes (this machine's limit for a Python process)",
            echo_rate,
            ">= 60,000/s and p99 < 2 ms at 10 million identifiers",
        )
    ]
    write_results(NAME, records_)
    return records_


async def _one(port: int) -> bytes:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()

    class Once(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            if not done.done():
                done.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Once, remote_addr=("127.0.0.1", port))
    transport.sendto(encode(Message(ResolutionRequest(f"{PREFIX}/p00000001"), request_id=1)))
    try:
        return await asyncio.wait_for(done, 5)
    finally:
        transport.close()


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
