"""The platform's running state: database handles, the token codec and the hot-path caches.

One ``Platform`` is built at start-up from the settings and handed to every service function. Caches
here hold only what can be rebuilt from the database; a write through the services invalidates the
entries it affects, and machine-credential entries expire after ``_CREDENTIAL_TTL_S`` so a revocation
made by another process takes effect within that time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import Engine, bindparam, event, update
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DataError, OperationalError

from indunet.core.config import Settings
from indunet.core.errors import InvalidInput, StorageError
from indunet.security import AccessTokenCodec, Principal
from indunet.store.engine import create_metadata_engine, upgrade
from indunet.store.metadata import devices
from indunet.store.timeseries import TimeseriesStore, open_timeseries

if TYPE_CHECKING:
    from indunet.platform.identifiers import Identifiers
    from indunet.platform.models import Validator

_CREDENTIAL_TTL_S = 30.0


def _translate_database_error(context: ExceptionContext) -> None:
    """Database errors that are not bugs become indunet errors, once, here.

    A value the database refuses as data (SQLSTATE class 22) came from the caller: it is their error
    (the usual one is text PostgreSQL cannot store). A database that is down, out of connections or
    locked for too long is a passing failure of the system (503, worth a retry), not a crash.
    """
    error = context.sqlalchemy_exception
    reason = str(context.original_exception).strip().splitlines()[0] if context.original_exception else ""
    if isinstance(error, DataError):
        raise InvalidInput(f"the database refused a value: {reason}", key="error.bad_value") from None
    if isinstance(error, OperationalError):
        raise StorageError(f"database unavailable: {reason}", key="error.storage") from error


class StoredSample(NamedTuple):
    """One point as committed, handed to telemetry listeners (rules, alarms, live views).

    A named tuple rather than a frozen dataclass: one is built per stored point, and a tuple is the
    cheapest immutable record Python makes."""

    tenant_id: str
    device_id: str
    type_name: str
    point: str
    ts_us: int
    num: float | None
    text: str | None


TelemetryListener = Callable[[list[StoredSample]], None]


@dataclass(frozen=True, slots=True)
class DeviceRef:
    id: str
    tenant_id: str
    name: str
    type_name: str


@dataclass(slots=True)
class _Presence:
    """Last-seen times reported by telemetry, written to the database in batches, not per message."""

    pending: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    offline: set[str] = field(default_factory=set)
    """Devices a transport saw go away (death, disconnect) since they last sent anything."""
    lock: threading.Lock = field(default_factory=threading.Lock)


class Platform:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine = create_metadata_engine(settings.metadata_url, settings.database_schema)
        event.listen(self.engine, "handle_error", _translate_database_error)
        options = {"schema": settings.database_schema} if settings.is_postgres else {}
        self.timeseries: TimeseriesStore = open_timeseries(settings.timeseries_url, **options)
        self.tokens = AccessTokenCodec(
            settings.resolved_jwt_secret(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_s=settings.access_token_ttl_s,
        )
        self.types: dict[tuple[str, str], Validator] = {}
        self.devices_by_name: dict[tuple[str, str], DeviceRef] = {}
        self.devices_by_id: dict[str, DeviceRef] = {}
        self.series_ids: dict[tuple[str, str], int] = {}
        self._credentials: dict[str, tuple[str, Principal, float]] = {}
        self._presence = _Presence()
        # Called, in the ingesting thread, after each batch is committed; must be quick and not raise.
        self.telemetry_listeners: list[TelemetryListener] = []
        self.cache_lock = threading.Lock()
        # Imported here: identifier services pull in the protocol stack, which most entry points skip.
        from indunet.platform.identifiers import open_identifiers

        self.identifiers: Identifiers | None = open_identifiers(settings)

    # -- machine credentials -------------------------------------------------------------------------
    def cached_credential(self, token_id: str, token: str) -> Principal | None:
        entry = self._credentials.get(token_id)
        if entry is None:
            return None
        digest, principal, expires = entry
        if expires < time.monotonic() or digest != hashlib.sha256(token.encode()).hexdigest():
            return None
        return principal

    def remember_credential(self, token_id: str, token: str, principal: Principal) -> None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        self._credentials[token_id] = (digest, principal, time.monotonic() + _CREDENTIAL_TTL_S)

    def forget_credential(self, token_id: str) -> None:
        self._credentials.pop(token_id, None)

    # -- device cache --------------------------------------------------------------------------------
    def forget_device(self, ref: DeviceRef) -> None:
        with self.cache_lock:
            self.devices_by_id.pop(ref.id, None)
            self.devices_by_name.pop((ref.tenant_id, ref.name), None)
            for key in [k for k in self.series_ids if k[0] == ref.id]:
                del self.series_ids[key]

    def forget_type(self, tenant_id: str, name: str) -> None:
        with self.cache_lock:
            self.types.pop((tenant_id, name), None)

    # -- presence ------------------------------------------------------------------------------------
    def mark_seen(self, device_id: str, ts_us: int) -> None:
        presence = self._presence
        with presence.lock:
            presence.offline.discard(device_id)
            if ts_us > presence.seen.get(device_id, 0):
                presence.seen[device_id] = ts_us
                presence.pending[device_id] = ts_us

    def mark_offline(self, device_id: str) -> None:
        """The device is offline at once (a transport saw it die), not only after ``offline_after_s``;
        it is online again with the next data it sends. Kept in this process, like last-seen times."""
        with self._presence.lock:
            self._presence.offline.add(device_id)

    def marked_offline(self, device_id: str) -> bool:
        return device_id in self._presence.offline

    def last_seen(self, device_id: str) -> int | None:
        return self._presence.seen.get(device_id)

    def flush_presence(self) -> int:
        """Write pending last-seen times; only ever moves a device's last_seen forward."""
        presence = self._presence
        with presence.lock:
            pending, presence.pending = presence.pending, {}
        if not pending:
            return 0
        stmt = (
            update(devices)
            .where(devices.c.id == bindparam("device_id"))
            .where((devices.c.last_seen.is_(None)) | (devices.c.last_seen < bindparam("seen")))
            .values(last_seen=bindparam("seen"))
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, [{"device_id": k, "seen": v} for k, v in pending.items()])
        return len(pending)

    def close(self) -> None:
        if self.identifiers is not None:
            self.identifiers.close()
            self.identifiers.store.close()
        self.flush_presence()
        self.timeseries.close()
        self.engine.dispose()


def open_platform(settings: Settings) -> Platform:
    """A platform whose schemas are up to date: metadata migrated to every head, time-series tables made.

    Both steps are idempotent, so every entry point (CLI, server, tests, benchmarks) can start here.
    """
    engine = create_metadata_engine(settings.metadata_url, settings.database_schema)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    platform = Platform(settings)
    try:
        platform.timeseries.ensure_schema()
    except BaseException:
        platform.close()
        raise
    return platform
