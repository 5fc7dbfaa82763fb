"""Operations on identifier records, with the Handle System's administrator model.

Theory of operation: a caller is anonymous, an administrator identified by a value reference
``(admin handle, index)`` (``300:0.NA/88.100.1``) that proved it holds the secret in that value
(an ``HS_SECKEY``), or the local system (tooling and bootstrap; never reachable over the network).

Who may do what follows RFC 3651's ``HS_ADMIN`` values: each names an administrator (a value
reference; index 0 means any index of that handle; a reference to an ``HS_VLIST`` value names a
group, resolved one level) and a set of :class:`AdminPermission` bits.

- A new identifier under ``P`` needs ADD_HANDLE from an ``HS_ADMIN`` of ``0.NA/P``; a new prefix
  record ``0.NA/88.100.1`` needs ADD_NA from ``0.NA/88.100`` (top-level prefix records
  from ``0.NA/0.NA``).
- Values of an existing identifier are added, changed and removed by that identifier's own
  administrators (ADD/MODIFY/REMOVE_VALUE; the *_ADMIN bits for ``HS_ADMIN`` values), the identifier
  is deleted with DELETE_HANDLE, and the identifiers under a prefix are listed with LIST_HANDLES on
  ``0.NA/P``.
- Values without PUBLIC_READ are shown only to administrators with READ_VALUE.

Failures are :class:`HandleError` subclasses carrying the Handle protocol response code (RFC 3652,
2.2.2.3) and fitting the platform's error tree (NotFound, Conflict, PermissionDenied ...).

``HS_ADMIN`` and ``HS_VLIST`` data are read with the protocol codec (:mod:`indunet.idr.wire.values`).
"""

from __future__ import annotations

import hmac
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from indunet.core.errors import (
    AuthenticationFailed,
    Conflict,
    IndunetError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from indunet.idr.model import (
    HS_ADMIN,
    HS_SECKEY,
    HS_VLIST,
    MAX_TYPE_BYTES,
    MAX_VALUE_BYTES,
    MAX_VALUES,
    NA_PREFIX,
    HandleValue,
    InvalidHandle,
    check_prefix,
    na_handle,
    normalise,
    split,
)
from indunet.idr.store import HandleExists, HandleStore, Transaction
from indunet.idr.wire.codes import ResponseCode
from indunet.idr.wire.errors import WireError
from indunet.idr.wire.values import AdminPermission, AdminRecord, decode_admin, decode_vlist

MAX_INDEX: Final = 2**31 - 1
"""Indexes at or above 2^31 read as negative in existing implementations (RFC 3651 errata)."""
MAX_TTL: Final = 2**32 - 1
MAX_PAGE_SIZE: Final = 10_000


class HandleError(IndunetError):
    response_code: ClassVar[ResponseCode] = ResponseCode.RC_ERROR


class HandleNotFound(NotFound, HandleError):
    response_code = ResponseCode.RC_HANDLE_NOT_FOUND


class HandleAlreadyExists(Conflict, HandleError):
    response_code = ResponseCode.RC_HANDLE_ALREADY_EXIST


class InvalidHandleName(InvalidInput, HandleError):
    response_code = ResponseCode.RC_INVALID_HANDLE


class ValuesNotFound(NotFound, HandleError):
    response_code = ResponseCode.RC_VALUE_NOT_FOUND


class ValueAlreadyExists(Conflict, HandleError):
    response_code = ResponseCode.RC_VALUE_ALREADY_EXIST


class InvalidValue(InvalidInput, HandleError):
    response_code = ResponseCode.RC_VALUE_INVALID


class NotAuthorised(PermissionDenied, HandleError):
    """Authenticated, but not an administrator with the permission the operation needs."""

    response_code = ResponseCode.RC_NOT_AUTHORIZED


class QuotaExceeded(PermissionDenied, HandleError):
    """The prefix holds as many identifiers as its quota allows."""

    response_code = ResponseCode.RC_OPERATION_DENIED


class AuthenticationNeeded(AuthenticationFailed, HandleError):
    response_code = ResponseCode.RC_AUTHEN_NEEDED


class BadCredentials(AuthenticationFailed, HandleError):
    response_code = ResponseCode.RC_AUTHEN_FAILED


def admin_bits(permissions: AdminPermission) -> str:
    """The 12-character form of the REST API (``011111110011``), most significant bit first."""
    return format(int(permissions) & 0xFFF, "012b")


def parse_admin_bits(text: str) -> AdminPermission:
    """AdminPermission from its REST form; ValueError when it is not up to twelve 0/1 characters."""
    # Clients may send fewer than twelve bits; the missing high-order ones are clear.
    if not 0 < len(text) <= 12 or set(text) - {"0", "1"}:
        raise ValueError("permissions are up to twelve 0/1 characters")
    return AdminPermission(int(text, 2))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: anonymous (``admin`` None), an authenticated administrator, or the local system."""

    admin: tuple[str, int] | None = None
    system: bool = False

    @property
    def authenticated(self) -> bool:
        return self.system or self.admin is not None


ANONYMOUS: Final = Caller()
SYSTEM: Final = Caller(system=True)


def administrator(handle: str, index: int) -> Caller:
    return Caller(admin=(normalise(handle), index))


def parse_admin_id(text: str) -> tuple[str, int]:
    """``300:0.NA/88.100.1`` -> ("0.NA/88.100.1", 300); InvalidHandleName when malformed."""
    index, colon, handle = text.partition(":")
    if not colon or not index.isdigit() or not 0 < int(index) <= MAX_INDEX:
        raise InvalidHandleName(f"{text[:80]!r} is not INDEX:PREFIX/SUFFIX")
    return _name(handle), int(index)


def _name(handle: str) -> str:
    try:
        return normalise(handle)
    except InvalidHandle as exc:
        raise InvalidHandleName(str(exc)) from exc


# --- authentication ---------------------------------------------------------------------------


def authenticate(store: HandleStore, admin_id: str, secret: bytes) -> Caller:
    """The administrator ``INDEX:HANDLE`` if ``secret`` is the HS_SECKEY at that value, else BadCredentials."""
    try:
        handle, index = parse_admin_id(admin_id)
    except InvalidHandleName as exc:
        raise BadCredentials("the user name is not INDEX:PREFIX/SUFFIX") from exc
    with store.read() as tx:
        value = tx.get_value(handle, index)
    # Compared even when the value is missing, so timing does not tell which part was wrong.
    expected = value.data if value is not None and value.type == HS_SECKEY else b"\x00" * 32
    if not hmac.compare_digest(expected, secret) or value is None or value.type != HS_SECKEY:
        raise BadCredentials("the identity or its secret key is wrong")
    return Caller(admin=(handle, index))


# --- authorisation ------------------------------------------------------------------------------


def _admins(record: Iterable[HandleValue]) -> list[AdminRecord]:
    found = []
    for value in record:
        if value.type == HS_ADMIN:
            try:
                found.append(decode_admin(value.data))
            except WireError:
                continue  # a broken HS_ADMIN grants nothing; the record stays readable
    return found


def _refers_to(handle: str, index: int, admin: tuple[str, int]) -> bool:
    try:
        same = normalise(handle) == admin[0]
    except InvalidHandle:
        return False
    return same and index in (0, admin[1])


def _is_member(tx: Transaction, ref: AdminRecord, admin: tuple[str, int]) -> bool:
    if _refers_to(ref.handle, ref.index, admin):
        return True
    if ref.index == 0:
        return False
    try:
        group = tx.get_value(normalise(ref.handle), ref.index)
    except InvalidHandle:
        return False
    if group is None or group.type != HS_VLIST:
        return False
    try:
        return any(_refers_to(r.handle, r.index, admin) for r in decode_vlist(group.data))
    except WireError:
        return False


def permissions_of(tx: Transaction, record: Iterable[HandleValue], caller: Caller) -> AdminPermission:
    """What ``caller`` may do to a record, from its HS_ADMIN values."""
    if caller.system:
        return AdminPermission.all()
    if caller.admin is None:
        return AdminPermission(0)
    granted = AdminPermission(0)
    for ref in _admins(record):
        if _is_member(tx, ref, caller.admin):
            granted |= ref.permissions
    return granted


def _require(granted: AdminPermission, needed: AdminPermission, caller: Caller, what: str) -> None:
    if needed & ~granted:
        if not caller.authenticated:
            raise AuthenticationNeeded(f"{what} needs an authenticated administrator")
        missing = ", ".join(p.name or "" for p in AdminPermission if p in needed & ~granted)
        raise NotAuthorised(f"not allowed to {what} (missing {missing})")


def _parent_record(tx: Transaction, handle: str) -> list[HandleValue]:
    """The record whose administrators may create ``handle``."""
    prefix, suffix = split(handle)
    if prefix == NA_PREFIX:
        parent = suffix.rsplit(".", 1)[0] if "." in suffix else NA_PREFIX
        above = na_handle(parent)
    else:
        above = na_handle(prefix)
    return tx.get(above) or []


def _creating_permission(handle: str) -> AdminPermission:
    if split(handle)[0] == NA_PREFIX:
        return AdminPermission.ADD_NA
    return AdminPermission.ADD_HANDLE


# --- validation ---------------------------------------------------------------------------------


def _checked(values: Sequence[HandleValue], now: int) -> list[HandleValue]:
    if len(values) > MAX_VALUES:
        raise InvalidValue(f"a record holds at most {MAX_VALUES} values")
    seen: set[int] = set()
    out = []
    for value in values:
        if not 0 < value.index <= MAX_INDEX:
            raise InvalidValue(f"index {value.index} is outside 1..{MAX_INDEX}")
        if value.index in seen:
            raise InvalidValue(f"index {value.index} appears twice")
        seen.add(value.index)
        if not value.type or len(value.type.encode("utf-8", "surrogatepass")) > MAX_TYPE_BYTES:
            raise InvalidValue(f"a value type is 1 to {MAX_TYPE_BYTES} bytes")
        if len(value.data) > MAX_VALUE_BYTES:
            raise InvalidValue(f"a value's data is at most {MAX_VALUE_BYTES} bytes")
        if not 0 <= value.ttl <= MAX_TTL:
            raise InvalidValue("ttl is outside 0..2^32-1")
        if len(value.references) > MAX_VALUES:
            raise InvalidValue("too many references")
        if value.type == HS_ADMIN:
            try:
                decode_admin(value.data)
            except WireError as exc:
                raise InvalidValue(f"HS_ADMIN at index {value.index}: {exc}") from exc
        out.append(
            HandleValue(
                value.index,
                value.type,
                value.data,
                value.ttl_type,
                value.ttl,
                now,
                value.permissions,
                value.references,
            )
        )
    return out


def _readable(
    tx: Transaction, record: list[HandleValue], selected: list[HandleValue], caller: Caller, public_only: bool
) -> list[HandleValue]:
    if public_only or all(v.public for v in selected):
        return [v for v in selected if v.public]
    # The whole record's HS_ADMIN values decide, also when the selection leaves them out.
    _require(permissions_of(tx, record, caller), AdminPermission.READ_VALUE, caller, "read non-public values")
    return selected


def type_matches(value_type: str, wanted: Iterable[str]) -> bool:
    # A type ending in '.' selects its sub-types (RFC 3652, 3.2.1); types compare case-insensitively.
    have = value_type.casefold()
    return any(have.startswith(w.casefold()) if w.endswith(".") else have == w.casefold() for w in wanted)


# --- operations ---------------------------------------------------------------------------------


def resolve(
    store: HandleStore,
    handle: str,
    caller: Caller = ANONYMOUS,
    *,
    indexes: Sequence[int] = (),
    types: Sequence[str] = (),
    public_only: bool | None = None,
) -> list[HandleValue]:
    """The values of ``handle`` the caller may see, optionally only those of the given indexes or types.

    ``public_only`` defaults to True for anonymous callers: they see public values and are never
    refused; authenticated callers get every value, or NotAuthorised when some are not theirs to read.
    """
    name = _name(handle)
    public = (not caller.authenticated) if public_only is None else public_only
    if public:
        # Public values only: no administrator to check, so no transaction (the hot path).
        found = store.quick_values(name)
        if found is None:
            raise HandleNotFound(f"{name} is not registered")
        if indexes or types:
            found = [v for v in found if v.index in indexes or type_matches(v.type, types)]
        shown = [v for v in found if v.public]
        if (indexes or types) and not shown:
            raise ValuesNotFound(f"{name} has no such values")
        return shown
    with store.read() as tx:
        record = tx.get(name)
        if record is None:
            raise HandleNotFound(f"{name} is not registered")
        selected = record
        if indexes or types:
            selected = [v for v in record if v.index in indexes or type_matches(v.type, types)]
        shown = _readable(tx, record, selected, caller, public)
    if (indexes or types) and not shown:
        raise ValuesNotFound(f"{name} has no such values")
    return shown


def create_handle(
    store: HandleStore,
    handle: str,
    values: Sequence[HandleValue],
    caller: Caller,
    *,
    overwrite: bool = False,
) -> bool:
    """Register ``handle`` with ``values``, or with ``overwrite`` replace its record; True when created."""
    name = _name(handle)
    checked = _checked(values, int(time.time()))
    with store.write() as tx:
        # Without overwrite the insert itself tells whether the name is taken: one query fewer.
        current = tx.get(name) if overwrite else None
        if current is None:
            granted = permissions_of(tx, _parent_record(tx, name), caller)
            _require(granted, _creating_permission(name), caller, f"create {name}")
            _within_quota(tx, Counter([split(name)[0]]))
            try:
                tx.create(name, checked)
            except HandleExists as exc:
                raise HandleAlreadyExists(f"{name} is registered already") from exc
            return True
        needed = AdminPermission.ADD_VALUE | AdminPermission.REMOVE_VALUE | AdminPermission.MODIFY_VALUE
        if sorted(_admin_data(current)) != sorted(_admin_data(checked)):
            needed |= AdminPermission.ADD_ADMIN | AdminPermission.REMOVE_ADMIN | AdminPermission.MODIFY_ADMIN
        _require(permissions_of(tx, current, caller), needed, caller, f"replace {name}")
        tx.replace(name, checked)
        return False


def register_many(
    store: HandleStore, records: Iterable[tuple[str, Sequence[HandleValue]]], caller: Caller | None = None
) -> int:
    """Register many identifiers in one transaction: all or none (HandleAlreadyExists, QuotaExceeded
    and NotAuthorised roll the whole batch back). ``caller`` defaults to the local system; anyone
    else needs ADD_HANDLE on the prefix record of every prefix in the batch."""
    caller = SYSTEM if caller is None else caller
    now = int(time.time())
    prepared = [(_name(h), _checked(v, now)) for h, v in records]
    per_prefix = Counter(name.partition("/")[0] for name, _ in prepared)  # names are normalised
    with store.write() as tx:
        for prefix in per_prefix:
            if prefix == NA_PREFIX:
                raise InvalidHandleName("prefixes are allocated one at a time, not in a batch")
            granted = permissions_of(tx, tx.get(na_handle(prefix)) or [], caller)
            _require(granted, AdminPermission.ADD_HANDLE, caller, f"create identifiers under {prefix}")
        _within_quota(tx, per_prefix)
        try:
            return tx.create_many(prepared)
        except HandleExists as exc:
            raise HandleAlreadyExists(f"already registered: {exc}") from exc


def _within_quota(tx: Transaction, adding: Counter[str]) -> None:
    for prefix, n in adding.items():
        quota = tx.quota(prefix)
        if quota is not None and tx.count(prefix) + n > quota:
            raise QuotaExceeded(f"{prefix} may hold {quota} identifiers; {tx.count(prefix)} are registered")


def set_quota(store: HandleStore, prefix: str, max_handles: int | None) -> None:
    """Limit (or with None, stop limiting) how many identifiers ``prefix`` may hold."""
    try:
        prefix = check_prefix(prefix)
    except InvalidHandle as exc:
        raise InvalidHandleName(str(exc)) from exc
    if max_handles is not None and max_handles < 0:
        raise InvalidValue("a quota is 0 or more identifiers")
    with store.write() as tx:
        tx.set_quota(prefix, max_handles)


def _admin_data(values: Iterable[HandleValue]) -> list[tuple[int, bytes]]:
    return [(v.index, v.data) for v in values if v.type == HS_ADMIN]


def put_values(
    store: HandleStore,
    handle: str,
    values: Sequence[HandleValue],
    caller: Caller,
    *,
    overwrite: bool = True,
) -> tuple[list[int], list[int]]:
    """Add ``values`` to the record, replacing those at the same indexes; (added, replaced) indexes."""
    name = _name(handle)
    checked = _checked(values, int(time.time()))
    with store.write() as tx:
        current = tx.get(name)
        if current is None:
            raise HandleNotFound(f"{name} is not registered")
        by_index = {v.index: v for v in current}
        added = [v.index for v in checked if v.index not in by_index]
        replaced = [v.index for v in checked if v.index in by_index]
        if replaced and not overwrite:
            raise ValueAlreadyExists(f"{name} has values at {replaced} already")
        needed = AdminPermission(0)
        for value in checked:
            old = by_index.get(value.index)
            admin = value.type == HS_ADMIN or (old is not None and old.type == HS_ADMIN)
            if old is None:
                needed |= AdminPermission.ADD_ADMIN if admin else AdminPermission.ADD_VALUE
            else:
                needed |= AdminPermission.MODIFY_ADMIN if admin else AdminPermission.MODIFY_VALUE
        _require(permissions_of(tx, current, caller), needed, caller, f"change {name}")
        tx.put_values(name, checked)
    return added, replaced


def remove_values(store: HandleStore, handle: str, indexes: Sequence[int], caller: Caller) -> None:
    """Remove the values at ``indexes``; ValuesNotFound (nothing removed) when one is missing."""
    name = _name(handle)
    with store.write() as tx:
        current = tx.get(name)
        if current is None:
            raise HandleNotFound(f"{name} is not registered")
        by_index = {v.index: v for v in current}
        missing = [i for i in indexes if i not in by_index]
        if missing:
            raise ValuesNotFound(f"{name} has no values at {missing[:10]}")
        needed = AdminPermission(0)
        for index in indexes:
            admin = by_index[index].type == HS_ADMIN
            needed |= AdminPermission.REMOVE_ADMIN if admin else AdminPermission.REMOVE_VALUE
        _require(permissions_of(tx, current, caller), needed, caller, f"remove values of {name}")
        tx.remove_values(name, indexes)


def delete_handle(store: HandleStore, handle: str, caller: Caller) -> None:
    name = _name(handle)
    with store.write() as tx:
        current = tx.get(name)
        if current is None:
            raise HandleNotFound(f"{name} is not registered")
        _require(permissions_of(tx, current, caller), AdminPermission.DELETE_HANDLE, caller, f"delete {name}")
        tx.delete(name)


def list_handles(
    store: HandleStore, prefix: str, caller: Caller, *, page: int = 0, page_size: int = 1000
) -> tuple[int, list[str]]:
    """(total, one page of the identifiers under ``prefix``); needs LIST_HANDLES on ``0.NA/<prefix>``."""
    try:
        na = na_handle(prefix)
    except InvalidHandle as exc:
        raise InvalidHandleName(str(exc)) from exc
    if page < 0 or not 0 < page_size <= MAX_PAGE_SIZE:
        raise InvalidValue(f"page is 0 or more and pageSize 1..{MAX_PAGE_SIZE}")
    with store.read() as tx:
        granted = permissions_of(tx, tx.get(na) or [], caller)
        _require(granted, AdminPermission.LIST_HANDLES, caller, f"list the identifiers under {prefix}")
        return tx.list_handles(split(na)[1], page * page_size, page_size)
