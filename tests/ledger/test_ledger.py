"""The stored ledger: the same roots and proofs as the reference tree at every size, signed heads,
audits that catch every kind of tampering, witnesses that cosign a growing log and catch a split
view, and BIDs derived as BIF derives them. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from indunet.ledger import merkle
from indunet.ledger.audit import DumpSource, audit
from indunet.ledger.did import bid_of, is_bid
from indunet.ledger.entries import Kind, LedgerEntry
from indunet.ledger.heads import TreeHead
from indunet.ledger.service import Ledger
from indunet.ledger.store import LogStore, entries, open_log
from indunet.ledger.witness import SplitView, Witness
from indunet.security.crypto import keys
from indunet.security.crypto.keys import Algorithm
from indunet.security.documents import BadDocument


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogStore]:
    if request.param == "sqlite":
        opened = open_log(tmp_path / "ledger.db")
    else:
        opened = open_log(request.getfixturevalue("pg_url"), schema=f"ledger_{secrets.token_hex(4)}")
    yield opened
    opened.close()


def allocation(n: int) -> LedgerEntry:
    return LedgerEntry(
        Kind.ALLOCATION,
        f"88.{n}",
        "did:bid:zfTopLevelNode",
        "2026-12-07T00:00:00.000+00:00",
        {"holder": f"enterprise-{n}"},
    )


def make_ledger(store: LogStore, count: int, key: keys.PrivateKey | None = None) -> Ledger:
    ledger = Ledger(store, key or keys.generate(Algorithm.SM2))
    done = 0
    for batch in (1, 2, 3, 5, 8, 13, 21, 34):
        if done >= count:
            break
        size = min(batch, count - done)
        ledger.record([allocation(done + i) for i in range(size)])
        done += size
    if done < count:
        ledger.record([allocation(i) for i in range(done, count)])
    return ledger


def dump(ledger: Ledger, path: Path) -> Path:
    lines = [json.dumps({"head": raw.decode()}) for raw in ledger.store.heads()]
    lines += [
        json.dumps({"seq": e.seq, "body": base64.b64encode(e.body).decode()})
        for e in ledger.store.entries(0, ledger.store.size())
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_stored_tree_gives_the_reference_roots_and_proofs_at_every_size(log: LogStore) -> None:
    ledger = make_ledger(log, 70)
    bodies = [e.body for e in log.entries(0, 70)]
    reference = merkle.subtree_of(log.h, [merkle.leaf_hash(log.h, b) for b in bodies])
    for size in range(1, 71):
        root = merkle.root(log.h, reference, size)
        assert log.root(size) == root
        for seq in {0, size // 2, size - 1}:
            proof = ledger.inclusion(seq, size)
            assert merkle.verify_inclusion(log.h, log.leaf(seq), seq, size, proof, root)
        for old in {1, size // 3 or 1, size}:
            proof = ledger.consistency(old, size)
            assert merkle.verify_consistency(
                log.h, old, size, merkle.root(log.h, reference, old), root, proof
            )


def test_every_append_batch_gets_a_signed_head_others_can_check(log: LogStore) -> None:
    ledger = make_ledger(log, 20)
    heads = [TreeHead.parse(raw, ledger.did) for raw in log.heads()]
    assert [h.size for h in heads] == sorted({1, 3, 6, 11, 19, 20})
    assert heads[-1].root == log.root(20) and is_bid(ledger.did)
    forged = json.loads(heads[-1].raw)
    forged["size"] = 21
    with pytest.raises(BadDocument):
        TreeHead.parse(json.dumps(forged, sort_keys=True, separators=(",", ":")).encode())
    with pytest.raises(BadDocument):
        TreeHead.parse(heads[-1].raw, "did:bid:zfSomebodyElseEntirely1234")


def test_an_intact_log_passes_the_audit_and_tampering_of_any_kind_fails_it(
    log: LogStore, tmp_path: Path
) -> None:
    ledger = make_ledger(log, 40)
    report = audit(DumpSource(dump(ledger, tmp_path / "ok.jsonl")), ledger.did)
    assert report.intact and report.entries == 40 and report.heads == 7, report.problems
    lines = (tmp_path / "ok.jsonl").read_text().splitlines()
    entry_at = next(i for i, line in enumerate(lines) if '"seq": 17' in line)

    def audited(changed: list[str]) -> list[str]:
        path = tmp_path / "changed.jsonl"
        path.write_text("\n".join(changed) + "\n")
        return audit(DumpSource(path), ledger.did).problems

    edited = json.loads(lines[entry_at])
    edited["body"] = base64.b64encode(allocation(99).encode()).decode()
    assert any("root" in p for p in audited([*lines[:entry_at], json.dumps(edited), *lines[entry_at + 1 :]]))
    assert any("dropped" in p for p in audited([*lines[:entry_at], *lines[entry_at + 1 :]]))
    swapped = [*lines[:entry_at], lines[entry_at + 1], lines[entry_at], *lines[entry_at + 2 :]]
    assert audited(swapped)
    signed = json.loads(json.loads(lines[0])["head"])
    signed["signature"] = base64.b64encode(b"\x00" * 70).decode()
    broken_head = json.dumps({"head": json.dumps(signed, sort_keys=True, separators=(",", ":"))})
    assert any("signature" in p for p in audited([broken_head, *lines[1:]]))
    # A whole other log, rebuilt with the same entries but its own key, is not the pinned one.
    other = make_ledger(open_log(tmp_path / "other.db"), 40)
    assert not audit(DumpSource(dump(other, tmp_path / "other.jsonl")), ledger.did).intact


def test_a_witness_cosigns_a_growing_log_and_raises_a_split_view(log: LogStore, tmp_path: Path) -> None:
    key = keys.generate(Algorithm.SM2)
    ledger = make_ledger(log, 10, key)
    witness = Witness(keys.generate(Algorithm.ED25519), tmp_path / "witness.json")
    first = witness.observe(ledger.sign_head().raw, ledger.consistency)
    ledger.accept_cosignature(first.raw)
    ledger.record([allocation(n) for n in range(10, 15)])
    second = witness.observe(ledger.sign_head().raw, ledger.consistency)
    assert (first.size, second.size) == (10, 15)
    ledger.accept_cosignature(second.raw)
    assert len(log.cosignatures(15)) == 1
    # The same key shows another history: a fork of the first 10 entries with different ones after.
    fork = make_ledger(open_log(tmp_path / "fork.db"), 10, key)
    fork.record([allocation(n + 100) for n in range(10, 15)])
    with pytest.raises(SplitView) as same_size:
        witness.observe(fork.sign_head().raw, fork.consistency)
    assert "two roots" in same_size.value.reason
    fork.record([allocation(n) for n in range(200, 220)])
    with pytest.raises(SplitView):
        witness.observe(fork.sign_head().raw, fork.consistency)
    # A restarted witness remembers what it saw.
    again = Witness(witness.key, tmp_path / "witness.json")
    with pytest.raises(SplitView):
        again.observe(fork.sign_head().raw, fork.consistency)


def test_bids_are_derived_as_bif_derives_them() -> None:
    # A BIF wallet's published example: SM2 public key (after its b0 7a 66 prefix) and its BID. The
    # published BID differs from the derived one in the case of three letters (a transcription
    # slip in that document, as a hash cannot change only case); the other 29 characters match.
    point = bytes.fromhex(
        "045197ea4f790e74b3614f771ea5caba335e14c145d0ef02f65710395334078fee"
        "0ae302a0ecf338b2474fea96ddafdfcb3fa9269a6165b2caf28c9ca06b14703f"
    )
    derived = bid_of(keys.public_key_from_raw(Algorithm.SM2, point))
    assert derived.lower() == "did:bid:zf5EHbHLDDEgY5rA2hnwp5YPhaw9iUPu".lower()
    assert is_bid(derived) and is_bid(bid_of(keys.generate(Algorithm.ED25519).public_key()))
    assert bid_of(keys.generate(Algorithm.ED25519).public_key()).startswith("did:bid:ef")
    assert bid_of(keys.generate(Algorithm.SM2).public_key(), chain="a1b2").startswith("did:bid:a1b2:zf")


def test_an_auditing_witness_catches_an_edited_entry_as_the_log_grows(log: LogStore, tmp_path: Path) -> None:
    key = keys.generate(Algorithm.SM2)
    ledger = make_ledger(log, 10, key)

    def served(start: int, end: int) -> list[bytes]:
        return [e.body for e in log.entries(start, end)]

    witness = Witness(keys.generate(Algorithm.ED25519), tmp_path / "witness.json")
    assert witness.observe(ledger.sign_head().raw, ledger.consistency, entries=served).size == 10
    ledger.record([allocation(n) for n in range(10, 15)])
    assert witness.observe(ledger.sign_head().raw, ledger.consistency, entries=served).size == 15
    # A restarted witness goes on from the range it kept: it reads only the new entries.
    asked: list[tuple[int, int]] = []

    def counted(start: int, end: int) -> list[bytes]:
        asked.append((start, end))
        return served(start, end)

    ledger.record([allocation(n) for n in range(15, 17)])
    again = Witness(witness.key, tmp_path / "witness.json")
    assert again.observe(ledger.sign_head().raw, ledger.consistency, entries=counted).size == 17
    assert asked == [(15, 17)]
    # The operator edits entry 16 where the log keeps it; its stored hashes (and signed heads) stay.
    forged = LedgerEntry(
        Kind.ALLOCATION, "88.16", "did:bid:zfTopLevelNode", detail={"holder": "someone else"}
    )
    with log.engine.begin() as conn:
        conn.execute(update(entries).where(entries.c.seq == 16).values(body=forged.encode()))
    ledger.record([allocation(17)])
    fresh = Witness(keys.generate(Algorithm.SM2), tmp_path / "fresh.json")  # checks the log from 0
    with pytest.raises(SplitView) as caught:
        fresh.observe(ledger.sign_head().raw, ledger.consistency, entries=served)
    assert "do not give the root" in caught.value.reason
    # A witness that checked up to 17 already sees only entry 17, which is intact.
    assert again.observe(ledger.sign_head().raw, ledger.consistency, entries=served).size == 18
