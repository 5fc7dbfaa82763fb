"""The record store and the record operations, on SQLite and PostgreSQL.

Record operations are checked through their authorisation model: prefix administrators create
identifiers, identifier administrators change them, non-public values are theirs alone to read.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    insert,
    inspect,
    text,
)

from indunet.idr import records
from indunet.idr.model import HS_ADMIN, HS_SECKEY, HS_VLIST, HandleValue, Permission, Reference
from indunet.idr.records import SYSTEM, administrator
from indunet.idr.store import HandleStore, open_store
from indunet.idr.wire.values import AdminPermission, AdminRecord, encode_admin, encode_vlist

ADMIN_ID = ("0.NA/88.100.1", 300)
SECRET = b"s3cret-of-the-enterprise"
ALL = AdminPermission.all()
PRIVATE = Permission.ADMIN_READ | Permission.ADMIN_WRITE


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HandleStore]:
    if request.param == "sqlite":
        opened = open_store(tmp_path / "idr.db")
    else:
        pg = request.getfixturevalue("pg_url")
        opened = open_store(pg, schema=f"idr_{secrets.token_hex(4)}")
    yield opened
    opened.close()


def admin_value(index: int, handle: str, admin_index: int, permissions: AdminPermission) -> HandleValue:
    return HandleValue(index, HS_ADMIN, encode_admin(AdminRecord(permissions, handle, admin_index)))


def url(index: int, target: str) -> HandleValue:
    return HandleValue(index, "URL", target.encode())


def seed_prefix(store: HandleStore, prefix: str = "88.100.1", secret: bytes = SECRET) -> None:
    """``0.NA/<prefix>`` with an administrator at index 300 holding ``secret``."""
    na = f"0.NA/{prefix}"
    records.create_handle(
        store,
        na,
        [
            admin_value(100, na, 300, ALL),
            HandleValue(300, HS_SECKEY, secret, permissions=PRIVATE),
        ],
        SYSTEM,
    )


def test_bulk_registration_inserts_thousands_in_one_transaction(store: HandleStore) -> None:
    batch = [(f"88.100.1/part-{i:05d}", [url(1, f"https://example.cn/p/{i}")]) for i in range(2500)]
    assert records.register_many(store, batch) == 2500
    with store.read() as tx:
        total, page = tx.list_handles("88.100.1", offset=0, limit=3)
    assert total == 2500
    assert page == ["88.100.1/part-00000", "88.100.1/part-00001", "88.100.1/part-00002"]
    assert records.resolve(store, "88.100.1/part-02499")[0].data == b"https://example.cn/p/2499"


def test_bulk_registration_with_a_duplicate_registers_nothing(store: HandleStore) -> None:
    records.register_many(store, [("88.100.1/dup", [url(1, "https://a")])])
    with pytest.raises(records.HandleAlreadyExists):
        records.register_many(store, [("88.100.1/new", [url(1, "https://b")]), ("88.100.1/dup", [])])
    with pytest.raises(records.HandleNotFound):
        records.resolve(store, "88.100.1/new")


def test_values_round_trip_with_every_field(store: HandleStore) -> None:
    value = HandleValue(
        7,
        "EXAMPLE.META",
        bytes(range(256)),
        ttl=3600,
        permissions=Permission.PUBLIC_READ | Permission.ADMIN_WRITE,
        references=(Reference("88.100.1/other", 2),),
    )
    records.create_handle(store, "88.100.1/Round", [value], SYSTEM)
    (got,) = records.resolve(store, "88.100.1/Round")
    assert (got.index, got.type, got.data, got.ttl, got.permissions, got.references) == (
        7,
        "EXAMPLE.META",
        bytes(range(256)),
        3600,
        value.permissions,
        value.references,
    )
    assert got.timestamp > 0


def test_prefix_is_case_insensitive_and_suffix_is_not(store: HandleStore) -> None:
    records.create_handle(store, "88.ABC/Item", [url(1, "https://x")], SYSTEM)
    assert records.resolve(store, "88.abc/Item")
    with pytest.raises(records.HandleNotFound):
        records.resolve(store, "88.abc/item")


def test_prefix_administrator_creates_and_manages_identifiers(store: HandleStore) -> None:
    seed_prefix(store)
    caller = records.authenticate(store, "300:0.NA/88.100.1", SECRET)
    assert caller.admin == ADMIN_ID
    owner = admin_value(100, "0.NA/88.100.1", 300, ALL)
    assert records.create_handle(store, "88.100.1/pump-7", [owner, url(1, "https://a")], caller)
    added, replaced = records.put_values(
        store, "88.100.1/pump-7", [url(1, "https://b"), url(2, "https://c")], caller
    )
    assert (added, replaced) == ([2], [1])
    records.remove_values(store, "88.100.1/pump-7", [2], caller)
    assert [v.index for v in records.resolve(store, "88.100.1/pump-7")] == [1, 100]
    records.delete_handle(store, "88.100.1/pump-7", caller)
    with pytest.raises(records.HandleNotFound):
        records.resolve(store, "88.100.1/pump-7")


def test_wrong_secret_and_unknown_admin_fail_authentication(store: HandleStore) -> None:
    seed_prefix(store)
    for user, secret in [
        ("300:0.NA/88.100.1", b"wrong"),
        ("301:0.NA/88.100.1", SECRET),
        ("100:0.NA/88.100.1", SECRET),  # an HS_ADMIN value is no key
        ("300:0.NA/88.999", SECRET),
        ("0.NA/88.100.1", SECRET),
    ]:
        with pytest.raises(records.BadCredentials):
            records.authenticate(store, user, secret)


def test_anonymous_and_foreign_admins_are_refused(store: HandleStore) -> None:
    seed_prefix(store)
    seed_prefix(store, "88.200.5", b"other-secret")
    other = records.authenticate(store, "300:0.NA/88.200.5", b"other-secret")
    with pytest.raises(records.AuthenticationNeeded):
        records.create_handle(store, "88.100.1/x", [url(1, "https://a")], records.ANONYMOUS)
    with pytest.raises(records.NotAuthorised):
        records.create_handle(store, "88.100.1/x", [url(1, "https://a")], other)
    records.create_handle(store, "88.100.1/x", [admin_value(100, *ADMIN_ID, ALL)], SYSTEM)
    with pytest.raises(records.NotAuthorised):
        records.put_values(store, "88.100.1/x", [url(1, "https://evil")], other)
    with pytest.raises(records.NotAuthorised):
        records.delete_handle(store, "88.100.1/x", other)


def test_permission_bits_limit_an_administrator(store: HandleStore) -> None:
    seed_prefix(store)
    me = administrator(*ADMIN_ID)
    read_only = admin_value(100, *ADMIN_ID, AdminPermission.ADD_VALUE | AdminPermission.READ_VALUE)
    records.create_handle(store, "88.100.1/limited", [read_only, url(1, "https://a")], SYSTEM)
    records.put_values(store, "88.100.1/limited", [url(2, "https://b")], me)  # adding is allowed
    with pytest.raises(records.NotAuthorised, match="MODIFY_VALUE"):
        records.put_values(store, "88.100.1/limited", [url(1, "https://changed")], me)
    with pytest.raises(records.NotAuthorised, match="DELETE_HANDLE"):
        records.delete_handle(store, "88.100.1/limited", me)
    with pytest.raises(records.NotAuthorised, match="ADD_ADMIN"):
        records.put_values(store, "88.100.1/limited", [admin_value(101, "0.NA/88.200", 300, ALL)], me)


def test_non_public_values_are_shown_only_to_administrators(store: HandleStore) -> None:
    seed_prefix(store)
    secret = HandleValue(5, "NOTE", b"internal", permissions=PRIVATE)
    records.create_handle(
        store, "88.100.1/doc", [admin_value(100, *ADMIN_ID, ALL), url(1, "https://a"), secret], SYSTEM
    )
    assert [v.index for v in records.resolve(store, "88.100.1/doc")] == [1, 100]
    with pytest.raises(records.AuthenticationNeeded):
        records.resolve(store, "88.100.1/doc", public_only=False)
    me = administrator(*ADMIN_ID)
    assert [v.index for v in records.resolve(store, "88.100.1/doc", me)] == [1, 5, 100]
    assert [v.index for v in records.resolve(store, "88.100.1/doc", me, public_only=True)] == [1, 100]


def test_admin_group_in_an_hs_vlist_grants_its_members(store: HandleStore) -> None:
    seed_prefix(store)
    group = HandleValue(200, HS_VLIST, encode_vlist((Reference("0.NA/88.100.1", 300),)))
    records.create_handle(store, "88.100.1/admins", [group], SYSTEM)
    records.create_handle(store, "88.100.1/g", [admin_value(100, "88.100.1/admins", 200, ALL)], SYSTEM)
    records.put_values(store, "88.100.1/g", [url(1, "https://by-group")], administrator(*ADMIN_ID))
    stranger = administrator("0.NA/88.100.1", 301)
    with pytest.raises(records.NotAuthorised):
        records.put_values(store, "88.100.1/g", [url(1, "https://x")], stranger)


def test_derived_prefix_needs_add_na_on_the_parent(store: HandleStore) -> None:
    seed_prefix(store, "88.100")
    parent_admin = administrator("0.NA/88.100", 300)
    na_value = admin_value(100, "0.NA/88.100.9", 300, ALL)
    records.create_handle(store, "0.NA/88.100.9", [na_value], parent_admin)
    seed_prefix(store, "88.300")
    with pytest.raises(records.NotAuthorised):
        records.create_handle(store, "0.NA/88.100.10", [na_value], administrator("0.NA/88.300", 300))


def test_filters_conflicts_and_missing_values(store: HandleStore) -> None:
    records.create_handle(
        store,
        "88.100.1/f",
        [url(1, "https://a"), HandleValue(2, "EMAIL", b"a@b"), HandleValue(3, "URL.ALT", b"z")],
        SYSTEM,
    )
    assert [v.index for v in records.resolve(store, "88.100.1/f", types=["url"])] == [1]
    assert [v.index for v in records.resolve(store, "88.100.1/f", types=["URL."])] == [3]
    assert [v.index for v in records.resolve(store, "88.100.1/f", indexes=[2], types=["URL"])] == [1, 2]
    with pytest.raises(records.ValuesNotFound):
        records.resolve(store, "88.100.1/f", indexes=[9])
    with pytest.raises(records.HandleAlreadyExists):
        records.create_handle(store, "88.100.1/f", [], SYSTEM)
    with pytest.raises(records.ValueAlreadyExists):
        records.put_values(store, "88.100.1/f", [url(1, "https://b")], SYSTEM, overwrite=False)
    with pytest.raises(records.ValuesNotFound):
        records.remove_values(store, "88.100.1/f", [1, 9], SYSTEM)
    assert len(records.resolve(store, "88.100.1/f")) == 3  # nothing removed


@pytest.mark.parametrize(
    ("handle", "values"),
    [
        ("no-slash", []),
        ("88.100.1/x", [url(0, "https://a")]),
        ("88.100.1/x", [url(1, "https://a"), url(1, "https://b")]),
        ("88.100.1/x", [HandleValue(1, "T" * 200, b"")]),
        ("88.100.1/x", [HandleValue(1, "BIG", b"x" * 70_000)]),
        ("88.100.1/x", [HandleValue(100, HS_ADMIN, b"\x00\x01")]),
        ("88.100.1/" + "x" * 1100, []),
    ],
)
def test_invalid_input_is_refused_with_a_typed_error(
    store: HandleStore, handle: str, values: list[HandleValue]
) -> None:
    with pytest.raises((records.InvalidValue, records.InvalidHandleName)):
        records.create_handle(store, handle, values, SYSTEM)


def test_store_reopens_with_its_data(tmp_path: Path) -> None:
    first = open_store(tmp_path / "persist.db")
    records.create_handle(first, "88.100.1/kept", [url(1, "https://kept")], SYSTEM)
    first.close()
    second = open_store(f"sqlite:///{tmp_path / 'persist.db'}")
    assert records.resolve(second, "88.100.1/kept")[0].data == b"https://kept"
    second.close()


def _old_layout(engine: Engine) -> None:
    """A store as written before records were kept whole: one row per value in ``idr_value``."""
    old = MetaData()
    handles = Table(
        "idr_handle",
        old,
        Column("handle", Text, primary_key=True),
        Column("prefix", Text, nullable=False, index=True),
        Column("created", DateTime(timezone=True), nullable=False),
        Column("updated", DateTime(timezone=True), nullable=False),
    )
    values = Table(
        "idr_value",
        old,
        Column("handle", Text, ForeignKey("idr_handle.handle", ondelete="CASCADE"), nullable=False),
        Column("idx", BigInteger, nullable=False),
        Column("type", Text, nullable=False),
        Column("data", LargeBinary, nullable=False),
        Column("ttl_type", SmallInteger, nullable=False),
        Column("ttl", BigInteger, nullable=False),
        Column("timestamp", BigInteger, nullable=False),
        Column("permissions", Integer, nullable=False),
        Column("refs", JSON, nullable=False),
        PrimaryKeyConstraint("handle", "idx"),
    )
    old.create_all(engine)
    now = datetime.now(UTC)
    value = {"ttl_type": 0, "ttl": 86400, "timestamp": 1796601600}
    with engine.begin() as conn:
        conn.execute(
            insert(handles),
            [
                {"handle": h, "prefix": "88.100.1", "created": now, "updated": now}
                for h in ("88.100.1/a", "88.100.1/b")
            ],
        )
        conn.execute(
            insert(values),
            [
                {
                    **value,
                    "handle": "88.100.1/a",
                    "idx": 2,
                    "type": "EMAIL",
                    "data": b"ops@a",
                    "permissions": 12,
                    "refs": [],
                },
                {
                    **value,
                    "handle": "88.100.1/a",
                    "idx": 1,
                    "type": "URL",
                    "data": b"https://a",
                    "permissions": 14,
                    "refs": [["88.100.1/b", 1]],
                },
            ],
        )


def test_a_store_of_the_earlier_layout_keeps_every_record(store: HandleStore) -> None:
    engine = store.engine
    store.close()
    with engine.begin() as conn:
        for table in ("idr_field", "idr_handle"):
            conn.execute(text(f"DROP TABLE {table}"))
    _old_layout(engine)
    reopened = HandleStore(engine)
    try:
        a = records.resolve(reopened, "88.100.1/a", SYSTEM)
        assert [(v.index, v.type, v.data) for v in a] == [(1, "URL", b"https://a"), (2, "EMAIL", b"ops@a")]
        assert a[0].references == (Reference("88.100.1/b", 1),) and a[0].ttl == 86400
        assert [v.index for v in records.resolve(reopened, "88.100.1/a")] == [1]  # index 2 is not public
        assert records.resolve(reopened, "88.100.1/b", SYSTEM) == []
        with reopened.read() as tx:
            assert tx.list_handles("88.100.1") == (2, ["88.100.1/a", "88.100.1/b"])
        assert not inspect(engine).has_table("idr_value")
    finally:
        reopened.close()
