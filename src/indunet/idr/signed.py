"""Signed identifier data: prefix certificates (HS_CERT) and record signatures (HS_SIGNATURE).

Trust is anchored in the top-level node's key. Each prefix's key is certified by the key of the
prefix above it, in an ``HS_CERT`` value of ``0.NA/<prefix>`` written by that parent (the record the
parent serves for its child); the top-level node certifies itself. An enterprise signs its records
with its prefix's key: an ``HS_SIGNATURE`` value holds the SM3 digest of the record's other values
(index, type and data of each, in index order: what a resolver shows, not the timestamps and TTLs a
server sets) and the signature over it. A verifier that pinned the anchor's BID resolves the signer's
chain of ``0.NA`` records and checks every link (:func:`verify_record`).

Both documents are canonical JSON signed after a line naming the document type, like the ledger's
tree heads; keys are any of :mod:`indunet.security.crypto.keys` (SM2 by default).
"""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from indunet.idr.model import NA_PREFIX, HandleValue, parents
from indunet.ledger.did import bid_of
from indunet.security import documents
from indunet.security.crypto import keys
from indunet.security.crypto.keys import PrivateKey, PublicKey, UnsupportedKey
from indunet.security.crypto.sm3 import sm3
from indunet.security.documents import BadDocument, canonical

HS_CERT: Final = "HS_CERT"
HS_SIGNATURE: Final = "HS_SIGNATURE"
SIGNATURE_INDEX: Final = 400
CERT_INDEX: Final = 401
MAX_CHAIN: Final = 8
_CERT: Final = b"indunet-idr/prefix-certificate/v1\n"
_SIGNATURE: Final = b"indunet-idr/record-signature/v1\n"

Fetch = Callable[[str], Sequence[HandleValue] | None]
"""The public values of an identifier (``0.NA/<prefix>`` records), or None when it has none."""


class NotTrusted(BadDocument):
    """The data does not verify; the message says which link failed."""


def _parsed(raw: bytes) -> dict[str, Any]:
    try:
        return documents.parse(raw)
    except BadDocument as exc:
        raise NotTrusted(str(exc)) from None


def _checked(domain: bytes, document: dict[str, Any], key: PublicKey) -> None:
    try:
        documents.check(domain, document, key)
    except BadDocument as exc:
        raise NotTrusted(str(exc)) from None


# -- certificates ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrefixCertificate:
    subject: str
    issuer: str
    key: PublicKey
    not_after_ms: int
    document: dict[str, Any]

    @classmethod
    def parse(cls, raw: bytes) -> PrefixCertificate:
        document = _parsed(raw)
        try:
            key = keys.load_public_key(base64.b64decode(str(document["key"]), validate=True))
            return cls(
                str(document["subject"]), str(document["issuer"]), key, int(document["not_after"]), document
            )
        except (KeyError, ValueError, TypeError, UnsupportedKey) as exc:
            raise NotTrusted(f"malformed certificate: {exc}") from None

    def verify_with(self, issuer_key: PublicKey) -> None:
        _checked(_CERT, self.document, issuer_key)


def certify(
    issuer_key: PrivateKey, issuer: str, subject: str, subject_key: PublicKey, not_after_ms: int
) -> HandleValue:
    """The HS_CERT value by which ``issuer`` (the parent prefix, or the top-level prefix itself)
    vouches for ``subject_key`` as the key of ``subject``."""
    body = {
        "subject": subject,
        "issuer": issuer,
        "key": base64.b64encode(subject_key.to_der()).decode(),
        "key_bid": bid_of(subject_key),
        "not_after": not_after_ms,
    }
    return HandleValue(CERT_INDEX, HS_CERT, documents.sign(_CERT, body, issuer_key))


# -- record signatures -----------------------------------------------------------------------------


def record_digest(handle: str, values: Sequence[HandleValue]) -> tuple[bytes, list[int]]:
    """SM3 over the handle and the index, type and data of every value but signatures; and the
    indexes covered."""
    covered = sorted((v for v in values if v.type != HS_SIGNATURE), key=lambda v: v.index)
    content = canonical(
        {
            "handle": handle,
            "values": [
                {"index": v.index, "type": v.type, "data": base64.b64encode(v.data).decode()} for v in covered
            ],
        }
    )
    return sm3(content), [v.index for v in covered]


def sign_record(
    key: PrivateKey, signer: str, handle: str, values: Sequence[HandleValue], at_ms: int
) -> HandleValue:
    digest, indexes = record_digest(handle, values)
    body = {"signer": signer, "handle": handle, "digest": digest.hex(), "indexes": indexes, "at": at_ms}
    return HandleValue(SIGNATURE_INDEX, HS_SIGNATURE, documents.sign(_SIGNATURE, body, key))


@dataclass(frozen=True, slots=True)
class Verdict:
    signer: str
    chain: list[str]
    """The prefixes whose certificates were checked, signer first, anchor last."""
    anchor: str
    """The BID of the root key the chain ended at."""
    pinned: bool
    """Whether that root was the caller's pinned anchor (else the top-level key as served)."""


def verify_record(
    handle: str, values: Sequence[HandleValue], fetch: Fetch, anchor: str | None, now_ms: int
) -> Verdict:
    """Check the record's HS_SIGNATURE up to the key whose BID is ``anchor``; NotTrusted otherwise.

    With no anchor the chain ends at whatever key the top-level prefix certifies itself with, as the
    servers asked present it: the signature and every link are still checked, but whoever answers
    for the whole chain could have made it. The verdict says which root it was (``Verdict.anchor``)
    and that it was not pinned."""
    signatures = [v for v in values if v.type == HS_SIGNATURE]
    if not signatures:
        raise NotTrusted(f"{handle} is not signed")
    document = _parsed(signatures[0].data)
    try:
        signer, digest_hex, signed_handle = (
            str(document["signer"]),
            str(document["digest"]),
            str(document["handle"]),
        )
    except KeyError as exc:
        raise NotTrusted(f"malformed signature: missing {exc}") from None
    digest, _ = record_digest(handle, values)
    if signed_handle != handle or digest_hex != digest.hex():
        raise NotTrusted(f"{handle}: its values are not the ones that were signed")
    key, chain, root = _chain(signer, fetch, anchor, now_ms)
    _checked(_SIGNATURE, document, key)
    if not may_sign(signer, handle):
        raise NotTrusted(f"{signer} may not sign for {handle}")
    return Verdict(signer, chain, root, anchor is not None)


def may_sign(prefix: str, handle: str) -> bool:
    """Whether the key of ``prefix`` speaks for ``handle``: its identifiers, its own ``0.NA`` record
    and what lies under its sub-prefixes."""
    return (
        handle.startswith(prefix + "/")
        or handle == f"{NA_PREFIX}/{prefix}"
        or handle.startswith(prefix + ".")
    )


@dataclass(frozen=True)
class RecordSigner:
    """Signs every record of ``prefix``'s identifiers as it is written (``HandleStore.signer``): the
    node's registrations come out signed, whichever interface wrote them."""

    key: PrivateKey
    prefix: str
    clock: Callable[[], float] = time.time

    def __call__(self, handle: str, values: Sequence[HandleValue]) -> list[HandleValue]:
        if not handle.startswith(self.prefix + "/"):
            return list(values)
        kept = [v for v in values if v.type != HS_SIGNATURE]
        # What an anonymous resolver is shown is what the signature covers.
        shown = [v for v in kept if v.public]
        return [*kept, sign_record(self.key, self.prefix, handle, shown, int(self.clock() * 1000))]


def chain_prefixes(handle: str) -> list[str]:
    """The prefixes whose ``0.NA`` records a verification of ``handle`` may read, top first."""
    prefix, _, suffix = handle.partition("/")
    return parents(suffix if prefix.upper() == NA_PREFIX else prefix)


def _certificates(prefix: str, fetch: Fetch) -> list[PrefixCertificate]:
    found = fetch(f"{NA_PREFIX}/{prefix}") or []
    out = []
    for value in found:
        if value.type == HS_CERT:
            try:
                out.append(PrefixCertificate.parse(value.data))
            except NotTrusted:
                continue
    return [c for c in out if c.subject == prefix]


def _chain(prefix: str, fetch: Fetch, anchor: str | None, now_ms: int) -> tuple[PublicKey, list[str], str]:
    """The certified key of ``prefix``, checked link by link up to the anchor (or, with none pinned,
    up to the key the top-level prefix certifies itself with), and the BID of that root key."""
    chain: list[str] = []
    links: list[PrefixCertificate] = []
    current = prefix
    for _ in range(MAX_CHAIN):
        certificates = _certificates(current, fetch)
        if not certificates:
            raise NotTrusted(f"0.NA/{current} holds no certificate for {current}")
        certificate = certificates[0]
        if certificate.not_after_ms < now_ms:
            raise NotTrusted(f"the certificate of {current} expired")
        chain.append(current)
        links.append(certificate)
        root = bid_of(certificate.key)
        top_level = len(parents(current)) == 1
        if certificate.issuer == current and (root == anchor or (anchor is None and top_level)):
            certificate.verify_with(certificate.key)  # the root's own (self-signed) certificate
            break
        if certificate.issuer == current:
            raise NotTrusted(f"{current} certifies itself with a key that is not the pinned anchor")
        if certificate.issuer not in parents(current)[:-1]:
            raise NotTrusted(f"{current} is certified by {certificate.issuer}, which is not above it")
        current = certificate.issuer
    else:
        raise NotTrusted("certificate chain too long")
    for child, parent in itertools.pairwise(links):
        try:
            child.verify_with(parent.key)
        except NotTrusted:
            raise NotTrusted(
                f"the certificate of {child.subject} is not signed by {parent.subject}'s key"
            ) from None
    return links[0].key, chain, bid_of(links[-1].key)
