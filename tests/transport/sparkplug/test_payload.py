"""The Sparkplug B payload codec: spec vectors, round trips and malformed input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indunet.transport.sparkplug.payload import (
    MAX_PAYLOAD_BYTES,
    DataType,
    Metric,
    Payload,
    PayloadError,
    decode_payload,
    encode_payload,
)

# timestamp=1, metric{name="a", alias=1, datatype=Int32, int_value=-1 as uint32}, seq=2, built by hand
# from sparkplug_b.proto field numbers.
VECTOR = bytes.fromhex("08 01 12 0d 0a 01 61 10 01 20 03 50 ff ff ff ff 0f 18 02".replace(" ", ""))


def test_decodes_a_hand_built_vector() -> None:
    payload = decode_payload(VECTOR)
    assert payload.timestamp == 1
    assert payload.seq == 2
    (metric,) = payload.metrics
    assert (metric.name, metric.alias, metric.datatype, metric.value) == ("a", 1, DataType.INT32, -1)


def test_encodes_the_same_vector() -> None:
    metric = Metric(name="a", alias=1, datatype=DataType.INT32, value=-1)
    assert encode_payload(Payload(timestamp=1, metrics=(metric,), seq=2)) == VECTOR


def test_float_double_bool_string_and_properties() -> None:
    metrics = (
        Metric(name="f", datatype=DataType.FLOAT, value=1.5, properties={"engUnit": "rpm"}),
        Metric(name="d", datatype=DataType.DOUBLE, value=-2.25),
        Metric(name="b", datatype=DataType.BOOLEAN, value=True),
        Metric(name="s", datatype=DataType.STRING, value="程序"),
        Metric(name="i64", datatype=DataType.INT64, value=-(2**63)),
        Metric(name="u64", datatype=DataType.UINT64, value=2**64 - 1),
        Metric(name="n", datatype=DataType.INT16, is_null=True),
    )
    decoded = decode_payload(encode_payload(Payload(metrics=metrics, seq=0)))
    assert decoded.metrics == metrics


def test_unknown_fields_and_extensions_are_skipped() -> None:
    extra = bytes.fromhex("3a 02 68 69") + bytes.fromhex("45 00 00 00 00")  # field 7 bytes, field 8 fixed32
    assert decode_payload(VECTOR + extra).metrics == decode_payload(VECTOR).metrics


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x08", "truncated varint"),
        (b"\x12\x05\x0a", "runs past its end"),
        (b"\x08" + b"\xff" * 11, "longer than 10 bytes"),
        (b"\x33", "unsupported wire type 3"),
        (b"\x22\x01\xff", "not UTF-8"),
        (b"\x00\x00", "field number 0"),
        (b"\x0a\x01a", "wire type 2, expected 0"),
        (b"\x12\x04\x65\x00\x00\x80", "truncated 32-bit"),
    ],
)
def test_malformed_payloads_name_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        decode_payload(data)


def test_oversized_payload_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadError, match="limit"):
        decode_payload(b"\x00" * (MAX_PAYLOAD_BYTES + 1))


def _text(size: int) -> st.SearchStrategy[str]:
    # Lone surrogates cannot be UTF-8 on the wire at all.
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=size)


def _metric_for(datatype: DataType) -> st.SearchStrategy[Metric]:
    values: dict[DataType, st.SearchStrategy[object]] = {
        DataType.INT8: st.integers(-(2**7), 2**7 - 1),
        DataType.INT16: st.integers(-(2**15), 2**15 - 1),
        DataType.INT32: st.integers(-(2**31), 2**31 - 1),
        DataType.INT64: st.integers(-(2**63), 2**63 - 1),
        DataType.UINT8: st.integers(0, 2**8 - 1),
        DataType.UINT16: st.integers(0, 2**16 - 1),
        DataType.UINT32: st.integers(0, 2**32 - 1),
        DataType.UINT64: st.integers(0, 2**64 - 1),
        DataType.FLOAT: st.floats(width=32, allow_nan=False),
        DataType.DOUBLE: st.floats(allow_nan=False),
        DataType.BOOLEAN: st.booleans(),
        DataType.STRING: _text(20),
    }
    return st.builds(
        Metric,
        name=st.none() | _text(10),
        alias=st.none() | st.integers(0, 2**64 - 1),
        timestamp=st.none() | st.integers(0, 2**64 - 1),
        datatype=st.just(datatype),
        value=values[datatype],
        properties=st.dictionaries(_text(5), st.integers(-5, 5) | _text(5), max_size=3),
    )


payloads = st.builds(
    Payload,
    timestamp=st.none() | st.integers(0, 2**64 - 1),
    metrics=st.lists(st.sampled_from(list(DataType)[1:13]).flatmap(_metric_for), max_size=6).map(tuple),
    seq=st.none() | st.integers(0, 255),
    uuid=st.none() | _text(8),
    body=st.none() | st.binary(max_size=16),
)


@given(payloads)
def test_round_trip(payload: Payload) -> None:
    assert decode_payload(encode_payload(payload)) == payload


@given(payloads, st.data())
def test_every_truncation_is_an_error_or_a_shorter_payload(payload: Payload, data: st.DataObject) -> None:
    encoded = encode_payload(payload)
    cut = data.draw(st.integers(0, max(len(encoded) - 1, 0)))
    with contextlib.suppress(PayloadError):
        decode_payload(encoded[:cut])


@given(st.binary(max_size=256))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(PayloadError):
        decode_payload(data)
