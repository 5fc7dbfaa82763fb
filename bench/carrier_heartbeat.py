"""Carrier heartbeats accepted per second, each verified (SM2) and recorded.

indunet: ``CarrierRegistry.accept`` on a SQLite identifier store with 1,000 enrolled carriers, each
heartbeat signed by its carrier (made before the clock starts): the document parsed, the signature
verified with the enrolled key, the sequence number and time checked and advanced, and the
identifier's live values (state, last seen, location) rewritten. Peer, in the same run: verifying the
same signatures and nothing else (the floor set by SM2 verification on this machine).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
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
            records.create_handle(store, handle, [HandleValue(1, "URL", b"https://plant.example/p")], records.SYSTEM)
            key = keys.generate(keys.Algorithm.SM2)
            registry.enroll(handle, key.public_key(), records.SYSTEM)
            carriers.append((handle, key))
        now = int(time.time() * 1000)
        sent = []
        for seq in range(1, count + 1):
            handle, key = carriers[seq % fleet]
            location = (31.0 + random.random(), 121.0 + random.random())
            sent.append((key, heartbeat(key, handle, seq, now, "ok", location)))
        start = time.perf_counter()
        for _, message in sent:
            registry.accept(message)
        accepted = count / (time.perf_counter() - start)
        publics = {id(key): key.public_key() for _, key in carriers}
        start = time.perf_counter()
        for key, message in sent:
            documents.check(DOMAIN, documents.parse(message), publics[id(key)])
        verified = count / (time.perf_counter() - start)
        store.close()
    results = [
        record(
            f"Carrier heartbeats accepted: SM2-verified, replay-checked, live values recorded ({fleet:,} carriers, SQLite)",
            accepted, "heartbeats/s",
            "verifying the same heartbeats' SM2 signatures and nothing else (OpenSSL)",
            verified, "reported",
        ),
    ]  # fmt: skip
    write_results(NAME, results)
    return results


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
