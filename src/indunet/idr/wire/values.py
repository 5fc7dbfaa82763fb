"""Handle values and the data formats of the values the system itself reads (RFC 3651, RFC 3652 3.1).

A handle value on the wire is: Index (4), Timestamp (4), TTLType (1), TTL (4), Permission (1),
Type (UTF8-String), Data (byte array) and References (count, then Handle UTF8-String + Index (4)
each). It decodes to :class:`indunet.idr.model.HandleValue`.

The data of three types has a defined structure, encoded and decoded here:

- HS_ADMIN: AdminPermission (2) then the administrator as AdminRef: Handle (UTF8-String), Index (4).
- HS_SITE: Version (2), ProtocolVersion (major, minor octets), SerialNumber (2), PrimaryMask (1),
  HashOption (1), HashFilter (UTF8-String), Attributes (count, then name and value UTF8-Strings),
  Servers (count, then ServerID (4), Address (16), PublicKeyRecord (byte array) and
  ServiceInterfaces (count, then ServiceType (1), TransmissionProtocol (1), PortNumber (4))).
- HS_VLIST: a count, then references (Handle UTF8-String, Index (4)).

Trailing octets after these structures are ignored, so later versions that append fields decode.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Final

from indunet.idr.model import HandleValue, Permission, Reference, TtlType
from indunet.idr.wire.codes import PROTOCOL_MAJOR, PROTOCOL_MINOR, ResponseCode
from indunet.idr.wire.errors import WireError
from indunet.idr.wire.primitives import Reader, Writer

MIN_VALUE_SIZE = 4 + 4 + 1 + 4 + 1 + 4 + 4 + 4
_PERMISSIONS = {n: Permission(n) for n in range(16)}
MIN_REFERENCE_SIZE = 4 + 4


# -- handle values ---------------------------------------------------------------------------------


def write_reference(w: Writer, ref: Reference) -> None:
    w.string(ref.handle).u32(ref.index)


def read_reference(r: Reader) -> Reference:
    return Reference(handle=r.string("referenced handle"), index=r.u32("referenced index"))


_U32 = struct.Struct(">I")
_NO_REFERENCES = bytes(4)
_VALUE_HEAD = struct.Struct(">IIBIB")
"""Index, timestamp, TTL type, TTL and permissions: one pack or unpack instead of five calls (values
are the bulk of every answer)."""


def write_value(w: Writer, v: HandleValue) -> None:
    w.raw(_value_octets(v))


def _value_octets(v: HandleValue) -> bytes:
    # One pack per field group and one concatenation: values are the bulk of every answer and of
    # every registration, and a Writer call per field costs several times the packing.
    kind = v.type.encode("utf-8")
    data = v.data
    try:
        head = _VALUE_HEAD.pack(v.index, v.timestamp, int(v.ttl_type), v.ttl, int(v.permissions))
        refs = _references_octets(v.references) if v.references else _NO_REFERENCES
    except struct.error as e:
        raise ValueError(f"a field of value {v.index} does not fit: {e}") from e
    return head + _U32.pack(len(kind)) + kind + _U32.pack(len(data)) + data + refs


def _references_octets(references: tuple[Reference, ...]) -> bytes:
    w = Writer().u32(len(references))
    for ref in references:
        write_reference(w, ref)
    return w.getvalue()


def read_value(r: Reader) -> HandleValue:
    index, timestamp, ttl_type_raw, ttl, permissions = r.fields(
        _VALUE_HEAD, "value index, timestamp, TTL and permissions"
    )
    type_ = r.string("value type")
    data = r.byte_array("value data")
    refs = r.items(MIN_REFERENCE_SIZE, "references", read_reference)
    try:
        ttl_type = TtlType(ttl_type_raw)
    except ValueError:
        raise WireError(
            f"TTL type {ttl_type_raw} is neither 0 nor 1", ResponseCode.RC_VALUE_INVALID
        ) from None
    return HandleValue(
        index=index,
        type=type_,
        data=data,
        ttl_type=ttl_type,
        ttl=ttl,
        timestamp=timestamp,
        permissions=_PERMISSIONS[permissions] if permissions < 16 else Permission(permissions),
        references=refs,
    )


def write_values(w: Writer, values: tuple[HandleValue, ...]) -> None:
    w.raw(encode_values(values))


def read_values(r: Reader) -> tuple[HandleValue, ...]:
    return r.items(MIN_VALUE_SIZE, "handle values", read_value)


def encode_value(v: HandleValue) -> bytes:
    return _value_octets(v)


def encode_values(values: Iterable[HandleValue]) -> bytes:
    """A value list in wire form: the count, then each value."""
    parts = [_value_octets(v) for v in values]
    return _U32.pack(len(parts)) + b"".join(parts)


def decode_values(data: bytes) -> tuple[HandleValue, ...]:
    """A value list in wire form (see :func:`encode_values`); WireError when malformed."""
    try:
        return _plain_values(data)
    except (struct.error, ValueError):  # short, not UTF-8 or not plain: the careful way says why
        return read_values(Reader(data))


class _NotPlain(ValueError):
    pass


_TTL_TYPES = {int(t): t for t in TtlType}


def _plain_values(data: bytes) -> tuple[HandleValue, ...]:
    """The values of a well-formed list without references (a stored record, typically), unpacked
    with a few slices each; anything else raises struct.error or ValueError and is left to the Reader."""
    (count,) = _U32.unpack_from(data, 0)
    if count > len(data) // MIN_VALUE_SIZE:
        raise _NotPlain
    pos = 4
    out = []
    for _ in range(count):
        index, timestamp, ttl_type, ttl, permissions = _VALUE_HEAD.unpack_from(data, pos)
        (size,) = _U32.unpack_from(data, pos + 14)
        start = pos + 18
        kind = data[start : start + size].decode("utf-8")
        pos = start + size
        (size,) = _U32.unpack_from(data, pos)
        value = data[pos + 4 : pos + 4 + size]
        pos += 4 + size
        (refs,) = _U32.unpack_from(data, pos)
        pos += 4
        if refs or len(value) != size or ttl_type > 1 or permissions > 15:
            raise _NotPlain
        out.append(
            HandleValue(
                index, kind, bytes(value), _TTL_TYPES[ttl_type], ttl, timestamp, _PERMISSIONS[permissions]
            )
        )
    return tuple(out)


def decode_value(data: bytes) -> HandleValue:
    return read_value(Reader(data))


# -- HS_ADMIN ---------------------------------------------------------------------------------------


class AdminPermission(IntFlag):
    """The AdminPermission bits of HS_ADMIN data, in RFC 3651's order (least significant first)."""

    ADD_HANDLE = 0x0001
    DELETE_HANDLE = 0x0002
    ADD_NA = 0x0004
    DELETE_NA = 0x0008
    MODIFY_VALUE = 0x0010
    REMOVE_VALUE = 0x0020
    ADD_VALUE = 0x0040
    READ_VALUE = 0x0080
    MODIFY_ADMIN = 0x0100
    REMOVE_ADMIN = 0x0200
    ADD_ADMIN = 0x0400
    LIST_HANDLES = 0x0800

    @classmethod
    def all(cls) -> AdminPermission:
        result = cls(0)
        for p in cls:
            result |= p
        return result


@dataclass(frozen=True, slots=True)
class AdminRecord:
    """HS_ADMIN data: who (the key at ``handle``/``index``) may do what (``permissions``)."""

    permissions: AdminPermission
    handle: str
    index: int


def encode_admin(rec: AdminRecord) -> bytes:
    return Writer().u16(int(rec.permissions)).string(rec.handle).u32(rec.index).getvalue()


def decode_admin(data: bytes) -> AdminRecord:
    r = Reader(data)
    perms = r.u16("admin permissions")
    handle = r.string("admin handle")
    index = r.u32("admin index")
    return AdminRecord(AdminPermission(perms), handle, index)


# -- HS_SITE ----------------------------------------------------------------------------------------


class PrimaryMask(IntFlag):
    PRIMARY = 0x80
    """This site is a primary site of the service."""
    MULTI_PRIMARY = 0x40
    """The service has more than one primary site."""


class HashOption(IntEnum):
    """How a client picks the server of a site for a handle (RFC 3651, 3.2.2)."""

    HASH_BY_NA = 0
    HASH_BY_LOCAL = 1
    HASH_BY_HANDLE = 2


class ServiceType(IntFlag):
    OUT_OF_SERVICE = 0
    ADMIN = 0x01
    RESOLUTION = 0x02


class TransmissionProtocol(IntEnum):
    UDP = 0
    TCP = 1
    HTTP = 2
    HTTPS = 3
    """Later addition."""


NOT_PRIMARY: Final = PrimaryMask(0)


@dataclass(frozen=True, slots=True)
class ServiceInterface:
    type: ServiceType
    protocol: int
    """A :class:`TransmissionProtocol` when known; other numbers are kept as they came."""
    port: int


@dataclass(frozen=True, slots=True)
class ServerRecord:
    server_id: int
    address: bytes
    """16 octets: an IPv6 address, or an IPv4 address in the last four after twelve zero octets."""
    public_key: bytes = b""
    """The HS_PUBKEY-format key record of the server, as opaque octets."""
    interfaces: tuple[ServiceInterface, ...] = ()

    @classmethod
    def for_ip(cls, server_id: int, ip: str, **kw: object) -> ServerRecord:
        addr = ipaddress.ip_address(ip)
        packed = addr.packed if addr.version == 6 else bytes(12) + addr.packed
        return cls(server_id, packed, **kw)  # type: ignore[arg-type]

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        if self.address[:12] == bytes(12):
            return ipaddress.IPv4Address(self.address[12:])
        return ipaddress.IPv6Address(self.address)


@dataclass(frozen=True, slots=True)
class SiteInfo:
    servers: tuple[ServerRecord, ...] = ()
    serial: int = 0
    primary: PrimaryMask = NOT_PRIMARY
    hash_option: HashOption | int = HashOption.HASH_BY_HANDLE
    hash_filter: str = ""
    attributes: tuple[tuple[str, str], ...] = ()
    version: int = 1
    protocol_major: int = PROTOCOL_MAJOR
    protocol_minor: int = PROTOCOL_MINOR


_MIN_SERVER_SIZE = 4 + 16 + 4 + 4
_MIN_INTERFACE_SIZE = 1 + 1 + 4


def write_site(w: Writer, site: SiteInfo) -> None:
    w.u16(site.version).u8(site.protocol_major).u8(site.protocol_minor).u16(site.serial)
    w.u8(int(site.primary)).u8(int(site.hash_option)).string(site.hash_filter)
    w.u32(len(site.attributes))
    for name, value in site.attributes:
        w.string(name).string(value)
    w.u32(len(site.servers))
    for srv in site.servers:
        if len(srv.address) != 16:
            raise ValueError("a server address is 16 octets")
        w.u32(srv.server_id).raw(srv.address).byte_array(srv.public_key)
        w.u32(len(srv.interfaces))
        for itf in srv.interfaces:
            w.u8(int(itf.type)).u8(int(itf.protocol)).u32(itf.port)


def _read_interface(r: Reader) -> ServiceInterface:
    type_ = ServiceType(r.u8("service type"))
    proto = r.u8("transmission protocol")
    port = r.u32("port")
    known = {int(p) for p in TransmissionProtocol}
    return ServiceInterface(type_, TransmissionProtocol(proto) if proto in known else proto, port)


def _read_server(r: Reader) -> ServerRecord:
    server_id = r.u32("server id")
    address = r.raw(16, "server address")
    key = r.byte_array("server public key")
    interfaces = r.items(_MIN_INTERFACE_SIZE, "service interfaces", _read_interface)
    return ServerRecord(server_id, address, key, interfaces)


def read_site(r: Reader) -> SiteInfo:
    version = r.u16("site version")
    major = r.u8("protocol major version")
    minor = r.u8("protocol minor version")
    serial = r.u16("site serial number")
    primary = PrimaryMask(r.u8("primary mask"))
    hash_raw = r.u8("hash option")
    hash_filter = r.string("hash filter")
    attributes = r.items(8, "site attributes", lambda rr: (rr.string("attribute"), rr.string("attribute")))
    servers = r.items(_MIN_SERVER_SIZE, "servers", _read_server)
    known = {int(h) for h in HashOption}
    return SiteInfo(
        servers=servers,
        serial=serial,
        primary=primary,
        hash_option=HashOption(hash_raw) if hash_raw in known else hash_raw,
        hash_filter=hash_filter,
        attributes=attributes,
        version=version,
        protocol_major=major,
        protocol_minor=minor,
    )


def encode_site(site: SiteInfo) -> bytes:
    w = Writer()
    write_site(w, site)
    return w.getvalue()


def decode_site(data: bytes) -> SiteInfo:
    return read_site(Reader(data))


# -- HS_VLIST ---------------------------------------------------------------------------------------


def encode_vlist(refs: tuple[Reference, ...]) -> bytes:
    w = Writer().u32(len(refs))
    for ref in refs:
        write_reference(w, ref)
    return w.getvalue()


def decode_vlist(data: bytes) -> tuple[Reference, ...]:
    return Reader(data).items(MIN_REFERENCE_SIZE, "value list references", read_reference)
