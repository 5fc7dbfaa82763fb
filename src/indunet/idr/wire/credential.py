"""The Message Credential (RFC 3652, 2.2.4) that follows the body; framing only, no cryptography.

CredentialLength (4) counts the octets after it; 0 means the message is not signed. Otherwise:
Version (1), Reserved (1), Options (2), Signer (Handle UTF8-String, Index (4)), Type
(UTF8-String: ``HS_SIGNED`` for a public-key signature, ``HS_MAC`` for a session-key MAC) and
SignedInfo: Length (4), DigestAlgorithm (UTF8-String), SignedData (byte array).

What is signed (the header and body octets as sent) is the signer's and verifier's business;
:func:`indunet.idr.wire.message.signed_part` returns those octets of a decoded message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from indunet.idr.wire.primitives import Reader, Writer

HS_SIGNED: Final = "HS_SIGNED"
HS_MAC: Final = "HS_MAC"


@dataclass(frozen=True, slots=True)
class Credential:
    signer_handle: str
    signer_index: int
    signature: bytes
    type: str = HS_SIGNED
    digest_algorithm: str = "SHA-256"
    version: int = 0
    options: int = 0


def encode_credential(cred: Credential | None) -> bytes:
    if cred is None:
        return bytes(4)
    signed_info = Writer().string(cred.digest_algorithm).byte_array(cred.signature).getvalue()
    inner = (
        Writer()
        .u8(cred.version)
        .u8(0)
        .u16(cred.options)
        .string(cred.signer_handle)
        .u32(cred.signer_index)
        .string(cred.type)
        .byte_array(signed_info)
        .getvalue()
    )
    return Writer().byte_array(inner).getvalue()


def decode_credential(r: Reader) -> Credential | None:
    """The credential at the reader's position; None when absent (length 0, or no octets left)."""
    if r.remaining == 0:
        # Tolerated: some peers omit the credential length of unsigned messages.
        return None
    data = r.byte_array("message credential")
    if not data:
        return None
    c = Reader(data)
    version = c.u8("credential version")
    c.u8("credential reserved octet")
    options = c.u16("credential options")
    signer = c.string("signer handle")
    index = c.u32("signer index")
    type_ = c.string("credential type")
    signed = Reader(c.byte_array("signed info"))
    algorithm = signed.string("digest algorithm")
    signature = signed.byte_array("signed data")
    return Credential(signer, index, signature, type_, algorithm, version, options)
