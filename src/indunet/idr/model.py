"""Identifiers and their values, after the Handle System data model (RFC 3651).

An identifier is ``PREFIX/SUFFIX``. The prefix is hierarchical, most significant part first, as the
national system allocates it: ``88`` is the national prefix, ``88.100`` an industry (secondary) node,
``88.100.1`` an enterprise. ``0.NA/<prefix>`` is the prefix's own record at the node above it (its
site information and administrators), as on the global Handle System.

A record is a set of values, each with an index unique in the record, a type (``URL``, ``HS_ADMIN``,
a metadata template's field ...), the data as bytes, a time to live (relative seconds or an absolute
expiry), permissions (public and administrator read/write), the time it was last changed and
references to values of other identifiers.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Final

MAX_HANDLE_BYTES: Final = 1024
"""Longest identifier accepted (UTF-8 bytes); RFC 3651 sets none, a server must."""
MAX_TYPE_BYTES: Final = 128
MAX_VALUE_BYTES: Final = 64 * 1024
MAX_VALUES: Final = 1000
MAX_PREFIX_DEPTH: Final = 16
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")

NA_PREFIX: Final = "0.NA"
"""Prefix of the records that describe prefixes themselves (``0.NA/88.100.1``)."""

# Value types the system itself interprets (RFC 3651, section 3.2).
HS_ADMIN: Final = "HS_ADMIN"
HS_SITE: Final = "HS_SITE"
HS_PUBKEY: Final = "HS_PUBKEY"
HS_SECKEY: Final = "HS_SECKEY"
HS_VLIST: Final = "HS_VLIST"
HS_ALIAS: Final = "HS_ALIAS"
HS_SERV: Final = "HS_SERV"


class TtlType(IntEnum):
    RELATIVE = 0
    """``ttl`` seconds after the value was fetched."""
    ABSOLUTE = 1
    """``ttl`` is the expiry as seconds since the epoch."""


class Permission(IntFlag):
    """Who may read and change a value (RFC 3651, 3.1: the permission field's bits)."""

    PUBLIC_WRITE = 0x01
    PUBLIC_READ = 0x02
    ADMIN_WRITE = 0x04
    ADMIN_READ = 0x08

    @classmethod
    def default(cls) -> Permission:
        return cls.ADMIN_READ | cls.ADMIN_WRITE | cls.PUBLIC_READ


DEFAULT_PERMISSIONS: Final = Permission.default()
"""Public read, administrator read and write (a constant: an enum's ``|`` costs more than a value)."""


@dataclass(frozen=True, slots=True)
class Reference:
    handle: str
    index: int


@dataclass(frozen=True, slots=True)
class HandleValue:
    index: int
    type: str
    data: bytes
    ttl_type: TtlType = TtlType.RELATIVE
    ttl: int = 86_400
    timestamp: int = 0
    """Seconds since the epoch when the value was last changed (set by the server)."""
    permissions: Permission = DEFAULT_PERMISSIONS
    references: tuple[Reference, ...] = ()

    @property
    def public(self) -> bool:
        return Permission.PUBLIC_READ in self.permissions


class InvalidHandle(ValueError):
    """Not an identifier indunet accepts; ``str()`` says why."""


def normalise(handle: str) -> str:
    """The identifier in the form it is stored and compared in: NFC, prefix case-folded.

    Handle prefixes are case-insensitive (ASCII) and suffixes case-sensitive, as on Handle.Net.
    """
    prefix, suffix = split(handle)
    return f"{prefix}/{suffix}"


@functools.lru_cache(maxsize=4096)
def split(handle: str) -> tuple[str, str]:
    """(prefix, suffix) of ``PREFIX/SUFFIX``; InvalidHandle when it is not one.

    Remembered for the most recent names: answering one request checks its name several times over
    (service, store, cache), and a pure function of a string need not be run again."""
    # ASCII is already in normal form: the check is the cheap part of resolving most identifiers.
    text = handle if handle.isascii() else unicodedata.normalize("NFC", handle)
    if len(text) > MAX_HANDLE_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_HANDLE_BYTES:
        raise InvalidHandle(f"an identifier is at most {MAX_HANDLE_BYTES} bytes")
    prefix, slash, suffix = text.partition("/")
    if not slash or not prefix or not suffix:
        raise InvalidHandle(f"{handle[:80]!r} is not PREFIX/SUFFIX")
    if _CONTROL.search(text):
        raise InvalidHandle("an identifier holds no control characters")
    return check_prefix(prefix), suffix


def check_prefix(prefix: str) -> str:
    """The prefix, ASCII-lower-cased; InvalidHandle when a segment is empty or it is too deep."""
    if prefix.upper() == NA_PREFIX:
        return NA_PREFIX
    if (
        not prefix
        or prefix.count(".") >= MAX_PREFIX_DEPTH
        or ".." in prefix
        or prefix[0] == "."
        or prefix[-1] == "."
        or "/" in prefix
    ):
        raise InvalidHandle(f"{prefix[:80]!r} is not a prefix (dot-separated, non-empty segments)")
    return prefix.lower() if prefix.isascii() else prefix


def parents(prefix: str) -> list[str]:
    """The prefix and every prefix above it, most general first: ``88.100.1`` -> 88, 88.100, 88.100.1.

    ``0.NA`` is the exception: its records belong to the top of the hierarchy.
    """
    if prefix.upper() == NA_PREFIX:
        return [prefix]
    segments = prefix.split(".")
    return [".".join(segments[: i + 1]) for i in range(len(segments))]


def na_handle(prefix: str) -> str:
    """The record describing ``prefix``: ``0.NA/88.100.1``."""
    return f"{NA_PREFIX}/{check_prefix(prefix)}"
