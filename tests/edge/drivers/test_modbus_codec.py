from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.edge.drivers.modbus_codec import (
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    AddressError,
    Kind,
    Order,
    PointAddress,
    Table,
    parse_address,
    plan_reads,
)
from indunet.platform.models import DataType

ORDERS = [(b, w) for b in Order for w in Order]


def point(kind: str, address: int = 0, table: str = "holding", **extra: Any) -> PointAddress:
    return parse_address({"table": table, "address": address, "type": kind, **extra})


@pytest.mark.parametrize(
    ("kind", "byte_order", "word_order", "value", "words"),
    [
        ("float32", "big", "big", 1.0, [0x3F80, 0x0000]),
        ("float32", "big", "little", 1.0, [0x0000, 0x3F80]),
        ("float32", "little", "big", 1.0, [0x803F, 0x0000]),
        ("float32", "little", "little", 1.0, [0x0000, 0x803F]),
        ("float32", "big", "big", -2.5, [0xC020, 0x0000]),
        ("int16", "big", "big", -1, [0xFFFF]),
        ("int16", "little", "big", 0x1234, [0x3412]),
        ("uint16", "big", "big", 65535, [0xFFFF]),
        ("int32", "big", "big", -2, [0xFFFF, 0xFFFE]),
        ("uint32", "big", "big", 0x12345678, [0x1234, 0x5678]),
        ("uint32", "big", "little", 0x12345678, [0x5678, 0x1234]),
        ("uint32", "little", "little", 0x12345678, [0x7856, 0x3412]),
        ("float64", "big", "big", 1.0, [0x3FF0, 0, 0, 0]),
        ("float64", "big", "little", 1.0, [0, 0, 0, 0x3FF0]),
    ],
)
def test_spec_vectors(kind: str, byte_order: str, word_order: str, value: Any, words: list[int]) -> None:
    p = point(kind, byte_order=byte_order, word_order=word_order)
    assert p.encode(value) == words
    assert p.decode(words) == value


def test_strings_pack_two_characters_per_register_and_trim_at_nul() -> None:
    p = point("string", length=4)
    assert p.encode("ABC") == [0x4142, 0x4300, 0, 0]
    assert p.decode([0x4142, 0x4300, 0x4445, 0]) == "ABC"
    swapped = point("string", length=2, byte_order="little")
    assert swapped.encode("ABC") == [0x4241, 0x0043]
    assert swapped.decode([0x4241, 0x0043]) == "ABC"
    utf8 = point("string", length=3, encoding="utf-8")
    assert utf8.decode(utf8.encode("泵1")) == "泵1"


def test_bits_of_registers_and_bit_tables() -> None:
    bit5 = point("bool", bit=5)
    assert bit5.decode([0b100000]) is True
    assert bit5.decode([0b011111]) is False
    coil = parse_address({"table": "coil", "address": 7})
    assert coil.kind is Kind.BOOL and coil.raw_type is DataType.BOOL
    assert coil.decode([1]) is True
    assert coil.encode(False) == [0]


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("int16", 32768),
        ("int16", -32769),
        ("uint16", -1),
        ("uint16", 65536),
        ("int32", 2**31),
        ("uint32", -1),
        ("uint32", 2**32),
        ("float32", 1e39),
        ("uint16", 1.5),
        ("uint16", True),
        ("uint16", "12"),
        ("float32", "1.0"),
        ("bool", 1),
    ],
)
def test_encode_rejects_values_the_type_cannot_hold(kind: str, value: Any) -> None:
    p = point(kind, bit=0) if kind == "bool" else point(kind)
    with pytest.raises(ValueError):
        p.encode(value)


def test_encode_rejects_strings_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        point("string", length=2).encode("ABCDE")
    with pytest.raises(ValueError, match="not ascii"):
        point("string", length=2).encode("é")
    with pytest.raises(ValueError, match="NUL"):
        point("string", length=2).encode("A\x00B")


def test_whole_floats_are_accepted_for_integer_types() -> None:
    assert point("uint16").encode(1500.0) == [1500]


@pytest.mark.parametrize(
    ("keys", "key"),
    [
        ({"address": 0}, "table"),
        ({"table": "holdings", "address": 0}, "table"),
        ({"table": "holding"}, "address"),
        ({"table": "holding", "address": -1}, "address"),
        ({"table": "holding", "address": 65536}, "address"),
        ({"table": "holding", "address": "1"}, "address"),
        ({"table": "holding", "address": 65535, "type": "float32"}, "address"),
        ({"table": "holding", "address": 65534, "type": "float64"}, "address"),
        ({"table": "holding", "address": 0, "type": "int8"}, "type"),
        ({"table": "coil", "address": 0, "type": "uint16"}, "type"),
        ({"table": "coil", "address": 0, "bit": 1}, "bit"),
        ({"table": "holding", "address": 0, "type": "bool"}, "bit"),
        ({"table": "holding", "address": 0, "bit": 16}, "bit"),
        ({"table": "holding", "address": 0, "type": "uint16", "bit": 1}, "bit"),
        ({"table": "holding", "address": 0, "type": "string"}, "length"),
        ({"table": "holding", "address": 0, "type": "string", "length": 0}, "length"),
        ({"table": "holding", "address": 0, "type": "string", "length": 200}, "length"),
        ({"table": "holding", "address": 0, "length": 2}, "length"),
        ({"table": "holding", "address": 0, "word_order": "middle"}, "word_order"),
        ({"table": "holding", "address": 0, "colour": "red"}, "colour"),
    ],
)
def test_parse_address_names_the_bad_key(keys: dict[str, Any], key: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_address(keys)
    assert info.value.key == key


def test_last_address_is_usable() -> None:
    assert parse_address({"table": "holding", "address": 65535}).end == 65536
    assert parse_address({"table": "holding", "address": 65534, "type": "float32"}).count == 2


# -- round trips ---------------------------------------------------------------------------------

orders = st.sampled_from(ORDERS)


@given(orders, st.integers(-(2**15), 2**15 - 1), st.integers(0, 2**16 - 1))
def test_16_bit_round_trip(order: tuple[Order, Order], signed: int, unsigned: int) -> None:
    for kind, value in (("int16", signed), ("uint16", unsigned)):
        p = point(kind, byte_order=order[0], word_order=order[1])
        assert p.decode(p.encode(value)) == value


@given(orders, st.integers(-(2**31), 2**31 - 1), st.integers(0, 2**32 - 1))
def test_32_bit_integer_round_trip(order: tuple[Order, Order], signed: int, unsigned: int) -> None:
    for kind, value in (("int32", signed), ("uint32", unsigned)):
        p = point(kind, byte_order=order[0], word_order=order[1])
        words = p.encode(value)
        assert all(0 <= w <= 0xFFFF for w in words) and len(words) == 2
        assert p.decode(words) == value


@given(orders, st.floats(width=32, allow_nan=False), st.floats(allow_nan=False))
def test_float_round_trip(order: tuple[Order, Order], f32: float, f64: float) -> None:
    p64 = point("float64", byte_order=order[0], word_order=order[1])
    assert p64.decode(p64.encode(f64)) == f64
    # A float32 reads back as the shortest decimal of the same float32: the same registers again.
    p32 = point("float32", byte_order=order[0], word_order=order[1])
    registers = p32.encode(f32)
    assert p32.encode(p32.decode(registers)) == registers


@given(orders)
def test_nan_survives(order: tuple[Order, Order]) -> None:
    p = point("float32", byte_order=order[0], word_order=order[1])
    decoded = p.decode(p.encode(math.nan))
    assert isinstance(decoded, float) and math.isnan(decoded)


@given(
    st.sampled_from(list(Order)),
    st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=127), max_size=20),
)
def test_ascii_string_round_trip(byte_order: Order, text: str) -> None:
    p = point("string", length=10, byte_order=byte_order)
    assert p.decode(p.encode(text)) == text


@given(st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=8))
def test_utf8_string_round_trip(text: str) -> None:
    p = point("string", length=16, encoding="utf-8")
    assert p.decode(p.encode(text)) == text


@given(st.integers(0, 15), st.booleans())
def test_register_bit_round_trip(bit: int, value: bool) -> None:
    p = point("bool", bit=bit)
    assert p.decode([p.encode(value)[0] << bit]) is value


kinds = st.sampled_from([k for k in Kind if k is not Kind.BOOL])


@given(kinds, orders, st.lists(st.integers(0, 0xFFFF), min_size=8, max_size=8))
def test_decode_never_crashes_on_any_register_content(
    kind: Kind, order: tuple[Order, Order], words: list[int]
) -> None:
    extra: dict[str, Any] = {"length": 8, "encoding": "utf-8"} if kind is Kind.STRING else {}
    p = point(kind.value, byte_order=order[0], word_order=order[1], **extra)
    value = p.decode(words[: p.count])
    assert isinstance(value, {DataType.INT: int, DataType.FLOAT: float, DataType.STRING: str}[p.raw_type])


# -- planner -------------------------------------------------------------------------------------


def test_contiguous_points_share_one_request_and_gaps_split_them() -> None:
    points = [point("float32", 0), point("float32", 2), point("uint16", 4), point("uint16", 10)]
    blocks = plan_reads(points)
    assert [(b.start, b.count) for b in blocks] == [(0, 5), (10, 1)]
    merged = plan_reads(points, max_gap=5)
    assert [(b.start, b.count) for b in merged] == [(0, 11)]
    assert merged[0].slice(list(range(11)), points[3]) == [10]


def test_tables_never_merge_and_limits_split() -> None:
    points = [parse_address({"table": "coil", "address": a}) for a in range(0, 4000)]
    points.append(point("uint16", 0, table="input"))
    blocks = plan_reads(points)
    assert [(b.table, b.start, b.count) for b in blocks] == [
        (Table.COIL, 0, 2000),
        (Table.COIL, 2000, 2000),
        (Table.INPUT, 0, 1),
    ]


def test_max_gap_is_bounded() -> None:
    with pytest.raises(ValueError):
        plan_reads([], max_gap=1000)


@st.composite
def point_sets(draw: st.DrawFn) -> list[PointAddress]:
    result = []
    for _ in range(draw(st.integers(0, 60))):
        table = draw(st.sampled_from(list(Table)))
        if table.bits:
            result.append(parse_address({"table": table.value, "address": draw(st.integers(0, 65535))}))
            continue
        kind = draw(st.sampled_from(list(Kind)))
        extra: dict[str, Any] = {}
        if kind is Kind.BOOL:
            extra["bit"] = draw(st.integers(0, 15))
        if kind is Kind.STRING:
            extra["length"] = draw(st.integers(1, 123))
        probe = parse_address({"table": table.value, "address": 0, "type": kind.value, **extra})
        # Cluster addresses so merging is exercised, and include the very end of the table.
        base = draw(st.sampled_from([0, 100, 65535 - probe.count + 1]))
        address = min(base + draw(st.integers(0, 300)), 65536 - probe.count)
        result.append(parse_address({"table": table.value, "address": address, "type": kind.value, **extra}))
    return result


@settings(max_examples=300)
@given(point_sets(), st.integers(0, 100))
def test_plan_covers_every_point_exactly_once_within_limits(points: list[PointAddress], max_gap: int) -> None:
    blocks = plan_reads(points, max_gap)
    seen = sorted(i for b in blocks for i in b.members)
    assert seen == list(range(len(points)))
    for block in blocks:
        assert 1 <= block.count <= (MAX_READ_BITS if block.table.bits else MAX_READ_REGISTERS)
        assert block.start >= 0 and block.start + block.count <= 65536
        for i in block.members:
            p = points[i]
            assert p.table is block.table
            assert block.start <= p.address and p.end <= block.start + block.count
            assert len(block.slice(list(range(block.count)), p)) == p.count


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_decodes_to_the_shortest_decimal_of_the_same_float32(value: float) -> None:
    from decimal import Decimal

    from indunet.edge.drivers.floats import float32

    packed = struct.pack(">f", value)
    shown = float32(packed)
    assert struct.pack(">f", shown) == packed
    digits = len(Decimal(repr(shown)).normalize().as_tuple().digits)
    widened = struct.unpack(">f", packed)[0]
    # No decimal with fewer significant digits is the same float32.
    assert not any(_packs_to(float(f"{widened:.{d}g}"), packed) for d in range(1, digits))


def _packs_to(candidate: float, packed: bytes) -> bool:
    try:
        return struct.pack(">f", candidate) == packed
    except OverflowError:
        return False


def test_a_float32_register_reads_as_the_engineer_wrote_it() -> None:
    from indunet.edge.drivers.floats import float32

    assert float32(struct.pack(">f", 197.28)) == 197.28
    assert float32(struct.pack(">f", 0.1)) == 0.1
    assert float32(struct.pack(">I", 1)) == 1e-45  # the smallest subnormal holds one digit


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["int16", "uint16", "int32", "uint32", "float32", "float64"]),
    orders,
    st.lists(st.integers(0, 0xFFFF), min_size=4, max_size=4),
    st.integers(0, 3),
)
def test_the_compiled_block_decoder_agrees_with_decode(
    kind: str, order: tuple[Order, Order], words: list[int], lead: int
) -> None:
    from indunet.edge.drivers.modbus_codec import block_bytes, block_decoder

    p = point(kind, byte_order=order[0], word_order=order[1])
    block = [0x1234] * lead + words[: p.count] + [0xFFFF] * 2
    fast = block_decoder(p, lead)(block, block_bytes(block))
    slow = p.decode(words[: p.count])
    assert fast == slow or (fast != fast and slow != slow)  # NaN is NaN
