"""S7 address parsing, value coding and read planning: spec vectors and property tests."""

from __future__ import annotations

import contextlib
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indunet.edge.drivers import s7_codec
from indunet.edge.drivers.s7_codec import Address, decode, encode, pack, parse_address, plan


def test_addresses_in_siemens_notation() -> None:
    assert parse_address("DB1.DBX0.3") == Address("DB", 1, 0, 3, "bool")
    assert parse_address("db12.dbb2") == Address("DB", 12, 2, 0, "byte")
    assert parse_address("DB1.DBW4", "int") == Address("DB", 1, 4, 0, "int")
    assert parse_address("DB1.DBD8") == Address("DB", 1, 8, 0, "real")
    assert parse_address("DB1.DBD8", "dint").type == "dint"
    assert parse_address("M10.1") == Address("M", 0, 10, 1, "bool")
    assert parse_address("MW20", "word") == Address("M", 0, 20, 0, "word")
    assert parse_address("MD24", "dword").size == 4
    assert parse_address("IW0").area == "I"
    assert parse_address("EW0").area == "I"
    assert parse_address("QX0.0") == Address("Q", 0, 0, 0, "bool")
    assert parse_address("AB3").area == "Q"
    assert parse_address("DB1.DBB32", "lreal").size == 8
    string = parse_address("DB1.DBB70", "string", 32)
    assert (string.size, string.length) == (34, 32)
    assert parse_address("DB1.DBB0", "string").length == 254


@pytest.mark.parametrize(
    ("text", "kind", "length"),
    [
        ("", None, None),
        ("DB0.DBB0", None, None),
        ("DB1.DBX0", None, None),  # bit number missing
        ("DB1.DBX0.8", None, None),
        ("DB1.DBB0.1", None, None),
        ("DB1.DBW0", "real", None),  # 2-byte address for a 4-byte type
        ("DB1.DBD0", "bool", None),
        ("DB1.DBX0.0", "int", None),
        ("DB1.DBB0", "float", None),
        ("DB1.DBB0", "string", 255),
        ("DB1.DBB0", "int", 4),
        ("DB1.DBB65535", "lreal", None),
        ("Z10", None, None),
        ("DB1.DBD99999", None, None),
        ("X" * 100, None, None),
    ],
)
def test_bad_addresses_are_refused(text: str, kind: str | None, length: int | None) -> None:
    with pytest.raises(ValueError):
        parse_address(text, kind, length)


def test_spec_vectors() -> None:
    real = parse_address("DB1.DBD0")
    assert encode(real, 1.0) == bytes.fromhex("3F800000")
    assert decode(real, bytes.fromhex("3F800000")) == 1.0
    assert decode(real, bytes.fromhex("C2C80000")) == -100.0
    assert encode(parse_address("DB1.DBB0", "lreal"), 1.0) == bytes.fromhex("3FF0000000000000")
    assert encode(parse_address("DB1.DBW0", "int"), -2) == b"\xff\xfe"
    assert decode(parse_address("DB1.DBW0", "word"), b"\xff\xfe") == 0xFFFE
    assert decode(parse_address("DB1.DBD0", "dint"), b"\x80\x00\x00\x00") == -(2**31)
    assert encode(parse_address("DB1.DBB0", "string", 8), "FIT") == b"\x08\x03FIT\x00\x00\x00\x00\x00"
    assert decode(parse_address("DB1.DBB0", "string", 8), b"\x08\x03FIT\x00\x00\x00\x00\x00") == "FIT"


def test_bits_change_only_their_own_bit() -> None:
    bit = parse_address("DB1.DBX4.3")
    assert encode(bit, True, b"\x81") == b"\x89"
    assert encode(bit, False, b"\xff") == b"\xf7"
    assert decode(bit, b"\x08") is True
    assert decode(bit, b"\xf7") is False


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("DB1.DBB0", "byte", 256),
        ("DB1.DBB0", "byte", -1),
        ("DB1.DBW0", "int", 32_768),
        ("DB1.DBW0", "word", -1),
        ("DB1.DBD0", "dint", 2**31),
        ("DB1.DBD0", "dword", 2**32),
        ("DB1.DBD0", "real", 1e39),
        ("DB1.DBD0", "real", math.nan),
        ("DB1.DBD0", "real", "1.0"),
        ("DB1.DBW0", "int", 1.5),
        ("DB1.DBW0", "int", True),
        ("DB1.DBX0.0", "bool", 2),
    ],
)
def test_values_out_of_range_are_refused(text: str, kind: str, value: object) -> None:
    with pytest.raises(ValueError):
        encode(parse_address(text, kind), value)  # type: ignore[arg-type]


def test_string_limits() -> None:
    address = parse_address("DB1.DBB0", "string", 4)
    with pytest.raises(ValueError):
        encode(address, "12345")
    with pytest.raises(ValueError):
        encode(address, "水")
    # A header claiming more than was read must not run past the buffer.
    assert decode(address, b"\xfe\xfeabcd") == "abcd"


INT_TYPES = {"byte": (0, 255), "int": (-32768, 32767), "word": (0, 65535), "dint": (-(2**31), 2**31 - 1)}
LETTER = {"byte": "B", "int": "W", "word": "W", "dint": "D", "dword": "D"}


@given(st.sampled_from(sorted(INT_TYPES)), st.data())
def test_integers_round_trip(kind: str, data: st.DataObject) -> None:
    low, high = INT_TYPES[kind]
    value = data.draw(st.integers(low, high))
    address = parse_address(f"DB3.DB{LETTER[kind]}10", kind)
    assert decode(address, encode(address, value)) == value


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_reals_round_trip(value: float) -> None:
    # A REAL reads back as the shortest decimal of the same float32: the same bytes again.
    address = parse_address("MD0", "real")
    data = encode(address, value)
    assert encode(address, decode(address, data)) == data


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_lreals_round_trip(value: float) -> None:
    address = parse_address("DB1.DBB0", "lreal")
    assert decode(address, encode(address, value)) == value


@given(st.text(alphabet=st.characters(max_codepoint=255), max_size=40))
def test_strings_round_trip(text: str) -> None:
    address = parse_address("DB1.DBB0", "string", 40)
    assert decode(address, encode(address, text)) == text


@given(st.binary(min_size=0, max_size=300), st.sampled_from(s7_codec.TYPES))
def test_decode_never_crashes(data: bytes, kind: str) -> None:
    text = "DB1.DBX0.1" if kind == "bool" else f"DB1.DB{LETTER.get(kind, 'B')}0"
    if kind == "real":
        text = "DB1.DBD0"
    address = parse_address(text, kind, 20 if kind == "string" else None)
    if len(data) != address.size:
        with pytest.raises(ValueError):
            decode(address, data)
    else:
        decode(address, data)


@given(st.text(max_size=80))
def test_parse_never_crashes(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_address(text)


def test_plan_coalesces_neighbours_and_splits_areas() -> None:
    addresses = [
        parse_address("DB1.DBD0"),
        parse_address("DB1.DBD4"),
        parse_address("DB1.DBX60.1"),
        parse_address("DB2.DBD0"),
        parse_address("M0.0"),
        parse_address("DB1.DBD8"),
    ]
    blocks = plan(addresses, max_bytes=462, max_gap=64)
    assert [(b.area, b.db, b.start, b.size) for b in blocks] == [
        ("M", 0, 0, 1),
        ("DB", 1, 0, 61),
        ("DB", 2, 0, 4),
    ]
    assert blocks[1].members == (0, 1, 2, 5)
    # Without tolerance for the gap, DB1 splits at the unused bytes 12..59.
    assert len(plan(addresses, max_bytes=462, max_gap=0)) == 4


def test_plan_respects_the_pdu() -> None:
    addresses = [parse_address(f"DB1.DBD{offset}") for offset in range(0, 1000, 4)]
    blocks = plan(addresses, s7_codec.max_read_bytes(480), 0)
    assert s7_codec.max_read_bytes(480) == 462
    assert all(block.size <= 462 for block in blocks)
    assert sum(len(block.members) for block in blocks) == len(addresses)
    assert len(blocks) == 3


@given(
    st.lists(
        st.tuples(st.integers(1, 3), st.integers(0, 2000), st.sampled_from(["real", "byte", "lreal"])),
        max_size=60,
    ),
    st.integers(20, 500),
    st.integers(0, 40),
)
def test_plan_covers_every_point_within_limits(
    points: list[tuple[int, int, str]], limit: int, gap: int
) -> None:
    letters = {"real": "D", "byte": "B", "lreal": "B"}
    addresses = [parse_address(f"DB{db}.DB{letters[kind]}{start}", kind) for db, start, kind in points]
    blocks = plan(addresses, limit, gap)
    covered = sorted(i for block in blocks for i in block.members)
    assert covered == list(range(len(addresses)))
    for block in blocks:
        assert block.size <= limit
        for index in block.members:
            address = addresses[index]
            assert (address.area, address.db) == (block.area, block.db)
            assert block.start <= address.start and address.start + address.size <= block.start + block.size
    for group in pack(blocks, 240):
        assert len(group) <= 20
        assert sum(4 + b.size + (b.size & 1) for b in group) <= 240 - 14 or len(group) == 1


def test_block_slices_its_members() -> None:
    addresses = [parse_address("DB1.DBD4"), parse_address("DB1.DBW10", "int")]
    (block,) = plan(addresses, 462, 8)
    raw = bytes(4) + struct.pack(">f", 2.5) + bytes(2) + struct.pack(">h", -7)
    raw = raw[block.start :]
    assert decode(addresses[0], block.slice(addresses[0], raw)) == 2.5
    assert decode(addresses[1], block.slice(addresses[1], raw)) == -7
