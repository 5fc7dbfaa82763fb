"""Identifier records in SQL: one row per identifier, its values kept as they go on the wire.

Theory of operation: the tables live in their own SQLAlchemy ``MetaData`` (names prefixed ``idr_``),
apart from the platform's migrated schema, and are created on open when missing. SQLite is the
default (a file path or ``sqlite:///`` URL); a ``postgresql://`` URL selects PostgreSQL. Engines come
from :func:`indunet.store.engine.create_metadata_engine`, so both backends are tuned as the platform's.

A record's values are one column in the Handle protocol's own encoding (RFC 3651: their count, then
each value, in index order): resolution, by far the commonest operation, reads one row and sends
the octets as they are; registration writes one row per identifier. A changed value rewrites its
record (records are small: at most a few hundred values of at most 64 KiB). On SQLite the table is
``WITHOUT ROWID``, so a read is one B-tree descent.

Every read-check-write sequence runs in one :class:`Transaction`. On PostgreSQL a write transaction
locks the identifier's row (``SELECT ... FOR UPDATE``); SQLite allows one writer at a time anyway,
and a process-wide lock keeps this process's writers from upgrading read locks into ``database is
locked`` errors. Identifiers are stored as given: callers pass them through
:func:`indunet.idr.model.normalise` first.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    delete,
    func,
    insert,
    inspect,
    select,
)

from indunet.idr.hotcache import RedisRecords
from indunet.idr.model import HS_SECKEY, HandleValue, Permission, Reference, TtlType, split
from indunet.idr.stats import Tally
from indunet.idr.templates import (
    Template,
    parse_template,
    search_rows,
    search_text,
    template_ref,
)
from indunet.idr.wire.values import decode_values, encode_values
from indunet.security.keyring import Keyring, KeyringError, is_sealed
from indunet.store.engine import create_metadata_engine, engine_url

READER_MMAP_BYTES = 2 << 30
KEYRING_ENV = "INDUNET_IDR_KEYRING"

metadata = MetaData()

handles = Table(
    "idr_handle",
    metadata,
    Column("handle", Text, primary_key=True),
    Column("prefix", Text, nullable=False, index=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
    Column("all_public", Boolean, nullable=False),
    Column("template", Text, nullable=True),
    Column("record", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)
"""``all_public``: every value may be read by anyone (the record's octets are then an anonymous
answer as they are); ``template``: ``name@version`` of its metadata template, if any."""

Index(
    "ix_idr_handle_template",
    handles.c.template,
    sqlite_where=handles.c.template.is_not(None),
    postgresql_where=handles.c.template.is_not(None),
)


class HandleExists(Exception):
    """The identifier is registered already."""


@dataclass(frozen=True, slots=True)
class Record:
    handle: str
    values: tuple[HandleValue, ...]
    created: datetime
    updated: datetime


def _now() -> datetime:
    return datetime.now(UTC)


_NO_VALUES = bytes(4)
"""A record of no values in wire form (a count of zero)."""
_EXISTS_SQL = "SELECT handle FROM idr_handle WHERE handle = ?"
_READ_SQL = "SELECT record FROM idr_handle WHERE handle = ?"
_READ_PUBLIC_SQL = "SELECT all_public, record FROM idr_handle WHERE handle = ?"
_INSERT_SQL = (
    "INSERT INTO idr_handle (handle, prefix, created, updated, all_public, template, record)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_SQL = "UPDATE idr_handle SET all_public = ?, template = ?, record = ?, updated = ? WHERE handle = ?"
_DELETE_FIELDS_SQL = "DELETE FROM idr_field WHERE handle = ?"


def _columns(
    handle: str, record_values: Iterable[HandleValue], keyring: Keyring | None
) -> tuple[bool, str | None, bytes]:
    """(all_public, template, record) of a record's values, secret ones sealed when there is a keyring."""
    ordered = sorted(record_values, key=_by_index)
    if keyring is not None:
        ordered = [_sealed(handle, v, keyring) for v in ordered]
    ref = template_ref(ordered)
    return (
        all(v.public for v in ordered),
        None if ref is None else f"{ref[0]}@{ref[1]}",
        encode_values(ordered),
    )


def _by_index(value: HandleValue) -> int:
    return value.index


def _where(handle: str, value: HandleValue) -> bytes:
    """What a sealed value is bound to: moved to another record or index, it does not open."""
    return f"{handle}#{value.index}".encode()


def _secret(value: HandleValue) -> bool:
    """Sealed at rest: secret keys, and every value the public may not read (administrators' own)."""
    return value.type == HS_SECKEY or not value.public


def _sealed(handle: str, value: HandleValue, keyring: Keyring) -> HandleValue:
    # Always sealed, even octets that look sealed: what callers hand in is clear by definition.
    if not _secret(value):
        return value
    return replace(value, data=keyring.seal(value.data, _where(handle, value)))


def _opened(handle: str, values: Iterable[HandleValue], keyring: Keyring | None) -> list[HandleValue]:
    """The values with their secret ones opened (KeyringError when one does not open)."""
    out = []
    for value in values:
        if _secret(value) and is_sealed(value.data):
            if keyring is None:
                raise KeyringError(f"{handle} holds a sealed value and no keyring was given")
            value = replace(value, data=keyring.open(value.data, _where(handle, value)))
        out.append(value)
    return out


prefix_counts = Table(
    "idr_prefix_count",
    metadata,
    Column("prefix", Text, primary_key=True),
    Column("n", BigInteger, nullable=False),
)
"""Identifiers per prefix, kept in the registering transaction: quotas are checked without counting."""

quotas = Table(
    "idr_quota",
    metadata,
    Column("prefix", Text, primary_key=True),
    Column("max_handles", BigInteger, nullable=False),
)
"""Registration quotas the node's operator set per prefix (not record values: an enterprise
administrator, who may change its own prefix record, must not raise its own quota)."""

templates = Table(
    "idr_template",
    metadata,
    Column("name", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("name", "version"),
)

fields = Table(
    "idr_field",
    metadata,
    Column("template", Text, nullable=False),
    Column("field", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("handle", Text, nullable=False, index=True),
    PrimaryKeyConstraint("template", "field", "value", "handle"),
)
"""Searchable field values of templated identifiers, rewritten with every change of the record (by
any interface), so search never disagrees with resolution."""

resolution_stats = Table(
    "idr_stats",
    metadata,
    Column("day", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("resolutions", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("buckets", JSON, nullable=False),
    PrimaryKeyConstraint("day", "prefix"),
)
"""Resolution tallies per day and prefix (see :mod:`indunet.idr.stats`), added to by every node
process sharing the store."""

changes = Table(
    "idr_change",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
"""What changed, for other processes serving the same store (``change_log``): ``h`` an identifier
changed or was deleted, ``c`` identifiers were created under a prefix (one row per prefix and
transaction, so batch registration stays one small insert)."""


Signer = Callable[[str, Sequence[HandleValue]], list[HandleValue]]
"""Given a record about to be written, the record to write (with its signature)."""


class Transaction:
    """The operations on records, all inside one database transaction."""

    def __init__(
        self, conn: Connection, *, locking: bool, keyring: Keyring | None = None, signer: Signer | None = None
    ) -> None:
        self._conn = conn
        self._locking = locking
        self._keyring = keyring
        self._signer = signer
        self.changed: set[str] = set()
        """Identifiers this transaction wrote; the store tells its listeners after the commit."""
        self.created: set[str] = set()
        self._templates: dict[tuple[str, int], Template | None] = {}

    @property
    def conn(self) -> Connection:
        """This transaction's connection, for tables other modules keep in the same database (the
        carriers') to change together with the records."""
        return self._conn

    def run(self, sql: str, params: tuple[Any, ...]) -> int:
        """``sql`` (``?`` placeholders), a write to a table kept beside the records (the carriers'),
        run by the driver inside this transaction; the number of rows it changed."""
        cursor = self._conn.connection.cursor()
        try:
            cursor.execute(sql if self._conn.dialect.name == "sqlite" else sql.replace("?", "%s"), params)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """``sql`` (``?`` placeholders) run by the driver inside this transaction: the reads and small
        writes of registration, where SQLAlchemy's statement machinery would cost more than the query."""
        cursor = self._conn.connection.cursor()
        try:
            cursor.execute(sql if self._conn.dialect.name == "sqlite" else sql.replace("?", "%s"), params)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def exists(self, handle: str) -> bool:
        sql = _EXISTS_SQL + " FOR UPDATE" if self._locking else _EXISTS_SQL
        return bool(self._rows(sql, (handle,)))

    def get(self, handle: str) -> list[HandleValue] | None:
        """The record's values in index order; None when the identifier is not registered."""
        rows = self._rows(_READ_SQL + " FOR UPDATE" if self._locking else _READ_SQL, (handle,))
        return _opened(handle, decode_values(rows[0][0]), self._keyring) if rows else None

    def get_value(self, handle: str, index: int) -> HandleValue | None:
        return next((v for v in self.get(handle) or () if v.index == index), None)

    def create(self, handle: str, new_values: Sequence[HandleValue]) -> None:
        """Register ``handle`` with ``new_values``; HandleExists (ending the transaction) when it is."""
        self.create_many([(handle, new_values)])

    def create_many(self, records: Sequence[tuple[str, Sequence[HandleValue]]]) -> int:
        """Register many identifiers with one multi-row insert (bulk registration).

        The rows go to the driver directly, in this transaction: SQLAlchemy's per-row parameter
        processing would cost several times what the database takes to insert them.
        """
        if not records:
            return 0
        sqlite = self._conn.dialect.name == "sqlite"
        now = _now()
        stamp: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
        rows: list[tuple[Any, ...]] = []
        prefixes: Counter[str] = Counter()
        if self._signer is not None:
            records = [(handle, self._signer(handle, vs)) for handle, vs in records]
        for handle, record_values in records:
            prefix = handle.partition("/")[0]  # callers pass normalised names
            prefixes[prefix] += 1
            rows.append((handle, prefix, stamp, stamp, *_columns(handle, record_values, self._keyring)))
        # A duplicate aborts the whole transaction: the caller's ``with`` block rolls it back.
        try:
            self._executemany(_INSERT_SQL, rows)
        except self._conn.dialect.loaded_dbapi.IntegrityError as exc:
            raise HandleExists(", ".join(r[0] for r in rows[:3])) from exc
        names = [r[0] for r in rows]
        self.changed.update(names)
        self.created.update(names)
        for prefix, n in prefixes.items():
            self._add_count(prefix, n)
        search = [row for handle, vs in records for row in self._search_rows(handle, vs)]
        if search:
            self._conn.execute(insert(fields), search)
        return len(rows)

    def _executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        cursor = self._conn.connection.cursor()  # the driver's, inside this transaction
        try:
            cursor.executemany(sql if self._conn.dialect.name == "sqlite" else sql.replace("?", "%s"), rows)
        finally:
            cursor.close()

    def put_values(self, handle: str, new_values: Sequence[HandleValue]) -> None:
        """Add ``new_values``, replacing the values at the same indexes."""
        if not new_values:
            return
        merged = {v.index: v for v in self.get(handle) or ()}
        merged.update((v.index, v) for v in new_values)
        self.replace(handle, list(merged.values()))

    def replace(self, handle: str, new_values: Sequence[HandleValue]) -> None:
        """Make ``new_values`` the whole record."""
        self.changed.add(handle)
        if self._signer is not None:
            new_values = self._signer(handle, new_values)
        all_public, template, record = _columns(handle, new_values, self._keyring)
        stamp: Any = _now()
        if self._conn.dialect.name == "sqlite":
            stamp = stamp.strftime("%Y-%m-%d %H:%M:%S.%f")
        self._rows(_UPDATE_SQL, (all_public, template, record, stamp, handle))
        self._rows(_DELETE_FIELDS_SQL, (handle,))
        rows = self._search_rows(handle, new_values)
        if rows:
            self._conn.execute(insert(fields), rows)

    def remove_values(self, handle: str, indexes: Iterable[int]) -> None:
        gone = set(indexes)
        self.replace(handle, [v for v in self.get(handle) or () if v.index not in gone])

    def delete(self, handle: str) -> bool:
        """Delete the identifier and its values; False when it was not registered."""
        self.changed.add(handle)
        self._conn.execute(delete(fields).where(fields.c.handle == handle))
        deleted = self._conn.execute(delete(handles).where(handles.c.handle == handle)).rowcount > 0
        if deleted:
            self._add_count(split(handle)[0], -1)
        return deleted

    def list_handles(self, prefix: str, offset: int = 0, limit: int = 1000) -> tuple[int, list[str]]:
        """(how many identifiers the prefix has, one page of them in sort order)."""
        total = self._conn.execute(
            select(func.count()).select_from(handles).where(handles.c.prefix == prefix)
        ).scalar_one()
        page = self._conn.execute(
            select(handles.c.handle)
            .where(handles.c.prefix == prefix)
            .order_by(handles.c.handle)
            .offset(offset)
            .limit(limit)
        ).scalars()
        return int(total), list(page)

    def record(self, handle: str) -> Record | None:
        row = self._conn.execute(select(handles).where(handles.c.handle == handle)).first()
        if row is None:
            return None
        return Record(
            handle, tuple(_opened(handle, decode_values(row.record), self._keyring)), row.created, row.updated
        )

    def count(self, prefix: str) -> int:
        """How many identifiers are registered under ``prefix`` (exactly that prefix)."""
        rows = self._rows("SELECT n FROM idr_prefix_count WHERE prefix = ?", (prefix,))
        return int(rows[0][0]) if rows else 0

    def quota(self, prefix: str) -> int | None:
        rows = self._rows("SELECT max_handles FROM idr_quota WHERE prefix = ?", (prefix,))
        return int(rows[0][0]) if rows else None

    def quotas(self) -> dict[str, int]:
        return {r.prefix: int(r.max_handles) for r in self._conn.execute(select(quotas))}

    def set_quota(self, prefix: str, max_handles: int | None) -> None:
        self._conn.execute(delete(quotas).where(quotas.c.prefix == prefix))
        if max_handles is not None:
            self._conn.execute(insert(quotas).values(prefix=prefix, max_handles=max_handles))

    def _add_count(self, prefix: str, n: int) -> None:
        # The same upsert in SQLite (3.24+) and PostgreSQL.
        self._rows(
            "INSERT INTO idr_prefix_count (prefix, n) VALUES (?, ?)"
            " ON CONFLICT (prefix) DO UPDATE SET n = idr_prefix_count.n + excluded.n",
            (prefix, n),
        )

    # -- statistics ------------------------------------------------------------------------------

    def add_stats(self, tallies: dict[tuple[str, str], Tally]) -> None:
        for (day, prefix), tally in tallies.items():
            key = (resolution_stats.c.day == day) & (resolution_stats.c.prefix == prefix)
            query = select(resolution_stats).where(key)
            row = self._conn.execute(query.with_for_update() if self._locking else query).first()
            if row is None:
                self._conn.execute(
                    insert(resolution_stats).values(
                        day=day,
                        prefix=prefix,
                        resolutions=tally.count,
                        errors=tally.errors,
                        buckets=tally.buckets,
                    )
                )
                continue
            total = Tally(int(row.resolutions), int(row.errors), list(row.buckets))
            total.add(tally)
            self._conn.execute(
                resolution_stats.update()
                .where(key)
                .values(resolutions=total.count, errors=total.errors, buckets=total.buckets)
            )

    def stats(self, since_day: str) -> list[tuple[str, str, Tally]]:
        rows = self._conn.execute(
            select(resolution_stats)
            .where(resolution_stats.c.day >= since_day)
            .order_by(resolution_stats.c.day, resolution_stats.c.prefix)
        )
        return [(r.day, r.prefix, Tally(int(r.resolutions), int(r.errors), list(r.buckets))) for r in rows]

    def counts(self) -> dict[str, int]:
        """Identifiers registered per prefix."""
        rows = self._conn.execute(select(prefix_counts).order_by(prefix_counts.c.prefix))
        return {r.prefix: int(r.n) for r in rows}

    # -- metadata templates and search ----------------------------------------------------------

    def save_template(self, template: Template) -> None:
        self._conn.execute(
            insert(templates).values(
                name=template.name, version=template.version, spec=template.spec(), created=_now()
            )
        )

    def template(self, name: str, version: int | None = None) -> Template | None:
        """A template's given version, or its latest."""
        query = select(templates).where(templates.c.name == name)
        query = query.where(templates.c.version == version) if version is not None else query
        row = self._conn.execute(query.order_by(templates.c.version.desc()).limit(1)).first()
        return None if row is None else parse_template(row.spec, name=row.name, version=row.version)

    def templates(self) -> list[tuple[Template, int]]:
        """Every template's latest version, with how many identifiers use the template (any version)."""
        latest = select(templates.c.name, func.max(templates.c.version).label("v")).group_by(templates.c.name)
        out = []
        for name, version in self._conn.execute(latest.order_by(templates.c.name)):
            found = self.template(name, version)
            used = self._conn.execute(
                select(func.count())
                .select_from(handles)
                .where(handles.c.template.in_([f"{name}@{v}" for v in range(1, version + 1)]))
            ).scalar_one()
            if found is not None:
                out.append((found, int(used)))
        return out

    def template_versions(self, name: str) -> list[Template]:
        rows = self._conn.execute(
            select(templates).where(templates.c.name == name).order_by(templates.c.version)
        )
        return [parse_template(r.spec, name=r.name, version=r.version) for r in rows]

    def search(
        self,
        template: str,
        conditions: Sequence[tuple[str, str, bool]],
        prefix: str | None,
        limit: int,
        after: str,
    ) -> list[str]:
        """Identifiers of ``template`` whose searchable fields match every (field, text, as_prefix)
        condition, in name order after ``after``."""
        query = select(fields.c.handle).distinct()
        first = True
        for field_name, raw_text, as_prefix in conditions:
            text = search_text(raw_text)
            table = fields if first else fields.alias()
            match = table.c.value.startswith(text, autoescape=True) if as_prefix else table.c.value == text
            clause = (table.c.template == template) & (table.c.field == field_name) & match
            query = (
                query.where(clause)
                if first
                else query.join(table, table.c.handle == fields.c.handle).where(clause)
            )
            first = False
        if first:
            query = query.where(fields.c.template == template)
        if prefix:
            query = query.where(fields.c.handle.startswith(prefix + "/", autoescape=True))
        query = query.where(fields.c.handle > after).order_by(fields.c.handle).limit(limit)
        return list(self._conn.execute(query).scalars())

    def _cached_template(self, ref: tuple[str, int]) -> Template | None:
        if ref not in self._templates:
            self._templates[ref] = self.template(*ref)
        return self._templates[ref]

    def _search_rows(self, handle: str, record: Iterable[HandleValue]) -> list[dict[str, str]]:
        record = list(record)
        ref = template_ref(record)
        template = self._cached_template(ref) if ref is not None else None
        if template is None:
            return []
        return [
            {"template": template.name, "field": name, "value": text, "handle": handle}
            for name, text in dict(search_rows(template, record)).items()
        ]


ChangeListener = Callable[[frozenset[str]], None]


def _log_changes(conn: Connection, tx: Transaction) -> None:
    now = _now()
    rows = [{"kind": "h", "name": h, "at": now} for h in sorted(tx.changed - tx.created)]
    rows += [{"kind": "c", "name": p, "at": now} for p in sorted({split(h)[0] for h in tx.created})]
    conn.execute(insert(changes), rows)


class HandleStore:
    """The record database; open with :func:`open_store`, close with :meth:`close`.

    Listeners (:meth:`subscribe`) hear which identifiers each committed write changed, so that caches
    of answers in this process are never staler than the database.
    """

    def __init__(self, engine: Engine, *, change_log: bool = False, keyring: Keyring | None = None) -> None:
        self.engine = engine
        self.change_log = change_log
        self._sqlite = engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock()
        self._listeners: list[ChangeListener] = []
        # Connections of the quick reads, outside the engine's pool (whose size bounds transactions,
        # and whose check-out pings PostgreSQL): as many as reads ever ran at once.
        self._reader_lock = threading.Lock()
        self._idle_readers: list[Any] = []
        self.hot: RedisRecords | None = None
        """Shared hot cache of records (Redis) in front of :meth:`quick_values`, when set."""
        self.keyring = keyring
        self.signer: Signer | None = None
        """Signs records as they are written (:class:`indunet.idr.signed.RecordSigner`), when set."""
        """SM4 keys sealing the secret keys (HS_SECKEY) at rest; None keeps them as given."""
        _one_row_per_record(engine, keyring)
        metadata.create_all(engine)
        self._count_existing()

    def quick_values(self, handle: str, *, cached: bool = True) -> list[HandleValue] | None:
        """The record's values in index order (None when not registered), read outside any
        transaction on a connection set aside for such reads, through the raw driver.
        ``cached=False`` passes the hot cache by (a sweep over the whole store must not evict it).

        A point read through the driver with one SQL string (prepared once by it) costs a few
        microseconds; through SQLAlchemy's statement machinery about a hundred. Resolution, the
        hottest read there is, comes this way.
        """
        hot = self.hot
        if hot is not None and cached:
            known = hot.get(handle)
            if isinstance(known, list):
                return known
            if known is not None:
                return None  # cached as not registered
            found = self._read_values(handle)
            hot.put(handle, found)
            return found
        return self._read_values(handle)

    def public_octets(self, handle: str) -> bytes | None:
        """The record's values in wire form (their count, then each, in index order) when every one
        of them is public: what an anonymous resolution with no filters answers, as stored. None when
        the identifier is not registered, has no values or has a value that is not public (the caller
        then goes the general way)."""
        if self.hot is not None:
            found = self.quick_values(handle)
            if not found or not all(v.public for v in found):
                return None
            return encode_values(found)
        rows = self.point_read(_READ_PUBLIC_SQL, handle)
        if not rows:
            return None
        all_public, record = rows[0]
        return bytes(record) if all_public and record != _NO_VALUES else None

    def _read_values(self, handle: str) -> list[HandleValue] | None:
        rows = self.point_read(_READ_SQL, handle)
        return list(decode_values(rows[0][0])) if rows else None

    def point_read(self, sql: str, handle: str) -> list[Any]:
        """The rows of ``sql`` (one ``?`` placeholder, the handle) read through the driver on a reader
        connection, outside any transaction: the hot point reads of this store and of tables kept
        beside it (the carriers')."""
        with self._reader_lock:
            connection = self._idle_readers.pop() if self._idle_readers else None
        if connection is None:
            connection = self._new_reader()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql if self._sqlite else sql.replace("?", "%s"), (handle,))
                rows: list[Any] = cursor.fetchall()
            finally:
                cursor.close()
        except BaseException:
            connection.close()  # in an unknown state: not reused
            raise
        with self._reader_lock:
            self._idle_readers.append(connection)
        return rows

    def _count_existing(self) -> None:
        # Stores written before the counts existed: count once, then keep counting on write.
        with self.engine.begin() as conn:
            if conn.execute(select(prefix_counts.c.prefix).limit(1)).first() is not None:
                return
            if conn.execute(select(handles.c.handle).limit(1)).first() is None:
                return
            counted = select(handles.c.prefix, func.count()).group_by(handles.c.prefix)
            conn.execute(insert(prefix_counts).from_select(["prefix", "n"], counted))

    def subscribe(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Transaction]:
        lock: AbstractContextManager[Any] = self._write_lock if write and self._sqlite else nullcontext()
        with lock:
            with self.engine.begin() as conn:
                tx = Transaction(
                    conn, locking=write and not self._sqlite, keyring=self.keyring, signer=self.signer
                )
                yield tx
                if self.change_log and tx.changed:
                    _log_changes(conn, tx)
            if tx.changed:
                changed = frozenset(tx.changed)
                if self.hot is not None:
                    self.hot.forget(changed)
                for listener in self._listeners:
                    listener(changed)

    def read(self) -> AbstractContextManager[Transaction]:
        return self.transaction()

    def changes_since(self, seq: int, limit: int = 10_000) -> list[tuple[int, str, str]]:
        """Changes logged after ``seq`` (oldest first): (seq, kind, name)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(changes.c.seq, changes.c.kind, changes.c.name)
                .where(changes.c.seq > seq)
                .order_by(changes.c.seq)
                .limit(limit)
            )
            return [(int(r.seq), str(r.kind), str(r.name)) for r in rows]

    def last_change(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(changes.c.seq))).scalar() or 0)

    def prune_changes(self, older_than_s: float) -> None:
        cutoff = _now() - timedelta(seconds=older_than_s)
        with self.transaction(write=True) as tx:
            tx._conn.execute(delete(changes).where(changes.c.at < cutoff))

    def write(self) -> AbstractContextManager[Transaction]:
        return self.transaction(write=True)

    def _new_reader(self) -> Any:
        pooled = self.engine.raw_connection()  # set up like every connection (pragmas, schema)
        driver: Any = pooled.driver_connection
        pooled.detach()  # and then no longer the pool's: closed by close()
        if self._sqlite:
            # Pages read through a mapping of the file, not a system call and a copy each (SQLite caps
            # the mapping at 2 GiB; a larger store reads the rest the ordinary way).
            driver.execute(f"PRAGMA mmap_size={READER_MMAP_BYTES}")
        else:
            driver.autocommit = True  # each read sees the latest commit, and holds no transaction
        return driver

    def reseal(self) -> int:
        """Seal every secret value again under the keyring's current key (after a rotation, or for a
        store written before it had a keyring, or before values other than secret keys were sealed);
        how many records were rewritten. Only the sealed
        octets change: nothing anyone resolves does, so no cache is told."""
        if self.keyring is None:
            raise KeyringError("no keyring to seal with")
        keyring = self.keyring
        done = 0
        with self.write() as tx:
            rows = tx._rows("SELECT handle, record FROM idr_handle WHERE all_public = ?", (False,))
            for handle, blob in rows:
                values = decode_values(bytes(blob))
                secrets = [v.data for v in values if _secret(v)]
                if all(is_sealed(d) and keyring.sealed_by_current(d) for d in secrets):
                    continue  # none, or all sealed under the current key already
                opened = _opened(handle, values, keyring)
                record = encode_values([_sealed(handle, v, keyring) for v in opened])
                tx._rows("UPDATE idr_handle SET record = ? WHERE handle = ?", (record, handle))
                done += 1
        return done

    def close(self) -> None:
        if self.hot is not None:
            self.hot.close()
        with self._reader_lock:
            readers, self._idle_readers = self._idle_readers, []
        for connection in readers:
            connection.close()
        self.engine.dispose()


def _one_row_per_record(engine: Engine, keyring: Keyring | None) -> None:
    """Move a store written before records were kept whole (a row per value in ``idr_value``) to
    one row per record, in one transaction: a failure leaves the store as it was."""
    if not inspect(engine).has_table("idr_value"):
        return
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        cursor = conn.connection.cursor()
        cursor.execute("SELECT handle, prefix, created, updated FROM idr_handle")
        kept = cursor.fetchall()
        cursor.execute(
            "SELECT handle, idx, type, data, ttl_type, ttl, timestamp, permissions, refs FROM idr_value"
        )
        found: dict[str, list[HandleValue]] = {}
        for handle, idx, type_, data, ttl_type, ttl, timestamp, permissions, refs in cursor.fetchall():
            loaded = json.loads(refs) if isinstance(refs, str) else refs
            found.setdefault(handle, []).append(
                HandleValue(
                    int(idx),
                    type_,
                    bytes(data),
                    TtlType(int(ttl_type)),
                    int(ttl),
                    int(timestamp),
                    Permission(int(permissions)),
                    tuple(Reference(str(h), int(i)) for h, i in loaded or ()),
                )
            )
        cursor.execute("DROP TABLE idr_value")
        cursor.execute("DROP TABLE idr_handle")
        metadata.create_all(conn, tables=[handles])
        rows = [(h, p, c, u, *_columns(h, found.get(h, ()), keyring)) for h, p, c, u in kept]
        cursor.executemany(_INSERT_SQL if sqlite else _INSERT_SQL.replace("?", "%s"), rows)


def default_keyring(location: str | Path) -> Keyring | None:
    """The keyring of a store: ``INDUNET_IDR_KEYRING`` when set, else ``<file>.keyring.json`` beside a
    SQLite file (made on first use); a database URL without the variable gets none."""
    named = os.environ.get(KEYRING_ENV)
    if named:
        return Keyring.load_or_new(Path(named))
    text = str(location)
    if "://" in text:
        return None
    return Keyring.load_or_new(Path(f"{Path(text).expanduser()}.keyring.json"))


def open_store(
    location: str | Path, schema: str = "public", *, change_log: bool = False, keyring: Keyring | None = None
) -> HandleStore:
    """Open (creating the tables when missing) the store at a file path or database URL; with
    ``change_log`` every write is also logged for other processes serving the store; with
    ``keyring`` secret keys are sealed at rest (SM4-GCM)."""
    return HandleStore(
        create_metadata_engine(engine_url(location), schema), change_log=change_log, keyring=keyring
    )
