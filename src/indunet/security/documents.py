"""Signed documents: canonical JSON (keys sorted, no spaces, UTF-8) signed after a line naming the
document type, so that a signature made for one kind of document can never be passed off as another
kind or as anything else the key signs. Tree heads, cosignatures, prefix certificates and record
signatures are all such documents."""

from __future__ import annotations

import base64
import json
from typing import Any

from indunet.security.crypto.keys import PrivateKey, PublicKey

MAX_DOCUMENT = 8 * 1024


class BadDocument(ValueError):
    """Not a well-formed document, or not signed by the key it is checked against."""


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(domain: bytes, body: dict[str, Any], key: PrivateKey) -> bytes:
    """``body`` with the key's algorithm and the signature over ``domain`` and the rest, canonical."""
    body = {**body, "algorithm": str(key.algorithm)}
    signature = key.sign(domain + canonical(body))
    return canonical({**body, "signature": base64.b64encode(signature).decode()})


def parse(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_DOCUMENT:
        raise BadDocument(f"a document is at most {MAX_DOCUMENT} octets")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadDocument("not JSON") from None
    if not isinstance(document, dict):
        raise BadDocument("not a JSON object")
    return document


def check(domain: bytes, document: dict[str, Any], key: PublicKey) -> None:
    """BadDocument unless ``document`` is signed by ``key`` for ``domain``."""
    body = {k: v for k, v in document.items() if k != "signature"}
    try:
        signature = base64.b64decode(str(document["signature"]), validate=True)
    except (KeyError, ValueError):
        raise BadDocument("no signature") from None
    if not key.verify(signature, domain + canonical(body)):
        raise BadDocument("the signature does not verify")
