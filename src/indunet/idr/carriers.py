"""Active identifier carriers: modules that hold an identifier and a key pair, and report for it.

- **Enrollment**: the enterprise node certifies the carrier's public key for its identifier with the
  prefix's key (a carrier certificate, published in the identifier's record as ``HS_CARRIER_CERT``).
- **Heartbeats and reports**, signed by the carrier: a sequence number that only grows, the time, a
  state and optionally a location and a report. Accepted ones update the identifier's live values
  (``CARRIER_STATE``, ``LOCATION``, ``LAST_SEEN``, ``REPORT``), so anyone resolving it sees them.
  A heartbeat is refused when its signature does not verify with the enrolled key, its sequence
  number is not above the last accepted one (a replay), its time is more than :data:`SKEW_MS` away
  from the node's, or the carrier is revoked.
- **Key rotation**: a request signed with the current key names the new one; the node certifies it.
- **Revocation**: the certificate leaves the record and every later heartbeat is refused.

Documents are canonical JSON signed after a line naming their type (:mod:`indunet.security.documents`).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import BigInteger, Column, LargeBinary, MetaData, Table, Text, insert, select, update

from indunet.core.commit_rounds import CommitRounds
from indunet.idr import records
from indunet.idr.model import HandleValue, InvalidHandle, Permission, normalise, split
from indunet.idr.store import HandleStore, Transaction
from indunet.ledger.did import bid_of
from indunet.security import documents
from indunet.security.crypto import keys
from indunet.security.crypto.keys import PrivateKey, PublicKey, UnsupportedKey
from indunet.security.documents import BadDocument

HS_CARRIER_CERT: Final = "HS_CARRIER_CERT"
CERT_INDEX: Final = 402
LIVE_INDEXES: Final = {"CARRIER_STATE": 410, "LOCATION": 411, "LAST_SEEN": 412, "REPORT": 413}
SKEW_MS: Final = 300_000
MAX_REPORT: Final = 2048
VALID_MS: Final = 365 * 86_400_000
_CERTIFICATE: Final = b"indunet-carrier/certificate/v1\n"
_HEARTBEAT: Final = b"indunet-carrier/heartbeat/v1\n"
_ROTATION: Final = b"indunet-carrier/rotation/v1\n"
STATES: Final = frozenset({"ok", "warning", "fault", "maintenance", "idle"})

_metadata = MetaData()
carriers = Table(
    "idr_carrier",
    _metadata,
    Column("handle", Text, primary_key=True),
    Column("key", LargeBinary, nullable=False),
    Column("status", Text, nullable=False),
    Column("serial", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_at", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
)


class Refused(ValueError):
    """A heartbeat, rotation or enrollment the node does not accept; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Carrier:
    handle: str
    bid: str
    status: str
    serial: int
    last_seq: int
    last_at_ms: int
    reason: str


def heartbeat(
    key: PrivateKey,
    handle: str,
    seq: int,
    at_ms: int,
    state: str,
    location: tuple[float, float] | None = None,
    report: dict[str, Any] | None = None,
) -> bytes:
    """What a carrier sends (the simulated fleet and the tests make theirs with this)."""
    body: dict[str, Any] = {"handle": handle, "seq": seq, "at": at_ms, "state": state}
    if location is not None:
        body["location"] = {"lat": location[0], "lon": location[1]}
    if report is not None:
        body["report"] = report
    return documents.sign(_HEARTBEAT, body, key)


def rotation(key: PrivateKey, handle: str, seq: int, at_ms: int, new_key: PublicKey) -> bytes:
    body = {"handle": handle, "seq": seq, "at": at_ms, "new_key": base64.b64encode(new_key.to_der()).decode()}
    return documents.sign(_ROTATION, body, key)


class CarrierRegistry:
    """The carriers of one enterprise node: ``issuer`` is its prefix, ``key`` the prefix's key."""

    def __init__(self, store: HandleStore, issuer: str, key: PrivateKey, clock: Any = time.time) -> None:
        self.store = store
        self.issuer = issuer
        self.key = key
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: OrderedDict[tuple[str, int], tuple[PublicKey, str]] = OrderedDict()
        # Heartbeats are verified by their callers' threads in parallel, and recorded together: one
        # transaction per round of concurrent heartbeats.
        self._rounds: CommitRounds[_Beat, str] = CommitRounds(self._record)
        _metadata.create_all(store.engine)

    # -- the operator's side ---------------------------------------------------------------------

    def enroll(self, handle: str, public: PublicKey, caller: records.Caller) -> bytes:
        """Certify ``public`` for ``handle`` (registered, under this node's prefix); the certificate."""
        name = self._ours(handle)
        now = self._now_ms()
        with self._lock, self.store.write() as tx:
            row = tx.conn.execute(select(carriers).where(carriers.c.handle == name)).first()
            serial = 1 if row is None else int(row.serial) + 1
            # A new key starts its own sequence: messages under the old one no longer verify anyway.
            values = {
                "key": public.to_der(),
                "status": "active",
                "serial": serial,
                "reason": "",
                "last_seq": 0,
            }
            if row is None:
                tx.conn.execute(insert(carriers).values(handle=name, last_at=now, **values))
            else:
                tx.conn.execute(update(carriers).where(carriers.c.handle == name).values(**values))
        certificate = self._certificate(name, public, serial, now)
        records.put_values(self.store, name, [HandleValue(CERT_INDEX, HS_CARRIER_CERT, certificate)], caller)
        return certificate

    def revoke(self, handle: str, reason: str, caller: records.Caller) -> None:
        name = self._ours(handle)
        found = self.carrier(name)
        if found is None or found.status != "active":
            raise records.HandleNotFound(f"{name} has no active carrier")
        records.remove_values(self.store, name, [CERT_INDEX], caller)  # the caller's permission, checked
        with self._lock, self.store.write() as tx:
            done = tx.conn.execute(
                update(carriers)
                .where(carriers.c.handle == name)
                .values(status="revoked", reason=reason[:200])
            ).rowcount
        if done:
            records.put_values(self.store, name, [_live("CARRIER_STATE", b"revoked")], records.SYSTEM)

    def carriers(self) -> list[Carrier]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(carriers).order_by(carriers.c.handle)).all()
        return [self._carrier(r) for r in rows]

    def carrier(self, handle: str) -> Carrier | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(carriers).where(carriers.c.handle == handle)).first()
        return None if row is None else self._carrier(row)

    # -- the carrier's side --------------------------------------------------------------------------

    def accept(self, raw: bytes) -> Carrier:
        """Check a heartbeat and record it; Refused with the reason otherwise."""
        document, row = self._signed_by_carrier(raw, _HEARTBEAT)
        state = str(document.get("state", ""))
        if state not in STATES:
            raise Refused("invalid", f"state is one of {sorted(STATES)}")
        live = [
            _live("CARRIER_STATE", state.encode()),
            _live("LAST_SEEN", _iso(int(document["at"])).encode()),
        ]
        location = document.get("location")
        if location is not None:
            try:
                lat, lon = float(location["lat"]), float(location["lon"])
            except (TypeError, KeyError, ValueError):
                raise Refused("invalid", "location is {lat, lon}") from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise Refused("invalid", "location out of range")
            live.append(_live("LOCATION", documents.canonical({"lat": lat, "lon": lon})))
        if "report" in document:
            report = documents.canonical({"report": document["report"]})
            if len(report) > MAX_REPORT:
                raise Refused("invalid", f"a report is at most {MAX_REPORT} octets")
            live.append(_live("REPORT", report))
        seq, at = int(document["seq"]), int(document["at"])
        outcome = self._rounds.submit(_Beat(row.handle, int(row.serial), seq, at, tuple(live)))
        if outcome == _REPLAY:
            raise Refused("replay", f"{row.handle}: sequence {seq} was already used (a replay)")
        if outcome == _GONE:
            raise Refused("unknown", f"{row.handle} is no longer registered")
        return replace(self._carrier(row), last_seq=seq, last_at_ms=at)

    def rotate(self, raw: bytes) -> bytes:
        """Certify the new key a carrier names in a request signed with its current key."""
        document, row = self._signed_by_carrier(raw, _ROTATION)
        try:
            new_key = keys.load_public_key(base64.b64decode(str(document["new_key"]), validate=True))
        except (KeyError, ValueError, UnsupportedKey):
            raise Refused("invalid", "new_key is not a public key") from None
        self._advance(row.handle, int(row.serial), int(document["seq"]), int(document["at"]))
        return self.enroll(row.handle, new_key, records.SYSTEM)

    # -- inside ------------------------------------------------------------------------------------

    def _signed_by_carrier(self, raw: bytes, domain: bytes) -> tuple[dict[str, Any], Any]:
        try:
            document = documents.parse(raw)
            handle, seq, at = str(document["handle"]), int(document["seq"]), int(document["at"])
        except (BadDocument, KeyError, ValueError, TypeError) as exc:
            raise Refused("invalid", f"not a carrier message: {exc}") from None
        row = self._row(handle)
        if row is None:
            raise Refused("unknown", f"{handle} has no enrolled carrier")
        if row.status != "active":
            raise Refused("revoked", f"the carrier of {handle} is revoked: {row.reason or 'no reason given'}")
        key, _ = self._key(row)
        try:
            documents.check(domain, document, key)
        except BadDocument as exc:
            raise Refused("signature", f"{handle}: {exc}") from None
        if seq <= int(row.last_seq):
            raise Refused("replay", f"{handle}: sequence {seq} was not above {row.last_seq} (a replay)")
        if abs(at - self._now_ms()) > SKEW_MS:
            raise Refused("stale", f"{handle}: its time is more than {SKEW_MS // 1000} s from the node's")
        return document, row

    def _advance(self, handle: str, serial: int, seq: int, at: int) -> None:
        with self._lock, self.store.write() as tx:
            moved = _advanced(tx, handle, serial, seq, at)
        if not moved:
            raise Refused("replay", f"{handle}: sequence {seq} was already used (a replay)")

    def _record(self, beats: Sequence[_Beat]) -> list[str]:
        """One round of accepted heartbeats in one transaction: each advances its carrier's sequence
        number (conditionally, so of two copies of one message racing past the checks only one is
        recorded) and rewrites the identifier's live values."""
        outcomes = []
        stamp = int(self.clock())
        with self._lock, self.store.write() as tx:
            for beat in beats:
                if not _advanced(tx, beat.handle, beat.serial, beat.seq, beat.at):
                    outcomes.append(_REPLAY)
                    continue
                current = tx.get(beat.handle)
                if current is None:
                    outcomes.append(_GONE)
                    continue
                merged = {v.index: v for v in current}
                merged.update((v.index, dataclasses.replace(v, timestamp=stamp)) for v in beat.live)
                tx.replace(beat.handle, sorted(merged.values(), key=lambda v: v.index))
                outcomes.append(_OK)
        return outcomes

    def _row(self, handle: str) -> Any:
        try:
            name = normalise(handle)
        except InvalidHandle:
            return None
        found = self.store.point_read(_ROW_SQL, name)
        return _Row(*found[0]) if found else None

    def _key(self, row: Any) -> tuple[PublicKey, str]:
        """The carrier's enrolled key and its BID, parsed once per enrolment."""
        cache_key = (str(row.handle), int(row.serial))
        found = self._keys.get(cache_key)
        if found is None:
            key = keys.load_public_key(bytes(row.key))
            found = (key, bid_of(key))
            if len(self._keys) >= 100_000:
                self._keys.popitem(last=False)
            self._keys[cache_key] = found
        return found

    def _ours(self, handle: str) -> str:
        try:
            name = normalise(handle)
        except InvalidHandle as exc:
            raise records.InvalidHandleName(str(exc)) from None
        prefix = split(name)[0]
        if prefix != self.issuer and not prefix.startswith(self.issuer + "."):
            raise records.NotAuthorised(f"{name} is not under {self.issuer}")
        return name

    def _certificate(self, handle: str, public: PublicKey, serial: int, now_ms: int) -> bytes:
        body = {
            "handle": handle,
            "issuer": self.issuer,
            "key": base64.b64encode(public.to_der()).decode(),
            "key_bid": bid_of(public),
            "serial": serial,
            "not_after": now_ms + VALID_MS,
        }
        return documents.sign(_CERTIFICATE, body, self.key)

    def _carrier(self, row: Any) -> Carrier:
        return Carrier(
            str(row.handle),
            self._key(row)[1],
            str(row.status),
            int(row.serial),
            int(row.last_seq),
            int(row.last_at),
            str(row.reason),
        )

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)


_ADVANCE_SQL = (
    "UPDATE idr_carrier SET last_seq = ?, last_at = ? "
    "WHERE handle = ? AND last_seq < ? AND serial = ? AND status = 'active'"
)
# The key it verified with must still be the enrolled one: a node that read the row before a rotation
# or a revocation (another process) cannot record a message the new state refuses.
_ROW_SQL = "SELECT handle, key, status, serial, last_seq, last_at, reason FROM idr_carrier WHERE handle = ?"


def _advanced(tx: Transaction, handle: str, serial: int, seq: int, at: int) -> bool:
    return tx.run(_ADVANCE_SQL, (seq, at, handle, seq, serial)) == 1


class _Row(NamedTuple):
    handle: str
    key: bytes
    status: str
    serial: int
    last_seq: int
    last_at: int
    reason: str


class _Beat(NamedTuple):
    handle: str
    serial: int
    seq: int
    at: int
    live: tuple[HandleValue, ...]


_OK, _REPLAY, _GONE = "ok", "replay", "gone"


def _live(kind: str, data: bytes) -> HandleValue:
    return HandleValue(LIVE_INDEXES[kind], kind, data, ttl=60, permissions=Permission.default())


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def certificate_of(values: list[HandleValue]) -> dict[str, Any] | None:
    """The carrier certificate in an identifier's values, parsed (not verified), if any."""
    for value in values:
        if value.type == HS_CARRIER_CERT:
            try:
                return dict(json.loads(value.data))
            except ValueError:
                return None
    return None
