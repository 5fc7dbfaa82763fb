"""What an identifier node does with its names, recorded in its ledger as it happens.

A prefix is allocated by writing its ``0.NA/<prefix>`` record (sites and administrators), moved by
changing that record, and revoked by deleting it, through any interface of the node. The recorder
listens to the node's store and, after each commit, appends an ``allocation``, ``transfer`` or
``revocation`` entry carrying the SM3 digest of the record's public values (the one a record
signature covers), its sites, its
administrators and the BID of the key its certificate (HS_CERT) vouches for, then signs the new tree head. With ``registrations`` it records identifiers too:
``registration`` when one is created or its public values change, ``deletion`` when it goes.

The writer's thread does the append (store listeners run there, after the commit): a change is
acknowledged only once it is in the ledger. What the log last said of each subject is kept beside
it (``ledger_subject``), so starting costs no replay of the log. On start the recorder reconciles
what changed while it was not listening (the node's own prefix at bootstrap, say): prefixes before
it returns, identifiers in a background sweep over the store, page by page.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable

from indunet.idr.model import HS_ADMIN, NA_PREFIX, HandleValue
from indunet.idr.signed import HS_CERT, NotTrusted, PrefixCertificate, record_digest
from indunet.idr.sites import endpoints, sites_of
from indunet.idr.store import HandleStore
from indunet.idr.wire.errors import WireError
from indunet.idr.wire.values import TransmissionProtocol, decode_admin
from indunet.ledger.did import bid_of
from indunet.ledger.entries import Kind, LedgerEntry
from indunet.ledger.service import Ledger
from indunet.ledger.store import State

log = logging.getLogger(__name__)
PAGE = 1000
_GONE = {Kind.REVOCATION, Kind.DELETION}


def _public(values: list[HandleValue]) -> list[HandleValue]:
    # What the world sees of the record: secret keys (sealed afresh at every key rotation) are not it.
    return sorted((v for v in values if v.public), key=lambda v: v.index)


def _digest(handle: str, values: list[HandleValue]) -> str:
    """The SM3 digest a record signature covers: the index, type and data of the public values (not
    the timestamps and TTLs the server sets, nor the signature), so a rewrite that changes nothing
    anyone sees records nothing."""
    return record_digest(handle, _public(values))[0].hex()


def _allocation_detail(handle: str, values: list[HandleValue]) -> dict[str, object]:
    ordered = _public(values)
    admins = []
    detail: dict[str, object] = {"record_sm3": _digest(handle, values)}
    for value in ordered:
        if value.type == HS_ADMIN:
            try:
                admin = decode_admin(value.data)
            except WireError:
                continue
            admins.append(f"{admin.index}:{admin.handle}")
        elif value.type == HS_CERT:
            try:
                detail["certified_key"] = bid_of(PrefixCertificate.parse(value.data).key)
            except NotTrusted:
                continue
    detail["sites"] = sorted(
        str(e) for site in sites_of(ordered) for e in endpoints(site, TransmissionProtocol.UDP)
    )
    detail["admins"] = admins
    return detail


def _subject(handle: str) -> str:
    """A prefix is named in the log without its ``0.NA/``; an identifier as it is."""
    return handle.partition("/")[2] if handle.startswith(NA_PREFIX + "/") else handle


class LedgerRecorder:
    def __init__(self, ledger: Ledger, store: HandleStore, *, registrations: bool = False) -> None:
        self.ledger = ledger
        self.store = store
        self.registrations = registrations
        self._lock = threading.Lock()
        if not ledger.store.has_states() and ledger.store.size() > 0:
            self._rebuild_states()
        store.subscribe(self._changed)
        self.sweep: threading.Thread | None = None
        self._reconcile_prefixes()
        if registrations:
            self.sweep = threading.Thread(
                target=self._reconcile_identifiers, name="ledger-sweep", daemon=True
            )
            self.sweep.start()

    def _rebuild_states(self) -> None:
        """Logs written before subjects' states were kept: read back once."""
        states: dict[str, tuple[str | None, int]] = {}
        size = self.ledger.store.size()
        for start in range(0, size, PAGE):
            for entry in self.ledger.store.entries(start, min(size, start + PAGE)):
                found = json.loads(entry.body)
                digest = None if found["kind"] in _GONE else str(found["detail"].get("record_sm3", ""))
                states[str(found["subject"])] = (digest, entry.seq)
        self.ledger.store.save_states([(s, d, seq) for s, (d, seq) in states.items()])

    def _reconcile_prefixes(self) -> None:
        names: list[str] = []
        with self.store.read() as tx:
            total, _ = tx.list_handles(NA_PREFIX, 0, 1)
            for offset in range(0, total, PAGE):
                names += tx.list_handles(NA_PREFIX, offset, PAGE)[1]
        after = ""
        while page := self.ledger.store.live_subjects(after, PAGE, identifiers=False):
            names += [f"{NA_PREFIX}/{p}" for p in page]
            after = page[-1]
        self._record(names, cached=True)

    def _reconcile_identifiers(self) -> None:
        try:
            swept = 0
            with self.store.read() as tx:
                counts = tx.counts()
            for prefix, total in sorted(counts.items()):
                if prefix == NA_PREFIX:
                    continue
                for offset in range(0, total, PAGE):
                    with self.store.read() as tx:
                        page = tx.list_handles(prefix, offset, PAGE)[1]
                    swept += self._record(page, cached=False)
            after = ""
            while page := self.ledger.store.live_subjects(after, PAGE, identifiers=True):
                swept += self._record(page, cached=False)
                after = page[-1]
            log.info("ledger: sweep done, %d identifier changes made while not listening recorded", swept)
        except Exception:
            log.exception("ledger: the sweep over the store's identifiers failed; restart to sweep again")

    def _changed(self, handles: frozenset[str]) -> None:
        self._record(handles, cached=True)

    def _record(self, handles: Iterable[str], *, cached: bool) -> int:
        """Append what changed among ``handles``; how many entries that made."""
        names = sorted(
            h for h in handles if h.startswith(NA_PREFIX + "/") or (self.registrations and "/" in h)
        )
        if not names:
            return 0
        with self._lock:
            said = self.ledger.store.states([_subject(n) for n in names])
            recorded: list[LedgerEntry] = []
            states: list[State] = []
            for name in names:
                subject = _subject(name)
                prefix = name.startswith(NA_PREFIX + "/")
                values = self.store.quick_values(name, cached=cached)
                before = said.get(subject)
                if values is None:
                    if before is not None:
                        kind = Kind.REVOCATION if prefix else Kind.DELETION
                        recorded.append(LedgerEntry(kind, subject, self.ledger.did))
                        states.append((subject, None))
                    continue
                detail = _allocation_detail(name, values) if prefix else {"record_sm3": _digest(name, values)}
                digest = str(detail["record_sm3"])
                if before == digest:
                    continue
                if prefix:
                    kind = Kind.TRANSFER if before is not None else Kind.ALLOCATION
                else:
                    kind = Kind.REGISTRATION
                recorded.append(LedgerEntry(kind, subject, self.ledger.did, detail=detail))
                states.append((subject, digest))
            for start in range(0, len(recorded), PAGE):
                head = self.ledger.record(recorded[start : start + PAGE], states[start : start + PAGE])
                log.info("ledger: %d entries recorded, tree size %d", len(recorded), head.size)
            return len(recorded)
