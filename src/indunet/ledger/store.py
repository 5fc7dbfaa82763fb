"""The ledger's log in SQL: entries, the hashes of its complete subtrees, and its signed tree heads.

Theory of operation: every entry is a leaf; appending leaf ``i`` completes one subtree per trailing
one-bit of ``i`` (the ones that end at ``i``), and the hash of each completed subtree is stored once
(``ledger_node``: level, index). Any subtree hash a proof needs is then a few stored hashes combined
(:meth:`LogStore.subtree`), so appends cost O(1) rows on average and proofs O(log² n) point reads,
at any size. PostgreSQL holds the log for replicated deployments (its own replication, no consensus
of ours); appends take the head row's lock, so concurrent writers serialise; SQLite serialises in
process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    insert,
    select,
    update,
)

from indunet.ledger import merkle
from indunet.ledger.merkle import HashAlgorithm
from indunet.store.engine import create_metadata_engine, engine_url

MAX_ENTRY = 16 * 1024
MAX_BATCH = 10_000

metadata = MetaData()

heads = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("hash", Text, nullable=False),
)

entries = Table(
    "ledger_entry",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("body", LargeBinary, nullable=False),
    Column("leaf", LargeBinary, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

nodes = Table(
    "ledger_node",
    metadata,
    Column("level", SmallInteger, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    PrimaryKeyConstraint("level", "idx"),
)
"""Hashes of complete subtrees of 2**level leaves (level >= 1); leaves' own hashes are in entries."""

tree_heads = Table(
    "ledger_sth",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("document", LargeBinary, nullable=False),
)
"""Signed tree heads as issued (the signed document, see :mod:`indunet.ledger.heads`)."""

subjects = Table(
    "ledger_subject",
    metadata,
    Column("subject", Text, primary_key=True),
    Column("digest", Text, nullable=True),
    Column("seq", BigInteger, nullable=False),
)
"""What the log last said of each subject (a prefix or an identifier): the digest of its record, or
NULL once revoked or deleted, and the entry that said it. Kept in the appending transaction, so a
recorder starts without reading the log back."""

cosignatures = Table(
    "ledger_cosignature",
    metadata,
    Column("size", BigInteger, nullable=False),
    Column("witness", Text, nullable=False),
    Column("document", LargeBinary, nullable=False),
    PrimaryKeyConstraint("size", "witness"),
)


_INSERT_ENTRY = "INSERT INTO ledger_entry (seq, body, leaf, at) VALUES (?, ?, ?, ?)"
_INSERT_NODE = "INSERT INTO ledger_node (level, idx, hash) VALUES (?, ?, ?)"
_UPSERT_SUBJECT = (
    "INSERT INTO ledger_subject (subject, digest, seq) VALUES (?, ?, ?) "
    "ON CONFLICT (subject) DO UPDATE SET digest = excluded.digest, seq = excluded.seq"
)
_LEAF = "SELECT leaf FROM ledger_entry WHERE seq = ?"
_NODE = "SELECT hash FROM ledger_node WHERE level = ? AND idx = ?"


class EntryTooLarge(ValueError):
    pass


State = tuple[str, str | None]
"""A subject and the digest the log now holds for it (None: revoked or deleted)."""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    body: bytes
    at: datetime


class LogStore:
    """One ledger's log; open with :func:`open_log`."""

    def __init__(self, engine: Engine, algorithm: HashAlgorithm = HashAlgorithm.SHA256) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._lock = threading.Lock()
        metadata.create_all(engine)
        with engine.begin() as conn:
            row = conn.execute(select(heads).where(heads.c.id == 1)).first()
            if row is None:
                conn.execute(insert(heads).values(id=1, size=0, hash=str(algorithm)))
                row = conn.execute(select(heads).where(heads.c.id == 1)).first()
        assert row is not None
        self.algorithm = HashAlgorithm(row.hash)
        """The hash the log was created with: fixed for its life (every stored hash depends on it)."""
        self.h = merkle.hasher(self.algorithm)

    # -- appending ------------------------------------------------------------------------------------

    def append(self, bodies: Sequence[bytes], states: Sequence[State] = ()) -> int:
        """Append entries in order, in one transaction; the sequence number of the first.

        ``states`` (one per body, when given) is what each entry says of its subject: (subject,
        digest or None when it is gone)."""
        if not 0 < len(bodies) <= MAX_BATCH:
            raise ValueError(f"append 1 to {MAX_BATCH} entries at a time")
        if states and len(states) != len(bodies):
            raise ValueError("one state per entry")
        for body in bodies:
            if len(body) > MAX_ENTRY:
                raise EntryTooLarge(f"a ledger entry is at most {MAX_ENTRY} octets")
        with self._lock, self.engine.begin() as conn:
            query = select(heads.c.size).where(heads.c.id == 1)
            size = int(conn.execute(query if self._sqlite else query.with_for_update()).scalar_one())
            first = size
            now = datetime.now(UTC)
            stamp: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if self._sqlite else now
            fresh: dict[tuple[int, int], bytes] = {}
            entry_rows: list[tuple[Any, ...]] = []
            node_rows: list[tuple[Any, ...]] = []
            h = self.h
            for body in bodies:
                leaf = h(b"\x00" + body)
                entry_rows.append((size, body, leaf, stamp))
                fresh[(0, size)] = leaf
                level, index, current = 0, size, leaf
                while index & 1:
                    left = fresh.get((level, index - 1)) or self._perfect(conn, level, index - 1)
                    current = h(b"\x01" + left + current)
                    level, index = level + 1, index >> 1
                    fresh[(level, index)] = current
                    node_rows.append((level, index, current))
                size += 1
            # Straight to the driver: SQLAlchemy's per-row parameter handling costs more than the insert.
            cursor = conn.connection.cursor()
            try:
                cursor.executemany(self._sql(_INSERT_ENTRY), entry_rows)
                if node_rows:
                    cursor.executemany(self._sql(_INSERT_NODE), node_rows)
                if states:
                    cursor.executemany(
                        self._sql(_UPSERT_SUBJECT),
                        [(subject, digest, first + i) for i, (subject, digest) in enumerate(states)],
                    )
            finally:
                cursor.close()
            conn.execute(update(heads).where(heads.c.id == 1).values(size=size))
        return first

    def _sql(self, sql: str) -> str:
        return sql if self._sqlite else sql.replace("?", "%s")

    # -- reading --------------------------------------------------------------------------------------

    def size(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(heads.c.size).where(heads.c.id == 1)).scalar_one())

    def entries(self, start: int, end: int) -> list[Entry]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(entries.c.seq, entries.c.body, entries.c.at)
                .where(entries.c.seq >= start, entries.c.seq < end)
                .order_by(entries.c.seq)
            )
            return [Entry(int(r.seq), bytes(r.body), r.at) for r in rows]

    @contextmanager
    def reader(self) -> Iterator[merkle.Subtree]:
        """``subtree(start, end)`` over the stored tree, on one connection (a proof's reads)."""
        with self.engine.connect() as conn:
            cache: dict[tuple[int, int], bytes] = {}

            def subtree(start: int, end: int) -> bytes:
                width = end - start
                if width & (width - 1) == 0 and start % width == 0:
                    key = (width.bit_length() - 1, start // width)
                    found = cache.get(key)
                    if found is None:
                        found = cache[key] = self._perfect(conn, *key)
                    return found
                k = merkle.split(width)
                return merkle.node_hash(self.h, subtree(start, start + k), subtree(start + k, end))

            yield subtree

    def root(self, size: int) -> bytes:
        with self.reader() as subtree:
            return merkle.root(self.h, subtree, size)

    def leaf(self, seq: int) -> bytes:
        with self.engine.connect() as conn:
            return self._perfect(conn, 0, seq)

    def _perfect(self, conn: Connection, level: int, index: int) -> bytes:
        cursor = conn.connection.cursor()  # the driver's: a proof is dozens of these point reads
        try:
            if level == 0:
                cursor.execute(self._sql(_LEAF), (index,))
            else:
                cursor.execute(self._sql(_NODE), (level, index))
            found = cursor.fetchone()
        finally:
            cursor.close()
        if found is None:
            raise LookupError(f"no complete subtree at level {level}, index {index}")
        return bytes(found[0])

    # -- subjects ---------------------------------------------------------------------------------

    def states(self, names: Sequence[str]) -> dict[str, str | None]:
        """What the log last said of each named subject it has mentioned."""
        found: dict[str, str | None] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(names), 500):
                rows = conn.execute(
                    select(subjects.c.subject, subjects.c.digest).where(
                        subjects.c.subject.in_(names[start : start + 500])
                    )
                )
                found.update({r.subject: r.digest for r in rows})
        return found

    def live_subjects(self, after: str = "", limit: int = 1000, *, identifiers: bool) -> list[str]:
        """Subjects the log holds as present (not revoked or deleted), in order after ``after``:
        identifiers (names with a slash) or prefixes."""
        slash = subjects.c.subject.contains("/", autoescape=True)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subjects.c.subject)
                .where(subjects.c.digest.is_not(None), subjects.c.subject > after)
                .where(slash if identifiers else ~slash)
                .order_by(subjects.c.subject)
                .limit(limit)
            )
            return [r.subject for r in rows]

    def has_states(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(subjects.c.subject).limit(1)).first() is not None

    def save_states(self, states: Sequence[tuple[str, str | None, int]]) -> None:
        """Set subjects' states as of entries already in the log (rebuilding them from it)."""
        with self.engine.begin() as conn:
            cursor = conn.connection.cursor()
            try:
                for start in range(0, len(states), MAX_BATCH):
                    cursor.executemany(self._sql(_UPSERT_SUBJECT), states[start : start + MAX_BATCH])
            finally:
                cursor.close()

    # -- signed tree heads and cosignatures ------------------------------------------------------------

    def save_head(self, size: int, document: bytes) -> None:
        with self.engine.begin() as conn:
            if conn.execute(select(tree_heads.c.size).where(tree_heads.c.size == size)).first() is None:
                conn.execute(insert(tree_heads).values(size=size, document=document))

    def head(self, size: int) -> bytes | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(tree_heads.c.document).where(tree_heads.c.size == size)
            ).scalar_one_or_none()
            return None if found is None else bytes(found)

    def heads(self) -> list[bytes]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(tree_heads.c.document).order_by(tree_heads.c.size))
            return [bytes(r.document) for r in rows]

    def latest_head(self) -> bytes | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tree_heads.c.document).order_by(tree_heads.c.size.desc()).limit(1)
            ).first()
            return None if row is None else bytes(row.document)

    def save_cosignature(self, size: int, witness: str, document: bytes) -> None:
        with self.engine.begin() as conn:
            key = (cosignatures.c.size == size) & (cosignatures.c.witness == witness)
            if conn.execute(select(cosignatures.c.size).where(key)).first() is None:
                conn.execute(insert(cosignatures).values(size=size, witness=witness, document=document))

    def cosignatures(self, size: int) -> list[bytes]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(cosignatures.c.document).where(cosignatures.c.size == size))
            return [bytes(r.document) for r in rows]

    def close(self) -> None:
        self.engine.dispose()


def open_log(
    location: str | Path, schema: str = "public", algorithm: HashAlgorithm = HashAlgorithm.SHA256
) -> LogStore:
    return LogStore(create_metadata_engine(engine_url(location), schema), algorithm)
