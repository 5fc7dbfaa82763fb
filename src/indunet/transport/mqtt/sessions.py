"""Session state kept between connections of one client (MQTT 5 clean start and session expiry).

The server is not a general broker, so a session is only the client's subscriptions: what it asked to
be told about (shared attributes, RPC requests). Sessions are bounded per device so a client inventing
client ids cannot grow the server's memory without limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_SESSIONS_PER_DEVICE = 8
NEVER_EXPIRES = 0xFFFFFFFF


@dataclass(slots=True)
class Session:
    subscriptions: dict[str, int] = field(default_factory=dict)
    expires_at: float = 0.0


class SessionStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_device: dict[str, dict[str, Session]] = {}

    def resume(self, device_id: str, client_id: str, clean_start: bool) -> Session | None:
        """The stored session to continue, or None (and forget any) when the client asked for a new one."""
        sessions = self._by_device.get(device_id, {})
        session = sessions.pop(client_id, None)
        if clean_start or session is None or session.expires_at < self._clock():
            return None
        return session

    def keep(self, device_id: str, client_id: str, session: Session, expiry_s: int) -> None:
        if expiry_s <= 0:
            return
        session.expires_at = float("inf") if expiry_s == NEVER_EXPIRES else self._clock() + expiry_s
        sessions = self._by_device.setdefault(device_id, {})
        sessions[client_id] = session
        while len(sessions) > MAX_SESSIONS_PER_DEVICE:
            del sessions[min(sessions, key=lambda key: sessions[key].expires_at)]
