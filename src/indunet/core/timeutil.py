"""Time as integers: every timestamp inside indunet is microseconds since the Unix epoch, UTC.

Integers sort, index and compare cheaply in both SQLite and PostgreSQL, and never carry a time zone
that a driver might silently drop. Conversion happens only at the edges (API, CLI, exports).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from indunet.core.errors import InvalidInput

US_PER_S = 1_000_000
US_PER_MS = 1_000

# Epoch numbers below this are taken as seconds, up to _MS_LIMIT as milliseconds, else microseconds.
# 1e11 s is year 5138, so real second-resolution stamps never reach it; 1e14 ms is year 5138 too.
_S_LIMIT = 100_000_000_000
_MS_LIMIT = 100_000_000_000_000

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h|d|w)?\s*$")
_UNIT_US = {
    "us": 1,
    "ms": 1_000,
    "s": US_PER_S,
    "m": 60 * US_PER_S,
    "h": 3600 * US_PER_S,
    "d": 86400 * US_PER_S,
    "w": 7 * 86400 * US_PER_S,
}

# 1970-01-01 .. 2200-01-01: wider than any plant historian needs, narrow enough to catch unit mistakes.
MIN_TS_US = 0
MAX_TS_US = 7_258_118_400 * US_PER_S


def now_us() -> int:
    return time.time_ns() // 1_000


def from_epoch_number(value: int | float) -> int:
    """Epoch seconds, milliseconds or microseconds (told apart by magnitude) to microseconds."""
    magnitude = abs(value)
    if magnitude < _S_LIMIT:
        return round(value * US_PER_S)
    if magnitude < _MS_LIMIT:
        return round(value * US_PER_MS)
    return int(value)


def parse_timestamp(value: object) -> int:
    """An API timestamp (epoch number or RFC 3339 text) to microseconds; InvalidInput otherwise."""
    if isinstance(value, bool):
        raise InvalidInput("timestamp must be a number or RFC 3339 text", key="error.bad_timestamp")
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidInput("timestamp is not finite", key="error.bad_timestamp")
        ts = from_epoch_number(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64:
            raise InvalidInput("timestamp text is empty or too long", key="error.bad_timestamp")
        if _looks_numeric(text):
            return parse_timestamp(float(text) if "." in text else int(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput(f"not an RFC 3339 timestamp: {text!r}", key="error.bad_timestamp") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        delta = parsed - datetime(1970, 1, 1, tzinfo=UTC)
        ts = (delta.days * 86400 + delta.seconds) * US_PER_S + delta.microseconds
    else:
        raise InvalidInput("timestamp must be a number or RFC 3339 text", key="error.bad_timestamp")
    if not MIN_TS_US <= ts <= MAX_TS_US:
        raise InvalidInput("timestamp outside 1970..2200", key="error.bad_timestamp")
    return ts


def _looks_numeric(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    return body.replace(".", "", 1).isdigit()


def parse_duration(value: str) -> int:
    """'500ms', '10s', '5m', '1h', '7d' (or bare seconds) to microseconds."""
    match = _DURATION.match(value)
    if not match:
        raise InvalidInput(f"not a duration: {value!r} (use e.g. 10s, 5m, 1h, 7d)", key="error.bad_duration")
    number, unit = match.groups()
    us = int(float(number) * _UNIT_US[unit or "s"])
    if us <= 0:
        raise InvalidInput("duration must be positive", key="error.bad_duration")
    return us


def to_datetime(ts_us: int) -> datetime:
    return datetime.fromtimestamp(ts_us / US_PER_S, tz=UTC).replace(microsecond=ts_us % US_PER_S)


def to_rfc3339(ts_us: int) -> str:
    """Microsecond timestamps to RFC 3339 with a 'Z', e.g. 2026-11-25T18:44:29.123456Z."""
    return to_datetime(ts_us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
