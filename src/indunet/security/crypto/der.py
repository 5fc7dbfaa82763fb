"""The few DER (X.690) structures SM2 keys and signatures need, encoded and decoded as bytes.

`cryptography` reads and writes PKCS#8, SubjectPublicKeyInfo and SEC 1 for the curves it supports,
but not for SM2's curve (OID 1.2.156.10197.1.301). These are the same structures with that curve:

- signature: ``SEQUENCE { r INTEGER, s INTEGER }`` (GB/T 35276, as OpenSSL writes it);
- public key: ``SEQUENCE { SEQUENCE { id-ecPublicKey, sm2 }, BIT STRING 04||x||y }``;
- private key, PKCS#8: ``SEQUENCE { 0, SEQUENCE { id-ecPublicKey, sm2 }, OCTET STRING ECPrivateKey }``
  where ECPrivateKey (SEC 1) is ``SEQUENCE { 1, OCTET STRING d, [0] sm2 OPTIONAL, [1] BIT STRING
  04||x||y OPTIONAL }``, which is also the whole of an ``EC PRIVATE KEY`` PEM file.

Decoding is strict about the shapes read and raises :class:`DerError` (a ValueError) on anything
else, never another exception; lengths are bounded by the input.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQUENCE = 0x30
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
OID = 0x06
CONTEXT_0 = 0xA0
CONTEXT_1 = 0xA1

ID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
SM2_CURVE = "1.2.156.10197.1.301"
MAX_INPUT = 16 * 1024


class DerError(ValueError):
    """Not the DER structure expected."""


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def integer(value: int) -> bytes:
    if value < 0:
        raise ValueError("only non-negative integers are encoded here")
    octets = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading zero keeps it positive
    return tlv(INTEGER, octets)


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray((40 * parts[0] + parts[1],))
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def sequence(*items: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(items))


def bit_string(data: bytes) -> bytes:
    return tlv(BIT_STRING, b"\x00" + data)


@dataclass(frozen=True, slots=True)
class Element:
    tag: int
    content: bytes


def read(data: bytes) -> tuple[Element, bytes]:
    """The first element of ``data`` and what follows it."""
    if len(data) > MAX_INPUT:
        raise DerError(f"DER input over {MAX_INPUT} octets")
    if len(data) < 2:
        raise DerError("truncated DER element")
    tag, first = data[0], data[1]
    if first < 0x80:
        size, start = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            raise DerError("bad DER length")
        size, start = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
        if size < 0x80 or data[2] == 0:
            raise DerError("DER length not in its shortest form")
    end = start + size
    if end > len(data):
        raise DerError("DER element longer than its input")
    return Element(tag, data[start:end]), data[end:]


def read_only(data: bytes, tag: int) -> bytes:
    """The content of ``data``, which must be exactly one element of ``tag``."""
    element, rest = read(data)
    if element.tag != tag or rest:
        raise DerError(f"expected one element of tag {tag:#x}")
    return element.content


def items(content: bytes) -> list[Element]:
    out = []
    while content:
        element, content = read(content)
        out.append(element)
    return out


def read_integer(element: Element) -> int:
    if element.tag != INTEGER or not element.content:
        raise DerError("expected an INTEGER")
    if element.content[0] & 0x80:
        raise DerError("negative INTEGER")
    if len(element.content) > 1 and element.content[0] == 0 and not element.content[1] & 0x80:
        raise DerError("INTEGER not in its shortest form")
    return int.from_bytes(element.content, "big")


def read_bit_string(element: Element) -> bytes:
    if element.tag != BIT_STRING or not element.content or element.content[0] != 0:
        raise DerError("expected a BIT STRING of whole octets")
    return element.content[1:]


def read_oid(element: Element) -> str:
    body = element.content
    if element.tag != OID or not body or body[-1] & 0x80:
        raise DerError("expected an OBJECT IDENTIFIER")
    first = body[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for octet in body[1:]:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


# -- the SM2 structures ------------------------------------------------------------------------------


def encode_signature(r: int, s: int) -> bytes:
    return sequence(integer(r), integer(s))


def decode_signature(data: bytes) -> tuple[int, int]:
    found = items(read_only(data, SEQUENCE))
    if len(found) != 2:
        raise DerError("a signature is SEQUENCE { r, s }")
    return read_integer(found[0]), read_integer(found[1])


_SM2_ALGORITHM = sequence(oid(ID_EC_PUBLIC_KEY), oid(SM2_CURVE))


def encode_public_key(point: bytes) -> bytes:
    """SubjectPublicKeyInfo of an uncompressed SM2 point ``04||x||y``."""
    return sequence(_SM2_ALGORITHM, bit_string(point))


def _check_algorithm(element: Element) -> None:
    parts = items(element.content) if element.tag == SEQUENCE else []
    if len(parts) != 2 or read_oid(parts[0]) != ID_EC_PUBLIC_KEY or read_oid(parts[1]) != SM2_CURVE:
        raise DerError("not an SM2 key (id-ecPublicKey with curve 1.2.156.10197.1.301)")


def decode_public_key(data: bytes) -> bytes:
    found = items(read_only(data, SEQUENCE))
    if len(found) != 2:
        raise DerError("a public key is SEQUENCE { algorithm, BIT STRING }")
    _check_algorithm(found[0])
    return read_bit_string(found[1])


def encode_private_key(secret: int, point: bytes) -> bytes:
    """PKCS#8 of an SM2 private key, with its public point (as OpenSSL writes it)."""
    ec_key = sequence(
        integer(1), tlv(OCTET_STRING, secret.to_bytes(32, "big")), tlv(CONTEXT_1, bit_string(point))
    )
    return sequence(integer(0), _SM2_ALGORITHM, tlv(OCTET_STRING, ec_key))


def decode_private_key(data: bytes) -> tuple[int, bytes | None]:
    """(d, public point or None) from PKCS#8 or from a bare SEC 1 ECPrivateKey."""
    found = items(read_only(data, SEQUENCE))
    if len(found) >= 3 and found[0].tag == INTEGER and read_integer(found[0]) == 0:
        _check_algorithm(found[1])
        if found[2].tag != OCTET_STRING:
            raise DerError("PKCS#8 private key is an OCTET STRING")
        found = items(read_only(found[2].content, SEQUENCE))
    if len(found) < 2 or read_integer(found[0]) != 1 or found[1].tag != OCTET_STRING:
        raise DerError("an EC private key is SEQUENCE { 1, OCTET STRING d, ... }")
    secret = int.from_bytes(found[1].content, "big")
    point = None
    for extra in found[2:]:
        if extra.tag == CONTEXT_0:
            if read_oid(read(extra.content)[0]) != SM2_CURVE:
                raise DerError("not an SM2 key")
        elif extra.tag == CONTEXT_1:
            point = read_bit_string(read(extra.content)[0])
    return secret, point
