"""Secrets at rest: secret keys, and values only administrators may read, sealed with SM4-GCM in the
store, opened only for whoever needs them, bound to their record and index, and sealed again under a
new key by ``indunet idr rekey``. On SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from indunet.cli import main
from indunet.idr import records
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.model import HS_ADMIN, HS_SECKEY, HandleValue, Permission
from indunet.idr.store import HandleStore, open_store
from indunet.idr.wire.values import AdminPermission, AdminRecord, decode_values, encode_admin
from indunet.security.keyring import Keyring, KeyringError, is_sealed

SECRET = b"the enterprise's own secret"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "idr.db")
    else:
        yield request.getfixturevalue("pg_url")  # each test opens a schema of its own


def _open(location: str, keyring: Keyring | None, schema: str) -> HandleStore:
    return open_store(location, schema=schema, keyring=keyring)


def _stored(store: HandleStore, handle: str) -> bytes:
    with store.engine.connect() as conn:
        blob = conn.execute(
            text("SELECT record FROM idr_handle WHERE handle = :h"), {"h": handle}
        ).scalar_one()
    return bytes(blob)


def test_secret_keys_are_sealed_at_rest_and_still_authenticate(location: str, tmp_path: Path) -> None:
    schema = f"idr_{secrets.token_hex(4)}"
    keyring = Keyring.new(tmp_path / "ring.json")
    store = _open(location, keyring, schema)
    try:
        ensure_prefix(store, "88.100.1", SECRET)
        raw = _stored(store, "0.NA/88.100.1")
        assert SECRET not in raw
        sealed = next(v for v in decode_values(raw) if v.type == HS_SECKEY)
        assert is_sealed(sealed.data)
        assert records.authenticate(store, "300:0.NA/88.100.1", SECRET)  # opened for the check
        with pytest.raises(records.BadCredentials):
            records.authenticate(store, "300:0.NA/88.100.1", b"wrong")
        # Sealed octets handed in as a value are just octets: sealed again, they open to themselves.
        records.create_handle(store, "88.100.1/copy", [sealed], records.SYSTEM)
        with store.read() as tx:
            assert (tx.get("88.100.1/copy") or [])[0].data == sealed.data
        # Sealed octets moved to another record in the database do not open there.
        with store.write() as tx:
            tx._rows("UPDATE idr_handle SET record = ? WHERE handle = ?", (raw, "88.100.1/copy"))
        with pytest.raises(KeyringError), store.read() as tx:
            tx.get("88.100.1/copy")
    finally:
        store.close()
    without = _open(location, None, schema)
    try:
        with pytest.raises(KeyringError, match="no keyring"), without.read() as tx:
            tx.get("0.NA/88.100.1")
    finally:
        without.close()


def test_rekey_seals_every_secret_under_a_new_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "idr.db"
    store = open_store(path)  # no keyring yet: secrets as given, as before sealing existed
    ensure_prefix(store, "88.100.1", SECRET)
    ensure_prefix(store, "88.100.2", b"another")
    store.close()
    assert main(["idr", "rekey", "--store", str(path)]) == 2  # no keyring to rotate: says so
    ring = Keyring.new(Path(f"{path}.keyring.json"))
    first_key = ring.current
    assert main(["idr", "rekey", "--store", str(path)]) == 0
    assert "2 record(s)" in capsys.readouterr().out
    ring = Keyring.load(ring.path)  # type: ignore[arg-type]
    assert ring.current != first_key and set(ring.keys) >= {first_key, ring.current}
    store = open_store(path, keyring=ring)
    try:
        for prefix, secret in (("88.100.1", SECRET), ("88.100.2", b"another")):
            data = next(
                v.data for v in decode_values(_stored(store, f"0.NA/{prefix}")) if v.type == HS_SECKEY
            )
            assert is_sealed(data) and ring.sealed_by_current(data)
            assert records.authenticate(store, f"300:0.NA/{prefix}", secret)
        assert store.reseal() == 0  # nothing left under an old key
    finally:
        store.close()


def test_values_only_administrators_read_are_sealed_too(location: str, tmp_path: Path) -> None:
    schema = f"idr_{secrets.token_hex(4)}"
    store = _open(location, Keyring.new(tmp_path / "ring.json"), schema)
    try:
        ensure_prefix(store, "88.100.1", SECRET)
        private = HandleValue(2, "EMAIL", b"buyer@customer.example", permissions=Permission.ADMIN_READ)
        public = HandleValue(1, "URL", b"https://plant.example/pump-7")
        admin_value = HandleValue(
            100, HS_ADMIN, encode_admin(AdminRecord(AdminPermission.all(), "0.NA/88.100.1", 300))
        )
        records.create_handle(store, "88.100.1/pump-7", [public, private, admin_value], records.SYSTEM)
        raw = _stored(store, "88.100.1/pump-7")
        assert b"buyer@customer.example" not in raw and b"https://plant.example/pump-7" in raw
        admin = records.authenticate(store, "300:0.NA/88.100.1", SECRET)
        shown = {v.type: v.data for v in records.resolve(store, "88.100.1/pump-7", admin)}
        assert shown["EMAIL"] == b"buyer@customer.example"  # opened for whoever may read it
        assert "EMAIL" not in [v.type for v in records.resolve(store, "88.100.1/pump-7")]
    finally:
        store.close()
