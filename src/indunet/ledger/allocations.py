"""Prefix allocations of an identifier node, recorded in its ledger as they happen.

A prefix is allocated by writing its ``0.NA/<prefix>`` record (sites and administrators), moved by
changing that record, and revoked by deleting it, through any interface of the node. The recorder
listens to the node's store and, after each commit, appends an ``allocation``, ``transfer`` or
``revocation`` entry carrying the SM3 digest of the record's public values, its sites and its administrators, then signs
the new tree head. On start it reconciles: records written while it was not listening (the node's
own prefix at bootstrap, say) are recorded then.

The writer's thread does the append (store listeners run there, after the commit): an allocation is
acknowledged only once it is in the ledger.
"""

from __future__ import annotations

import json
import logging
import threading

from indunet.idr.model import HS_ADMIN, NA_PREFIX, HandleValue
from indunet.idr.sites import endpoints, sites_of
from indunet.idr.store import HandleStore
from indunet.idr.wire.errors import WireError
from indunet.idr.wire.values import TransmissionProtocol, decode_admin, encode_values
from indunet.ledger.entries import Kind, LedgerEntry
from indunet.ledger.service import Ledger
from indunet.security.crypto.sm3 import sm3

log = logging.getLogger(__name__)
PAGE = 1000


def _detail(values: list[HandleValue]) -> dict[str, object]:
    # What the world sees of the record: secret keys (sealed afresh at every key rotation) are not it.
    ordered = sorted((v for v in values if v.public), key=lambda v: v.index)
    admins = []
    for value in ordered:
        if value.type == HS_ADMIN:
            try:
                admin = decode_admin(value.data)
            except WireError:
                continue
            admins.append(f"{admin.index}:{admin.handle}")
    return {
        "record_sm3": sm3(encode_values(ordered)).hex(),
        "sites": sorted(
            str(e) for site in sites_of(ordered) for e in endpoints(site, TransmissionProtocol.UDP)
        ),
        "admins": admins,
    }


class AllocationRecorder:
    def __init__(self, ledger: Ledger, store: HandleStore) -> None:
        self.ledger = ledger
        self.store = store
        self._lock = threading.Lock()
        self._known = self._replay()
        store.subscribe(self._changed)
        self.reconcile()

    def _replay(self) -> dict[str, str]:
        """The last recorded digest of every prefix the ledger holds as allocated."""
        known: dict[str, str] = {}
        size = self.ledger.store.size()
        for start in range(0, size, PAGE):
            for entry in self.ledger.store.entries(start, min(size, start + PAGE)):
                found = json.loads(entry.body)
                subject = str(found["subject"])
                if found["kind"] == Kind.REVOCATION:
                    known.pop(subject, None)
                elif found["kind"] in (Kind.ALLOCATION, Kind.TRANSFER):
                    known[subject] = str(found["detail"].get("record_sm3", ""))
        return known

    def reconcile(self) -> None:
        """Record what the store holds and the ledger does not (yet) say."""
        names: list[str] = []
        with self.store.read() as tx:
            total, _ = tx.list_handles(NA_PREFIX, 0, 1)
            for offset in range(0, total, PAGE):
                names += tx.list_handles(NA_PREFIX, offset, PAGE)[1]
        self._changed(frozenset(names) | {f"{NA_PREFIX}/{p}" for p in self._known})

    def _changed(self, handles: frozenset[str]) -> None:
        changed = sorted(h for h in handles if h.startswith(NA_PREFIX + "/"))
        if not changed:
            return
        with self._lock:
            recorded: list[LedgerEntry] = []
            for name in changed:
                prefix = name.partition("/")[2]
                values = self.store.quick_values(name)
                if values is None:
                    if prefix in self._known:
                        recorded.append(LedgerEntry(Kind.REVOCATION, prefix, self.ledger.did, detail={}))
                        self._known.pop(prefix)
                    continue
                detail = _detail(values)
                digest = str(detail["record_sm3"])
                if self._known.get(prefix) == digest:
                    continue
                kind = Kind.TRANSFER if prefix in self._known else Kind.ALLOCATION
                recorded.append(LedgerEntry(kind, prefix, self.ledger.did, detail=detail))
                self._known[prefix] = digest
            if recorded:
                head = self.ledger.record(recorded)
                log.info("ledger: %d entries recorded, tree size %d", len(recorded), head.size)
