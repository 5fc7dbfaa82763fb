"""A ledger: its log, the key that signs its tree heads, and the proofs it hands out."""

from __future__ import annotations

import time
from collections.abc import Sequence

from indunet.ledger import merkle
from indunet.ledger.did import bid_of
from indunet.ledger.entries import LedgerEntry
from indunet.ledger.heads import Cosignature, TreeHead
from indunet.ledger.store import LogStore, State
from indunet.security.crypto.keys import PrivateKey
from indunet.security.documents import BadDocument


class Ledger:
    def __init__(self, store: LogStore, key: PrivateKey) -> None:
        self.store = store
        self.key = key
        self.did = bid_of(key.public_key())
        self._latest: TreeHead | None = None
        """The last head this process signed or read (one writer per ledger: it stays the latest)."""

    def record(self, recorded: Sequence[LedgerEntry], states: Sequence[State] = ()) -> TreeHead:
        """Append entries (with what each says of its subject) and sign the tree head that includes them."""
        self.store.append([entry.encode() for entry in recorded], states)
        return self.sign_head()

    def sign_head(self) -> TreeHead:
        size = self.store.size()
        latest = self.latest_head()
        if latest is not None and latest.size == size:
            return latest
        head = TreeHead.sign(
            self.key, size, self.store.root(size), str(self.store.algorithm), int(time.time() * 1000)
        )
        self.store.save_head(size, head.raw)
        self._latest = head
        return head

    def latest_head(self) -> TreeHead | None:
        if self._latest is None:
            raw = self.store.latest_head()
            self._latest = None if raw is None else TreeHead.parse(raw, self.did)
        return self._latest

    def inclusion(self, seq: int, size: int) -> list[bytes]:
        with self.store.reader() as subtree:
            return merkle.inclusion_proof(subtree, seq, size)

    def consistency(self, old: int, new: int) -> list[bytes]:
        with self.store.reader() as subtree:
            return merkle.consistency_proof(subtree, old, new)

    def accept_cosignature(self, raw: bytes) -> Cosignature:
        """Keep a witness's cosignature of one of this log's heads; BadDocument otherwise."""
        cosignature = Cosignature.parse(raw)
        issued = self.store.head(cosignature.size)
        if issued is None or not cosignature.covers(TreeHead.parse(issued, self.did)):
            raise BadDocument("the cosignature is not of a tree head this log issued")
        self.store.save_cosignature(cosignature.size, cosignature.witness, raw)
        return cosignature
