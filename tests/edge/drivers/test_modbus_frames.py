"""Modbus TCP framing against the specification's examples, and never a crash on arbitrary bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.edge.drivers import modbus_frames as frames
from indunet.edge.drivers.modbus_frames import FrameError, FrameReader


def test_requests_are_the_bytes_the_specification_shows() -> None:
    # Modbus Application Protocol V1.1b3, 6.3 "Read Holding Registers": registers 108-110 (address 107).
    assert frames.read_request(1, 17, frames.READ_HOLDING_REGISTERS, 107, 3) == bytes.fromhex(
        "0001 0000 0006 11 03 006B 0003".replace(" ", "")
    )
    # 6.5 "Write Single Coil": coil 173 on.
    assert frames.write_coil_request(2, 1, 172, True) == bytes.fromhex(
        "0002000000060105 00AC FF00".replace(" ", "")
    )
    # 6.6 "Write Single Register": register 2 := 3.
    assert frames.write_register_request(3, 1, 1, 3) == bytes.fromhex(
        "00030000000601060001 0003".replace(" ", "")
    )
    # 6.12 "Write Multiple registers": registers 2-3 := 0x000A, 0x0102.
    assert frames.write_registers_request(4, 1, 1, [0x000A, 0x0102]) == bytes.fromhex(
        "0004 0000 000B 01 10 0001 0002 04 000A 0102".replace(" ", "")
    )
    # 6.11 "Write Multiple Coils": 10 coils from 20 (address 19) := CD 01.
    assert frames.write_coils_request(
        5, 1, 19, [True, False, True, True, False, False, True, True, True, False]
    ) == (bytes.fromhex("0005 0000 0009 01 0F 0013 000A 02 CD 01".replace(" ", "")))


def test_responses_decode_as_the_specification_shows() -> None:
    reader = FrameReader()
    # 6.3: the three registers 0x022B, 0x0000, 0x0064; 6.1 "Read Coils": CD 6B 05 for coils 20-38.
    data = bytes.fromhex("0001 0000 0009 11 03 06 022B 0000 0064".replace(" ", "")) + bytes.fromhex(
        "0002 0000 0006 11 01 03 CD 6B 05".replace(" ", "")
    )
    registers, coils = reader.feed(data)
    assert registers.registers == (0x022B, 0, 0x64) and registers.transaction == 1 and registers.unit == 17
    assert coils.bits[:8] == (True, False, True, True, False, False, True, True)  # 0xCD, least bit first
    # 7 "Modbus Exception Responses": illegal data address for function 3.
    (error,) = reader.feed(bytes.fromhex("0003 0000 0003 11 83 02".replace(" ", "")))
    assert error.function == 3 and error.exception == 2


def test_a_frame_split_anywhere_reassembles() -> None:
    frame = bytes.fromhex("0001 0000 0009 11 04 06 022B 0000 0064".replace(" ", ""))
    for cut in range(1, len(frame)):
        reader = FrameReader()
        assert reader.feed(frame[:cut]) == []
        (response,) = reader.feed(frame[cut:])
        assert response.registers == (0x022B, 0, 0x64)


@pytest.mark.parametrize(
    "hexdata",
    [
        "0001 0001 0003 01 83 02",  # protocol id 1
        "0001 0000 0001 01",  # length below 2
        "0001 0000 0008 01 03 05 0000 0000 00",  # odd byte count
        "0001 0000 0005 01 03 06 0000",  # byte count beyond the frame
        "0001 0000 0003 01 2B 0E",  # a function never requested
        "0001 0000 0004 01 83 02 00",  # exception response with a trailing byte
    ],
)
def test_malformed_frames_are_refused(hexdata: str) -> None:
    with pytest.raises(FrameError):
        FrameReader().feed(bytes.fromhex(hexdata.replace(" ", "")))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=6))
def test_arbitrary_bytes_give_responses_or_frame_errors_never_a_crash(chunks: list[bytes]) -> None:
    reader = FrameReader()
    try:
        for chunk in chunks:
            for response in reader.feed(chunk):
                assert 0 <= response.transaction <= 0xFFFF and 0 <= response.function <= 0x7F
    except FrameError:
        pass


@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 255),
    st.sampled_from([frames.READ_HOLDING_REGISTERS, frames.READ_INPUT_REGISTERS]),
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=125),
)
def test_a_register_response_round_trips(
    transaction: int, unit: int, function: int, registers: list[int]
) -> None:
    body = bytes([function, 2 * len(registers)]) + b"".join(r.to_bytes(2, "big") for r in registers)
    frame = (
        transaction.to_bytes(2, "big")
        + b"\x00\x00"
        + (1 + len(body)).to_bytes(2, "big")
        + bytes([unit])
        + body
    )
    (response,) = FrameReader().feed(frame)
    assert (response.transaction, response.unit, response.function, response.registers) == (
        transaction,
        unit,
        function,
        tuple(registers),
    )


def test_requests_outside_the_protocol_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        frames.read_request(1, 1, frames.READ_HOLDING_REGISTERS, 0, 126)
    with pytest.raises(ValueError):
        frames.read_request(1, 1, frames.READ_COILS, 65535, 2)
    with pytest.raises(ValueError):
        frames.write_register_request(1, 1, 0, 70000)
