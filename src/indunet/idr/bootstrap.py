"""A node's first records: the prefix record ``0.NA/<prefix>`` with its administrator and secret key.

``indunet idr serve --prefix 88.100.1 --admin-secret S`` makes sure that ``0.NA/88.100.1`` holds
an HS_ADMIN (index 100) granting every permission to ``300:0.NA/88.100.1``, and the administrator's
HS_SECKEY at index 300 (readable by administrators only), so that Handle.Net clients and pyhandle
authenticate as ``300:0.NA/88.100.1``. A changed secret replaces the stored one; other values of the
record are left as they are. With ``site`` the record also says where the node itself answers.

A prefix allocated to another node is the record :func:`delegation_record` builds at the allocating
node: the delegate's sites (HS_SITE, one per replica) and its administrator ``300:0.NA/<prefix>``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from indunet.idr import records
from indunet.idr.model import HS_ADMIN, HS_PUBKEY, HS_SECKEY, NA_PREFIX, HandleValue, Permission, na_handle
from indunet.idr.sites import site_values
from indunet.idr.store import HandleStore
from indunet.idr.wire.values import AdminPermission, AdminRecord, SiteInfo, encode_admin

ADMIN_INDEX = 100
SECRET_INDEX = 300
KEY_INDEX = 301


def _admin_of(na: str, index: int, key_index: int) -> HandleValue:
    return HandleValue(index, HS_ADMIN, encode_admin(AdminRecord(AdminPermission.all(), na, key_index)))


def _admin(na: str, index: int = ADMIN_INDEX) -> HandleValue:
    return HandleValue(index, HS_ADMIN, encode_admin(AdminRecord(AdminPermission.all(), na, SECRET_INDEX)))


def prefix_record(prefix: str, secret: bytes, site: SiteInfo | None = None) -> tuple[str, list[HandleValue]]:
    na = na_handle(prefix)
    own_site = site_values([site]) if site is not None else []
    return na, [
        *own_site,
        _admin(na),
        HandleValue(
            SECRET_INDEX, HS_SECKEY, secret, permissions=Permission.ADMIN_READ | Permission.ADMIN_WRITE
        ),
    ]


def delegation_record(prefix: str, sites: Sequence[SiteInfo]) -> tuple[str, list[HandleValue]]:
    """The record of ``prefix`` at the node that allocated it to other sites: administered by the
    prefix's own administrator and by the allocating prefix's (who moves or revokes it)."""
    na = na_handle(prefix)
    parent = prefix.rsplit(".", 1)[0] if "." in prefix else NA_PREFIX
    return na, [*site_values(sites), _admin(na), _admin(na_handle(parent), ADMIN_INDEX + 1)]


def ensure_prefix(
    store: HandleStore,
    prefix: str,
    secret: bytes,
    site: SiteInfo | None = None,
    public_key: bytes | None = None,
) -> str:
    """Create or update ``0.NA/<prefix>`` with its administrator; the record's name. With
    ``public_key`` (HS_PUBKEY data) a second administrator ``301:0.NA/<prefix>`` proves itself by
    signing with the matching private key."""
    na, values = prefix_record(prefix, secret, site)
    if public_key is not None:
        values += [
            _admin_of(na, ADMIN_INDEX + 1, KEY_INDEX),
            HandleValue(KEY_INDEX, HS_PUBKEY, public_key),
        ]
    try:
        records.create_handle(store, na, values, records.SYSTEM)
    except records.HandleAlreadyExists:
        records.put_values(store, na, values, records.SYSTEM, overwrite=True)
    return na


def ensure_prefix_record(store: HandleStore, prefix: str) -> str:
    """Create ``0.NA/<prefix>`` with its administrator when missing (no secret key: for a process
    that administers the store directly); an existing record is left as it is."""
    na = na_handle(prefix)
    with contextlib.suppress(records.HandleAlreadyExists):
        records.create_handle(store, na, [_admin(na)], records.SYSTEM)
    return na
