"""Signed tree heads and witnesses' cosignatures, as canonical JSON documents.

A tree head states ``(size, root)`` of the log at a time, signed by the log's key; the document
carries the log's public key and BID, so that anyone can check it, and whoever pinned the BID knows
the key is the right one. A cosignature is a witness's statement that it saw that head and found
it consistent with every head it saw before. Each is signed over its canonical JSON (keys sorted,
no spaces) without the signature, after a line naming the document type, so that neither can be
taken for the other or for anything else the key signs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from indunet.ledger.did import bid_of
from indunet.security import documents
from indunet.security.crypto import keys
from indunet.security.crypto.keys import PrivateKey, PublicKey, UnsupportedKey
from indunet.security.documents import BadDocument

_HEAD = b"indunet-ledger/tree-head/v1\n"
_COSIGNATURE = b"indunet-ledger/cosignature/v1\n"


def _key_of(document: dict[str, Any], field: str) -> tuple[PublicKey, str]:
    try:
        key = keys.load_public_key(base64.b64decode(str(document["key"]), validate=True))
        did = bid_of(key)
    except (KeyError, ValueError, UnsupportedKey) as exc:
        raise BadDocument(f"no usable public key: {exc}") from None
    if document.get(field) != did:
        raise BadDocument(f"{field} {document.get(field)!r} is not the BID of the key it carries ({did})")
    return key, did


def _signed(domain: bytes, body: dict[str, Any], key: PrivateKey) -> bytes:
    return documents.sign(domain, {**body, "key": base64.b64encode(key.public_key().to_der()).decode()}, key)


@dataclass(frozen=True, slots=True)
class TreeHead:
    log: str
    size: int
    root: bytes
    hash: str
    timestamp_ms: int
    raw: bytes

    @classmethod
    def sign(cls, key: PrivateKey, size: int, root: bytes, hash_name: str, timestamp_ms: int) -> TreeHead:
        log = bid_of(key.public_key())
        body = {"log": log, "size": size, "root": root.hex(), "hash": hash_name, "timestamp": timestamp_ms}
        return cls(log, size, root, hash_name, timestamp_ms, _signed(_HEAD, body, key))

    @classmethod
    def parse(cls, raw: bytes, expected_log: str | None = None) -> TreeHead:
        """A tree head whose signature verifies with the key it carries (of ``expected_log`` when given)."""
        document = documents.parse(raw)
        key, log = _key_of(document, "log")
        if expected_log is not None and log != expected_log:
            raise BadDocument(f"signed by {log}, not by the pinned log {expected_log}")
        documents.check(_HEAD, document, key)
        try:
            size, timestamp = int(document["size"]), int(document["timestamp"])
            root = bytes.fromhex(str(document["root"]))
            hash_name = str(document["hash"])
        except (KeyError, ValueError, TypeError) as exc:
            raise BadDocument(f"malformed tree head: {exc}") from None
        if size < 0 or len(root) != 32:
            raise BadDocument("malformed tree head: size or root")
        return cls(log, size, root, hash_name, timestamp, raw)


@dataclass(frozen=True, slots=True)
class Cosignature:
    witness: str
    log: str
    size: int
    root: bytes
    timestamp_ms: int
    raw: bytes

    @classmethod
    def sign(cls, key: PrivateKey, head: TreeHead, timestamp_ms: int) -> Cosignature:
        body = {
            "witness": bid_of(key.public_key()),
            "log": head.log,
            "size": head.size,
            "root": head.root.hex(),
            "timestamp": timestamp_ms,
        }
        return cls.parse(_signed(_COSIGNATURE, body, key))

    @classmethod
    def parse(cls, raw: bytes) -> Cosignature:
        document = documents.parse(raw)
        key, witness = _key_of(document, "witness")
        documents.check(_COSIGNATURE, document, key)
        try:
            return cls(
                witness,
                str(document["log"]),
                int(document["size"]),
                bytes.fromhex(str(document["root"])),
                int(document["timestamp"]),
                raw,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise BadDocument(f"malformed cosignature: {exc}") from None

    def covers(self, head: TreeHead) -> bool:
        return (self.log, self.size, self.root) == (head.log, head.size, head.root)
