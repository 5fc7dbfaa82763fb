"""The bus wire format: what a writer decodes is what the transport prepared; garbage is refused."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indunet.bus import TelemetryBatch, decode, encode
from indunet.core.errors import InvalidInput


def _batch(n_rows: int = 3) -> TelemetryBatch:
    rows = [(0, "spindle_speed", 7, 1_764_000_000_000_000 + i, float(i), None) for i in range(n_rows)]
    rows.append((1, "program_name", 9, 1_764_000_000_000_000, None, "O1000"))
    return TelemetryBatch("m1", "tenant-1", 1_764_000_000_000_000, [("d1", "cnc"), ("d2", "cnc")], rows)


def test_round_trip_keeps_every_point() -> None:
    batch = _batch()
    assert decode(encode(batch)) == batch


def test_store_rows_are_what_the_time_series_store_takes() -> None:
    assert _batch(1).store_rows() == [
        (7, 1_764_000_000_000_000, 0.0, None),
        (9, 1_764_000_000_000_000, None, "O1000"),
    ]


def test_split_keeps_all_rows_under_distinct_ids() -> None:
    batch = _batch(10)
    pieces = list(batch.split(4))
    assert [len(p.rows) for p in pieces] == [4, 4, 3]
    assert len({p.msg_id for p in pieces}) == 3
    assert [r for p in pieces for r in p.rows] == batch.rows
    assert [p.msg_id for p in _batch(2).split(4)] == ["m1"]


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"[]",
        b'{"v": 2}',
        b'{"v": 1, "id": "x", "t": "t", "a": 1, "d": [], "r": [[0, "p", 1, 1, 1.0, null]]}',
        b'{"v": 1, "id": "x", "t": "t", "a": 1, "d": [["d", "c"]], "r": [[0, "p", 1, 1, 1.0, "both"]]}',
        b'{"v": 1, "id": "x", "t": "t", "a": 1, "d": [["d", "c"]], "r": [[0, "p", 1, 1.5, 1.0, null]]}',
        b'{"v": 1, "id": "", "t": "t", "a": 1, "d": [], "r": []}',
    ],
)
def test_malformed_messages_are_refused(payload: bytes) -> None:
    with pytest.raises(InvalidInput):
        decode(payload)


@given(st.binary(max_size=512))
def test_any_bytes_decode_or_raise_invalid_input(data: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        decode(data)


@given(
    st.lists(
        st.tuples(
            st.text(max_size=8),
            st.integers(0, 2**62),
            st.integers(0, 2**62),
            st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8)),
        ),
        max_size=20,
    )
)
def test_any_valid_batch_round_trips(items: list[tuple[str, int, int, float | str]]) -> None:
    rows = [
        (
            0,
            point,
            sid,
            ts,
            value if isinstance(value, float) else None,
            value if isinstance(value, str) else None,
        )
        for point, sid, ts, value in items
    ]
    batch = TelemetryBatch("id", "tenant", 1, [("device", "type")], rows)
    assert decode(encode(batch)) == batch
