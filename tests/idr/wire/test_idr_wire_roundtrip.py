"""Property tests: everything the codec encodes decodes back to the same value."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.idr.wire.wire_strategies import (
    REQUEST_BODIES,
    RESPONSE_BODIES,
    admins,
    messages,
    references,
    sites,
    text,
    value_lists,
    values,
)

from indunet.idr import wire
from indunet.idr.model import HandleValue, Reference

FAST = settings(max_examples=150, deadline=None)


@FAST
@given(messages())
def test_every_message_round_trips(msg: wire.Message) -> None:
    data = wire.encode(msg)
    assert wire.decode(data) == msg
    assert wire.encode(wire.decode(data)) == data


@FAST
@given(values)
def test_handle_value_round_trips(value: HandleValue) -> None:
    assert wire.decode_value(wire.encode_value(value)) == value


@FAST
@given(value_lists)
def test_value_lists_round_trip(listed: tuple[HandleValue, ...]) -> None:
    assert wire.decode_values(wire.encode_values(listed)) == listed


@FAST
@given(text, value_lists, st.integers(0, 2**32 - 1))
def test_an_answer_of_stored_octets_is_the_answer_of_its_values(
    handle: str, listed: tuple[HandleValue, ...], request_id: int
) -> None:
    """A node answers from a record's stored octets: the client must not be able to tell."""
    stored = wire.EncodedResolution(handle, wire.encode_values(listed))
    data = wire.encode(wire.Message(stored, request_id=request_id))
    assert data == wire.encode(wire.Message(wire.ResolutionResponse(handle, listed), request_id=request_id))
    assert wire.decode(data).body == wire.ResolutionResponse(handle, listed)


@FAST
@given(admins)
def test_hs_admin_round_trips(rec: wire.AdminRecord) -> None:
    assert wire.decode_admin(wire.encode_admin(rec)) == rec


@FAST
@given(sites)
def test_hs_site_round_trips(site: wire.SiteInfo) -> None:
    assert wire.decode_site(wire.encode_site(site)) == site


@FAST
@given(references.map(lambda r: (r,)) | references.map(lambda r: (r, r)))
def test_hs_vlist_round_trips(refs: tuple[Reference, ...]) -> None:
    assert wire.decode_vlist(wire.encode_vlist(refs)) == refs


@pytest.mark.parametrize("bodies", REQUEST_BODIES + RESPONSE_BODIES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_each_body_type_round_trips(bodies: st.SearchStrategy[wire.Body], data: st.DataObject) -> None:
    body = data.draw(bodies)
    msg = wire.Message(body, request_id=1)
    decoded = wire.decode(wire.encode(msg))
    assert type(decoded.body) is type(body)
    assert decoded == msg
