"""A node's first records: the prefix record ``0.NA/<prefix>`` with its administrator and secret key.

``indunet idr serve --prefix 88.100.1 --admin-secret S`` makes sure that ``0.NA/88.100.1`` holds
an HS_ADMIN (index 100) granting every permission to ``300:0.NA/88.100.1``, and the administrator's
HS_SECKEY at index 300 (readable by administrators only), so that Handle.Net clients and pyhandle
authenticate as ``300:0.NA/88.100.1``. A changed secret replaces the stored one; other values of the
record are left as they are.
"""

from __future__ import annotations

from indunet.idr import records
from indunet.idr.model import HS_ADMIN, HS_SECKEY, HandleValue, Permission, na_handle
from indunet.idr.store import HandleStore
from indunet.idr.wire.values import AdminPermission, AdminRecord, encode_admin

ADMIN_INDEX = 100
SECRET_INDEX = 300


def prefix_record(prefix: str, secret: bytes) -> tuple[str, list[HandleValue]]:
    na = na_handle(prefix)
    return na, [
        HandleValue(
            ADMIN_INDEX, HS_ADMIN, encode_admin(AdminRecord(AdminPermission.all(), na, SECRET_INDEX))
        ),
        HandleValue(
            SECRET_INDEX, HS_SECKEY, secret, permissions=Permission.ADMIN_READ | Permission.ADMIN_WRITE
        ),
    ]


def ensure_prefix(store: HandleStore, prefix: str, secret: bytes) -> str:
    """Create or update ``0.NA/<prefix>`` with its administrator; the record's name."""
    na, values = prefix_record(prefix, secret)
    try:
        records.create_handle(store, na, values, records.SYSTEM)
    except records.HandleAlreadyExists:
        records.put_values(store, na, values, records.SYSTEM, overwrite=True)
    return na
