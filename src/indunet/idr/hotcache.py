"""Redis as the hot record cache of identifier nodes in server mode.

Several nodes (machines or processes) serving one PostgreSQL store share a Redis: a record read from
the database is kept there (encoded as on the wire) for ``ttl_s``, "not registered" for a shorter
``negative_ttl_s``, and every write through indunet deletes the changed identifiers' entries after its
commit, and once more half a second later: a reader that fetched the old record just before the commit
and stored it just after is undone by the second deletion. A record is therefore at most half a second
stale in the worst race, and usually not at all.

Redis failing is not the store failing: an unreachable Redis is skipped (and tried again after a
pause), so resolution goes on from the database.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from typing import Final

import redis

from indunet.idr.model import HandleValue
from indunet.idr.wire.errors import WireError
from indunet.idr.wire.primitives import Reader, Writer
from indunet.idr.wire.values import read_values, write_values

log = logging.getLogger(__name__)

NOT_REGISTERED: Final = b"\x00"
"""The entry of an identifier the store does not hold (a record encoding is never one octet)."""
RETRY_AFTER_S: Final = 5.0
SECOND_DELETE_S: Final = 0.5


class Missing:
    """Cached: the identifier is not registered."""


MISSING: Final = Missing()


class RedisRecords:
    def __init__(
        self,
        url: str,
        store_identity: str,
        *,
        ttl_s: int = 300,
        negative_ttl_s: int = 30,
        timeout_s: float = 0.2,
    ) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        digest = hashlib.sha256(store_identity.encode()).hexdigest()[:16]
        self.prefix = f"indunet:idr:{digest}:"
        self.ttl_s = ttl_s
        self.negative_ttl_s = negative_ttl_s
        self._down_until = 0.0

    def _usable(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        if self._usable():
            log.warning("Redis unreachable (%s); resolving from the store for %g s", exc, RETRY_AFTER_S)
        self._down_until = time.monotonic() + RETRY_AFTER_S

    def get(self, handle: str) -> list[HandleValue] | Missing | None:
        """The cached record, MISSING when cached as not registered, None when not cached."""
        if not self._usable():
            return None
        try:
            data = self._redis.get(self.prefix + handle)
        except redis.RedisError as exc:
            self._failed(exc)
            return None
        if not isinstance(data, bytes):
            return None  # nothing, or not ours
        if data == NOT_REGISTERED:
            return MISSING
        try:
            return list(read_values(Reader(data)))
        except WireError:
            return None  # written by something else: read the store

    def put(self, handle: str, record: list[HandleValue] | None) -> None:
        if not self._usable():
            return
        if record is None:
            data, ttl = NOT_REGISTERED, self.negative_ttl_s
        else:
            writer = Writer()
            write_values(writer, tuple(record))
            data, ttl = writer.getvalue(), self.ttl_s
        try:
            self._redis.set(self.prefix + handle, data, ex=ttl)
        except redis.RedisError as exc:
            self._failed(exc)

    def forget(self, handles: Iterable[str], *, again: bool = True) -> None:
        names = list(handles)
        keys = [self.prefix + h for h in names]
        if not keys:
            return
        try:
            self._redis.delete(*keys)
        except redis.RedisError as exc:
            self._failed(exc)
        if again:
            timer = threading.Timer(SECOND_DELETE_S, self.forget, (names,), {"again": False})
            timer.daemon = True
            timer.start()

    def close(self) -> None:
        self._redis.close()
