"""Carrier heartbeats accepted per second, each verified (SM2) and recorded.

indunet: ``CarrierRegistry.accept`` on a SQLite identifier store with 1,000 enrolled carriers, each
heartbeat signed by its carrier (made before the clock starts): the document parsed, the signature
verified with the enrolled key, the sequence number and time checked and advanced, and the
identifier's live values (state, last seen, location) rewritten. Measured with one caller, and with
16 concurrent callers as the HTTP server's threads call it (their heartbeats recorded in shared
rounds). Peer, in the same run: verifying the same signatures and nothing else, with as many callers
(the floor set by SM2 verification on this machine).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import record, write_results
from indunet.idr import records
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.carriers import CarrierRegistry, heartbeat
from indunet.idr.model import HandleValue
from indunet.idr.store import open_store
from indunet.security import documents
from indunet.security.crypto import keys

NAME = "carrier_heartbeat"
PREFIX = "88.100.1"
DOMAIN = b"indunet-carrier/heartbeat/v1\n"
CALLERS = 16


def run(quick: bool = False) -> list[dict[str, Any]]:
    fleet = 100 if quick else 1_000
    count = 2_000 if quick else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "idr.db")
        ensure_prefix(store, PREFIX, b"bench")
        registry = CarrierRegistry(store, PREFIX, keys.generate(keys.Algorithm.SM2))
        carriers = []
        for n in range(fleet):
            handle = f"{PREFIX}/pallet-{n:05d}"
            records.create_handle(
                store, handle, [HandleValue(1, "URL", b"https://plant.example/p")], records.SYSTEM
            )
            key = keys.generate(keys.Algorithm.SM2)
            registry.enroll(handle, key.public_key(), records.SYSTEM)
            carriers.append((handle, key))
        now = int(time.time() * 1000)
        sent = []
        for seq in range(1, count + 1):
            handle, key = carriers[seq % fleet]
            location = (31.0 + random.random(), 121.0 + random.random())
            sent.append((key, heartbeat(key, handle, seq, now, "ok", location)))
        half = len(sent) // 2
        start = time.perf_counter()
        for _, message in sent[:half]:
            registry.accept(message)
        accepted = half / (time.perf_counter() - start)
        start = time.perf_counter()
        with ThreadPoolExecutor(CALLERS) as pool:
            list(pool.map(lambda m: registry.accept(m[1]), sent[half:], chunksize=64))
        accepted_concurrent = (len(sent) - half) / (time.perf_counter() - start)
        publics = {id(key): key.public_key() for _, key in carriers}

        def verify(item: tuple[keys.PrivateKey, bytes]) -> None:
            documents.check(DOMAIN, documents.parse(item[1]), publics[id(item[0])])

        start = time.perf_counter()
        for item in sent[:half]:
            verify(item)
        verified = half / (time.perf_counter() - start)
        start = time.perf_counter()
        with ThreadPoolExecutor(CALLERS) as pool:
            list(pool.map(verify, sent[half:], chunksize=64))
        verified_concurrent = (len(sent) - half) / (time.perf_counter() - start)
        store.close()
    results = [
        record(
            f"Carrier heartbeats accepted, one caller: SM2-verified, replay-checked, live values recorded ({fleet:,} carriers, SQLite)",
            accepted, "heartbeats/s",
            "verifying the same heartbeats' SM2 signatures and nothing else (OpenSSL), one caller",
            verified, "reported",
        ),
        record(
            f"Carrier heartbeats accepted, {CALLERS} concurrent callers (recorded in shared rounds)",
            accepted_concurrent, "heartbeats/s",
            f"verifying the same signatures and nothing else, {CALLERS} concurrent callers",
            verified_concurrent, ">= 1,000/s (5,000 carriers reporting every 5 s)",
        ),
    ]  # fmt: skip
    write_results(NAME, results)
    return results


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
