"""Gateway API payload parsing: any bytes give parsed messages or ``BadPayload``, nothing else."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indunet.transport.mqtt import gateway, tbapi

_PARSERS: list[Callable[[bytes], Any]] = [
    gateway.connect_request,
    gateway.telemetry_records,
    gateway.attribute_updates,
    gateway.rpc_reply,
]

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("parse", _PARSERS)
@given(payload=st.binary(max_size=200) | _json.map(lambda v: json.dumps(v).encode()))
def test_any_payload_parses_or_is_a_bad_payload(parse: Callable[[bytes], Any], payload: bytes) -> None:
    with contextlib.suppress(tbapi.BadPayload):
        parse(payload)


def test_thingsboard_gateway_messages_parse() -> None:
    assert gateway.connect_request(b'{"device": "lathe-1", "type": "cnc"}') == ("lathe-1", "cnc")
    assert gateway.connect_request(b'{"device": "lathe-1"}') == ("lathe-1", None)
    records = gateway.telemetry_records(b'{"lathe-1": [{"ts": 1000, "values": {"a": 1}}, {"b": 2}]}')
    assert records == {"lathe-1": [{"ts": 1_000_000, "values": {"a": 1}}, {"values": {"b": 2}}]}
    assert gateway.attribute_updates(b'{"lathe-1": {"fw": "1.0"}}') == {"lathe-1": {"fw": "1.0"}}
    assert gateway.rpc_reply(b'{"device": "lathe-1", "id": 7, "data": {"ok": true}}') == (
        "lathe-1",
        7,
        {"ok": True},
    )
    assert gateway.rpc_request("lathe-1", 7, "m", {"v": 1}) == {
        "device": "lathe-1",
        "data": {"id": 7, "method": "m", "params": {"v": 1}},
    }


def test_too_many_devices_in_one_message_is_a_bad_payload() -> None:
    payload = json.dumps({f"d{i}": {"v": 1} for i in range(gateway.MAX_CHILDREN + 1)}).encode()
    with pytest.raises(tbapi.BadPayload):
        gateway.telemetry_records(payload)
