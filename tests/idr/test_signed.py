"""Signed identifier data: a record signed by its enterprise verifies up to the pinned top-level key
through the prefixes' certificates, and every broken link is named: edited values, a foreign key,
a forged or expired certificate, another anchor, a signer with no say over the identifier."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.idr import records
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.carriers import CarrierRegistry, heartbeat
from indunet.idr.model import HandleValue, Permission
from indunet.idr.signed import (
    HS_CERT,
    HS_SIGNATURE,
    NotTrusted,
    RecordSigner,
    certify,
    sign_record,
    verify_record,
)
from indunet.idr.store import open_store
from indunet.ledger.did import bid_of
from indunet.security.crypto import keys

NOW = 1_796_601_600_000
LATER = NOW + 365 * 86_400_000
TOP, SECONDARY, ENTERPRISE = (keys.generate(keys.Algorithm.SM2) for _ in range(3))
ANCHOR = bid_of(TOP.public_key())
RECORD = [HandleValue(1, "URL", b"https://plant.example/pump-7"), HandleValue(2, "model", b"CP-200")]


def na_records(enterprise_cert: HandleValue | None = None) -> dict[str, list[HandleValue]]:
    return {
        "0.NA/88": [certify(TOP, "88", "88", TOP.public_key(), LATER)],
        "0.NA/88.100": [certify(TOP, "88", "88.100", SECONDARY.public_key(), LATER)],
        "0.NA/88.100.1": [
            enterprise_cert or certify(SECONDARY, "88.100", "88.100.1", ENTERPRISE.public_key(), LATER)
        ],
    }


def fetcher(records: dict[str, list[HandleValue]]):  # type: ignore[no-untyped-def]
    def fetch(handle: str) -> Sequence[HandleValue] | None:
        return records.get(handle)

    return fetch


def signed(
    handle: str = "88.100.1/pump-7", key: keys.PrivateKey = ENTERPRISE, signer: str = "88.100.1"
) -> list[HandleValue]:
    return [*RECORD, sign_record(key, signer, handle, RECORD, NOW)]


def test_a_signed_record_verifies_up_to_the_pinned_top_level_key() -> None:
    verdict = verify_record("88.100.1/pump-7", signed(), fetcher(na_records()), ANCHOR, NOW)
    assert verdict.signer == "88.100.1" and verdict.chain == ["88.100.1", "88.100", "88"]
    assert (verdict.anchor, verdict.pinned) == (ANCHOR, True)
    # Nothing pinned: the chain ends at the top-level prefix's own certificate, whichever key it is.
    unpinned = verify_record("88.100.1/pump-7", signed(), fetcher(na_records()), None, NOW)
    assert (unpinned.anchor, unpinned.pinned, unpinned.chain) == (ANCHOR, False, ["88.100.1", "88.100", "88"])
    middle = na_records()
    middle["0.NA/88.100"] = [certify(SECONDARY, "88.100", "88.100", SECONDARY.public_key(), LATER)]
    with pytest.raises(NotTrusted, match="certifies itself"):  # only the top level may certify itself
        verify_record("88.100.1/pump-7", signed(), fetcher(middle), None, NOW)
    # Timestamps and TTLs are the server's: they are not what the enterprise signed.
    restamped = [HandleValue(v.index, v.type, v.data, ttl=60, timestamp=NOW // 1000) for v in signed()]
    assert (
        verify_record("88.100.1/pump-7", restamped, fetcher(na_records()), ANCHOR, NOW).signer == "88.100.1"
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("edited value", "not the ones that were signed"),
        ("another handle", "not the ones that were signed"),
        ("foreign key", "does not verify"),
        ("forged certificate", "not signed by 88.100"),
        ("expired certificate", "expired"),
        ("other anchor", "not the pinned anchor"),
        ("signer without say", "may not sign"),
        ("unsigned", "not signed"),
        ("no certificate", "holds no certificate"),
    ],
)
def test_every_broken_link_is_refused_and_named(case: str, expected: str) -> None:
    handle, values, records, anchor = "88.100.1/pump-7", signed(), na_records(), ANCHOR
    stranger = keys.generate(keys.Algorithm.SM2)
    match case:
        case "edited value":
            values = [HandleValue(1, "URL", b"https://evil.example/"), *values[1:]]
        case "another handle":
            handle = "88.100.1/pump-8"
        case "foreign key":
            values = signed(key=stranger)
        case "forged certificate":
            records = na_records(certify(stranger, "88.100", "88.100.1", ENTERPRISE.public_key(), LATER))
        case "expired certificate":
            records = na_records(certify(SECONDARY, "88.100", "88.100.1", ENTERPRISE.public_key(), NOW - 1))
        case "other anchor":
            anchor = bid_of(stranger.public_key())
        case "signer without say":
            handle = "88.200.9/pump-7"
            values = [*RECORD, sign_record(ENTERPRISE, "88.100.1", handle, RECORD, NOW)]
        case "unsigned":
            values = RECORD
        case "no certificate":
            records = {k: v for k, v in records.items() if k != "0.NA/88.100"}
    with pytest.raises(NotTrusted, match=expected):
        verify_record(handle, values, fetcher(records), anchor, NOW)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_garbage_signatures_and_certificates_are_just_not_trusted(
    signature: bytes, certificate: bytes
) -> None:
    records = na_records()
    records["0.NA/88.100"] = [HandleValue(401, HS_CERT, certificate)]
    with pytest.raises(NotTrusted):
        verify_record(
            "88.100.1/x", [*RECORD, HandleValue(400, HS_SIGNATURE, signature)], fetcher(records), ANCHOR, NOW
        )


def test_a_signing_node_signs_every_record_it_writes_and_each_verifies(tmp_path: Path) -> None:
    """Registered one by one or in a batch, changed, given a private value, updated by its carrier:
    each time the record resolves with a signature that verifies up to the anchor."""
    store = open_store(tmp_path / "enterprise.db")
    ensure_prefix(store, "88.100.1", b"enterprise secret")
    store.signer = RecordSigner(ENTERPRISE, "88.100.1")
    chain = fetcher(na_records())

    def verifies(handle: str) -> bool:
        shown = records.resolve(store, handle)  # what an anonymous resolver is shown
        assert sum(v.type == HS_SIGNATURE for v in shown) == 1
        return verify_record(handle, list(shown), chain, ANCHOR, int(time.time() * 1000)).signer == "88.100.1"

    records.create_handle(store, "88.100.1/pump-7", RECORD, records.SYSTEM)
    assert verifies("88.100.1/pump-7")
    records.register_many(store, [(f"88.100.1/part-{n}", RECORD) for n in range(3)])
    assert all(verifies(f"88.100.1/part-{n}") for n in range(3))
    records.put_values(store, "88.100.1/pump-7", [HandleValue(1, "URL", b"https://moved")], records.SYSTEM)
    assert verifies("88.100.1/pump-7")
    private = HandleValue(
        5, "EMAIL", b"ops@plant", permissions=Permission.ADMIN_READ | Permission.ADMIN_WRITE
    )
    records.put_values(store, "88.100.1/pump-7", [private], records.SYSTEM)
    assert verifies("88.100.1/pump-7")
    records.remove_values(store, "88.100.1/pump-7", [2], records.SYSTEM)
    assert verifies("88.100.1/pump-7")

    registry = CarrierRegistry(store, "88.100.1", ENTERPRISE)
    carrier = keys.generate(keys.Algorithm.SM2)
    registry.enroll("88.100.1/pump-7", carrier.public_key(), records.SYSTEM)
    registry.accept(heartbeat(carrier, "88.100.1/pump-7", 1, int(time.time() * 1000), "ok", (31.2, 120.6)))
    assert verifies("88.100.1/pump-7")  # its live values are signed as they change

    # Records outside the prefix, and the prefix's own record, are not the node's to sign.
    records.create_handle(store, "88.100.2/x", RECORD, records.SYSTEM)
    assert not any(v.type == HS_SIGNATURE for v in records.resolve(store, "88.100.2/x"))
    store.close()
