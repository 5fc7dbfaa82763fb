"""Timestamps at the edges: epoch numbers in s/ms/us, RFC 3339 text, durations, and back to text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from indunet.core.errors import InvalidInput
from indunet.core.timeutil import (
    MAX_TS_US,
    from_epoch_number,
    now_us,
    parse_duration,
    parse_timestamp,
    to_datetime,
    to_rfc3339,
)

# 2023-11-14T22:13:20Z
S = 1_700_000_000
US = S * 1_000_000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (S, US),
        (S * 1000, US),
        (S * 1_000_000, US),
        (S + 0.5, US + 500_000),
        (S * 1000 + 250, US + 250_000),
        (S * 1_000_000 + 7, US + 7),
        (0, 0),
        (1.25, 1_250_000),
    ],
    ids=["s", "ms", "us", "s-fraction", "ms-fraction", "us-exact", "zero", "small-float"],
)
def test_epoch_units_are_told_apart_by_magnitude(value: float, expected: int) -> None:
    assert from_epoch_number(value) == expected
    assert parse_timestamp(value) == expected
    assert parse_timestamp(str(value)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-11-14T22:13:20Z", US),
        ("2023-11-14T22:13:20z", US),
        ("2023-11-14T22:13:20+00:00", US),
        ("2023-11-15T06:13:20+08:00", US),
        ("2023-11-14T17:13:20-05:00", US),
        ("2023-11-14T22:13:20.123456Z", US + 123_456),
        ("2023-11-14T22:13:20.5+00:00", US + 500_000),
        ("2023-11-14 22:13:20Z", US),
        ("2023-11-14T22:13:20", US),  # no offset: taken as UTC
        ("  2023-11-14T22:13:20Z  ", US),
        ("1970-01-01T00:00:00Z", 0),
    ],
)
def test_rfc3339_with_offsets(text: str, expected: int) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        None,
        [S],
        {"ts": S},
        "",
        "   ",
        "yesterday",
        "2023-13-01T00:00:00Z",
        "2023-11-14T25:00:00Z",
        "2023-11-14T22:13:20+25:00",
        "1e9",
        "0x6553f100",
        "2" * 65,
        float("nan"),
        float("inf"),
        float("-inf"),
        "nan",
        -1,
        "-1",
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:01Z",
        10**20,
    ],
    ids=lambda v: repr(v)[:30],
)
def test_bad_timestamps_are_invalid_input(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_timestamp(value)
    assert caught.value.key == "error.bad_timestamp"


def test_the_range_ends_are_accepted() -> None:
    assert parse_timestamp("2200-01-01T00:00:00Z") == MAX_TS_US
    assert parse_timestamp(MAX_TS_US) == MAX_TS_US


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250us", 250),
        ("500ms", 500_000),
        ("10s", 10_000_000),
        ("1.5s", 1_500_000),
        ("5m", 300_000_000),
        ("1h", 3_600_000_000),
        ("7d", 604_800_000_000),
        ("2w", 1_209_600_000_000),
        ("30", 30_000_000),
        (" 15 m ", 900_000_000),
    ],
)
def test_durations(text: str, expected: int) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "0s", "0", "0.0000001s", "-5s", "5 minutes", "5M", "1h30m", "s", "1.2.3s", "ten"]
)
def test_bad_durations_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_duration(text)
    assert caught.value.key == "error.bad_duration"


def test_rfc3339_rendering() -> None:
    assert to_rfc3339(0) == "1970-01-01T00:00:00.000000Z"
    assert to_rfc3339(US + 42) == "2023-11-14T22:13:20.000042Z"
    assert to_datetime(US + 42) == datetime(2023, 11, 14, 22, 13, 20, 42, tzinfo=UTC)


def test_now_is_now() -> None:
    before = datetime.now(UTC)
    now = to_datetime(now_us())
    after = datetime.now(UTC)
    assert before - timedelta(microseconds=1) <= now <= after + timedelta(microseconds=1)


@given(st.integers(min_value=0, max_value=MAX_TS_US))
@example(MAX_TS_US)
@example(MAX_TS_US - 1)
@example(999_999)
@example(7_258_118_399_999_999)
def test_rfc3339_round_trip(ts: int) -> None:
    text = to_rfc3339(ts)
    assert parse_timestamp(text) == ts
    assert to_datetime(ts) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts)


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2199, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
        ),
    )
)
def test_any_offset_parses_to_the_same_instant(moment: datetime) -> None:
    expected = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert parse_timestamp(moment.isoformat()) == expected
    assert parse_timestamp(to_rfc3339(expected)) == expected
