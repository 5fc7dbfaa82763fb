"""Gateway API payload parsing: any bytes give parsed messages or ``BadPayload``, nothing else."""

from __future__ import annotations

import contextlib
import hashlib
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
    gateway.attribute_request,
    gateway.claims,
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


def test_attribute_requests_parse_and_are_answered_as_thingsboard_does() -> None:
    one = gateway.attribute_request(b'{"id": 3, "device": "lathe-1", "client": false, "key": "mode"}')
    assert one == gateway.AttributeRequest(3, "lathe-1", False, ["mode"])
    assert gateway.attribute_response(one, {"mode": "auto"}) == {
        "id": 3,
        "device": "lathe-1",
        "value": "auto",
    }
    assert gateway.attribute_response(one, {}) == {"id": 3, "device": "lathe-1"}
    many = gateway.attribute_request(b'{"id": "4", "device": "lathe-1", "client": true, "keys": ["a", "b"]}')
    assert many == gateway.AttributeRequest(4, "lathe-1", True, ["a", "b"])
    assert gateway.attribute_response(many, {"a": 1}) == {"id": 4, "device": "lathe-1", "values": {"a": 1}}
    # The IoT Gateway asks for every shared key with an empty list.
    every = gateway.attribute_request(b'{"id": 5, "device": "lathe-1", "client": false, "keys": []}')
    assert every.keys is None and not every.single


def test_claims_parse_with_thingsboard_defaults_and_keep_only_a_digest() -> None:
    offers = gateway.claims(
        b'{"lathe-1": {"secretKey": "s3", "durationMs": 60000}, "lathe-2": {}, "lathe-3": {"durationMs": 0}}'
    )
    assert offers == {
        "lathe-1": gateway.Claim("s3", 60_000),
        "lathe-2": gateway.Claim("", gateway.DEFAULT_CLAIM_MS),
        "lathe-3": gateway.Claim("", gateway.DEFAULT_CLAIM_MS),
    }
    record = gateway.claim_record("device-id", offers["lathe-1"], 1_700_000_000_000_000)
    assert record == {
        "secret_sha256": hashlib.sha256(b"device-id:s3").hexdigest(),
        "expires": "2023-11-14T22:14:20.000000Z",
    }
    too_long = json.dumps({"lathe-1": {"durationMs": gateway.MAX_CLAIM_MS + 1}}).encode()
    with pytest.raises(tbapi.BadPayload):
        gateway.claims(too_long)
