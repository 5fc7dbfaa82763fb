"""The allocation ledger: appends per second, and proof times with 10 million entries stored.

indunet: ``LogStore.append`` (leaf and completed-subtree hashes computed and stored in one
transaction) in batches of 1,000 into a fresh SQLite log, and ``Ledger.record`` one entry at a
time with a signed (SM2) tree head after each, as prefix allocations are recorded. Peers, in the
same run: sqlite3 inserting the same rows, prepared beforehand, with the same durability settings
(the engine's own limit). Proofs: inclusion and consistency proofs built from the stored tree with
10 million entries (built once, kept under ``~/.cache/indunet-bench``), and verified; peer: sqlite3
reading as many stored hashes by primary key as a proof has nodes (the floor for any stored tree).
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import cached_file, record, write_results
from indunet.ledger import merkle
from indunet.ledger.entries import Kind, LedgerEntry
from indunet.ledger.service import Ledger
from indunet.ledger.store import open_log
from indunet.security.crypto import keys

NAME = "ledger_append"
BATCH = 1_000


def _body(i: int) -> bytes:
    return LedgerEntry(
        Kind.REGISTRATION, f"88.100.1/p{i:08d}", "did:bid:zfBenchLedger", "2026-12-07T00:00:00.000+00:00",
        {"record_sm3": f"{i:064x}"},
    ).encode()  # fmt: skip


def _built(count: int) -> Path:
    def build(path: Path) -> None:
        log = open_log(path)
        for first in range(0, count, 10_000):
            log.append([_body(i) for i in range(first, min(count, first + 10_000))])
        log.close()

    return cached_file(f"ledger-v1-{count}.db", build)


def _peer_rows(path: Path, bodies: list[bytes], batch: int) -> float:
    """sqlite3 inserting the entry rows and the node rows the tree needs, prepared beforehand."""
    h = merkle.hasher("sha256")
    entries = [(i, b, h(b"\x00" + b), "2026-12-07 00:00:00") for i, b in enumerate(bodies)]
    nodes = [(1, i // 2, h(b"\x01" + bytes(64))) for i in range(1, len(bodies), 2)]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE e (seq INTEGER PRIMARY KEY, body BLOB, leaf BLOB, at TEXT)")
    conn.execute("CREATE TABLE n (level INTEGER, idx INTEGER, hash BLOB, PRIMARY KEY (level, idx))")
    start = time.perf_counter()
    for first in range(0, len(entries), batch):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO e VALUES (?, ?, ?, ?)", entries[first : first + batch])
        conn.executemany("INSERT INTO n VALUES (?, ?, ?)", nodes[first // 2 : (first + batch) // 2])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(entries) / elapsed


def _peer_reads(path: Path, count: int, reads: int, rounds: int) -> float:
    conn = sqlite3.connect(path)
    times = []
    for _ in range(rounds):
        seqs = [random.randrange(count) for _ in range(reads)]
        start = time.perf_counter()
        for seq in seqs:
            conn.execute("SELECT leaf FROM ledger_entry WHERE seq = ?", (seq,)).fetchone()
        times.append(time.perf_counter() - start)
    conn.close()
    return statistics.median(times) * 1000


def run(quick: bool = False) -> list[dict[str, Any]]:
    fresh = 50_000 if quick else 500_000
    singles = 500 if quick else 2_000
    stored = 200_000 if quick else 10_000_000
    rounds = 200 if quick else 1_000
    bodies = [_body(i) for i in range(fresh)]
    with tempfile.TemporaryDirectory() as tmp:
        log = open_log(Path(tmp) / "batched.db")
        start = time.perf_counter()
        for first in range(0, fresh, BATCH):
            log.append(bodies[first : first + BATCH])
        batched = fresh / (time.perf_counter() - start)
        log.close()
        peer_batched = _peer_rows(Path(tmp) / "peer-batched.db", bodies, BATCH)
        ledger = Ledger(open_log(Path(tmp) / "single.db"), keys.generate(keys.Algorithm.SM2))
        entries = [
            LedgerEntry(Kind.ALLOCATION, f"88.{i}", ledger.did, detail={"n": i}) for i in range(singles)
        ]
        start = time.perf_counter()
        for entry in entries:
            ledger.record([entry])
        single = singles / (time.perf_counter() - start)
        ledger.store.close()
        peer_single = _peer_rows(Path(tmp) / "peer-single.db", bodies[:singles], 1)
    path = _built(stored)
    log = open_log(path)
    size = log.size()
    top = log.root(size)
    inclusion_ms, consistency_ms, nodes = [], [], []
    for _ in range(rounds):
        seq, old = random.randrange(size), random.randrange(1, size)
        start = time.perf_counter()
        with log.reader() as subtree:
            proof = merkle.inclusion_proof(subtree, seq, size)
        inclusion_ms.append((time.perf_counter() - start) * 1000)
        assert merkle.verify_inclusion(log.h, log.leaf(seq), seq, size, proof, top)
        nodes.append(len(proof))
        start = time.perf_counter()
        with log.reader() as subtree:
            consistency = merkle.consistency_proof(subtree, old, size)
        consistency_ms.append((time.perf_counter() - start) * 1000)
        assert merkle.verify_consistency(log.h, old, size, log.root(old), top, consistency)
    log.close()
    floor = _peer_reads(path, size, int(statistics.median(nodes)), rounds)
    results = [
        record(
            f"Ledger appends in batches of {BATCH:,} (SQLite, {fresh:,} entries)",
            batched, "entries/s",
            f"sqlite3 inserting the same entry and subtree rows, prepared, one transaction per {BATCH:,}",
            peer_batched, "reported",
        ),
        record(
            "Ledger appends one at a time, each with a signed (SM2) tree head, as allocations are recorded",
            single, "entries/s",
            "sqlite3 inserting the same rows, prepared, one transaction each",
            peer_single, "reported",
        ),
        record(
            f"Inclusion proof with {size:,} entries stored (median, built from stored subtrees)",
            statistics.median(inclusion_ms), "ms",
            f"sqlite3 reading {int(statistics.median(nodes))} stored hashes by primary key (a proof's worth)",
            floor, "reported (lower is better)",
        ),
        record(
            f"Consistency proof with {size:,} entries stored (median, from a random earlier size)",
            statistics.median(consistency_ms), "ms",
            f"sqlite3 reading {int(statistics.median(nodes))} stored hashes by primary key (a proof's worth)",
            floor, "reported (lower is better)",
        ),
    ]  # fmt: skip
    write_results(NAME, results)
    return results


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
