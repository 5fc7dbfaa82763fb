"""The Handle protocol over HTTP: a message in a POST body, its answer in the response, with the
same refusals as over TCP."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indunet.idr import records
from indunet.idr.app import create_node_app
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.http_native import MEDIA_TYPE
from indunet.idr.model import HandleValue, Permission
from indunet.idr.service import Service
from indunet.idr.store import open_store
from indunet.idr.wire import (
    CreateHandleRequest,
    ErrorResponse,
    Message,
    ReferralResponse,
    ResolutionRequest,
    ResolutionResponse,
    ResponseCode,
    decode,
    encode,
)


@pytest.fixture
def http(tmp_path: Path) -> TestClient:
    store = open_store(tmp_path / "idr.db")
    ensure_prefix(store, "88.100.1", b"secret")
    records.create_handle(store, "88.100.1/a", [HandleValue(1, "URL", b"https://a")], records.SYSTEM)
    return TestClient(create_node_app(store, handler=Service(store, ("88.100.1",))))


def post(http: TestClient, body: bytes, kind: str = MEDIA_TYPE) -> tuple[int, bytes]:
    answer = http.post("/", content=body, headers={"Content-Type": kind})
    return answer.status_code, answer.content


def test_resolution_referral_and_a_challenge_over_http(http: TestClient) -> None:
    status, body = post(http, encode(Message(ResolutionRequest("88.100.1/a"), request_id=41)))
    answer = decode(body)
    assert status == 200 and answer.request_id == 41
    assert isinstance(answer.body, ResolutionResponse) and answer.body.values[0].data == b"https://a"
    referred = decode(post(http, encode(Message(ResolutionRequest("88.200/x"), request_id=42)))[1])
    assert isinstance(referred.body, ReferralResponse)
    # Administration starts as over TCP: with a challenge (the answer would follow on the same session).
    create = Message(CreateHandleRequest("88.100.1/b", (HandleValue(1, "URL", b"u"),)), request_id=43)
    challenged = decode(post(http, encode(create))[1])
    assert challenged.body.response_code == ResponseCode.RC_AUTHEN_NEEDED


def test_bad_bodies_are_refused_clearly(http: TestClient) -> None:
    good = encode(Message(ResolutionRequest("88.100.1/a"), request_id=7))
    assert post(http, good, "application/json")[0] == 415
    assert post(http, b"short")[0] == 400
    # A readable envelope with a broken body: a protocol error naming the request.
    status, body = post(http, good[:20] + b"\xff" * 30)
    refusal = decode(body)
    assert status == 200 and refusal.request_id == 7
    assert (
        isinstance(refusal.body, ErrorResponse)
        and refusal.body.response_code == ResponseCode.RC_PROTOCOL_ERROR
    )
    assert post(http, b"\x00" * (1024 * 1024 + 1))[0] == 413


def test_quick_anonymous_reads_answer_exactly_as_the_route(tmp_path: Path) -> None:
    from indunet.idr.rest import create_app

    store = open_store(tmp_path / "q.db")
    ensure_prefix(store, "88.100.1", b"secret")
    values = [
        HandleValue(1, "URL", b"https://a"),
        HandleValue(2, "NOTE", b"\xff\x00", permissions=Permission(12)),
    ]
    records.create_handle(store, "88.100.1/a b", values, records.SYSTEM)
    quick, routed = TestClient(create_node_app(store)), TestClient(create_app(store))
    for path in ("/api/handles/88.100.1/a%20b", "/api/handles/88.100.1/none", "/api/handles/88.100.1/a%20b?index=1",
                 "/api/handles/no-slash", "/api/handles/0.NA/88.100.1"):  # fmt: skip
        fast, slow = quick.get(path), routed.get(path)
        assert (fast.status_code, fast.json()) == (slow.status_code, slow.json()), path
