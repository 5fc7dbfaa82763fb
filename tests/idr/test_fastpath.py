"""The fast path of encoded answers: the same bytes as the ordinary path, the asker's ids, never a
stale record, and only for requests whose answer does not depend on more than the question."""

from __future__ import annotations

from pathlib import Path

import pytest

from indunet.idr import records
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.model import HandleValue, Permission
from indunet.idr.service import Service
from indunet.idr.store import HandleStore, open_store
from indunet.idr.wire import (
    ErrorResponse,
    Message,
    OpFlag,
    ResolutionRequest,
    ResolutionResponse,
    decode,
    digest_request,
    encode,
)

PREFIX = "88.100.1"


@pytest.fixture
def service(tmp_path: Path) -> Service:
    store: HandleStore = open_store(tmp_path / "idr.db")
    ensure_prefix(store, PREFIX, b"secret")
    records.create_handle(store, "88.100.1/a", [HandleValue(1, "URL", b"https://a")], records.SYSTEM)
    return Service(store, (PREFIX,))


def ask(service: Service, message: Message) -> bytes:
    """What the server sends back for ``message``: the fast path first, then the ordinary one."""
    raw = encode(message)
    hit = service.raw_answers.lookup(raw)
    if hit is not None:
        return hit
    request = decode(raw)
    answer = encode(service.answer(request, raw))
    service.raw_answers.learn(raw, request, answer)
    return answer


def test_a_repeated_question_is_answered_from_the_fast_path_with_the_askers_ids(service: Service) -> None:
    first = ask(service, Message(ResolutionRequest("88.100.1/a"), request_id=1, session_id=0))
    assert service.raw_answers.hits == 0
    second = ask(service, Message(ResolutionRequest("88.100.1/a"), request_id=77, session_id=5))
    assert service.raw_answers.hits == 1
    answer = decode(second)
    assert (answer.request_id, answer.session_id) == (77, 5)
    assert isinstance(answer.body, ResolutionResponse) and answer.body.values[0].data == b"https://a"
    assert first[20:] == second[20:]  # all but the envelope is what the ordinary path encoded
    # "Not found" is an answer too, and so is cached.
    ask(service, Message(ResolutionRequest("88.100.1/none"), request_id=2))
    missing = decode(ask(service, Message(ResolutionRequest("88.100.1/none"), request_id=3)))
    assert isinstance(missing.body, ErrorResponse) and service.raw_answers.hits == 2


def test_a_first_question_is_answered_from_the_stored_record_as_the_ordinary_path_would(
    service: Service,
) -> None:
    raw = encode(Message(ResolutionRequest("88.100.1/a"), request_id=9, session_id=4))
    first = service.raw_answers.lookup(raw)  # never asked before: read from the store, not decoded
    assert first is not None
    uncached = Service(service.store, (PREFIX,), cache_size=0)
    assert first == encode(uncached.answer(decode(raw), raw))
    assert service.raw_answers.lookup(raw) == first and service.raw_answers.hits == 1


def test_records_with_values_not_for_everyone_and_foreign_names_go_the_ordinary_way(service: Service) -> None:
    private = HandleValue(2, "EMAIL", b"ops@a", permissions=Permission.ADMIN_READ | Permission.ADMIN_WRITE)
    records.put_values(service.store, "88.100.1/a", [private], records.SYSTEM)
    for name in ("88.100.1/a", "99.1/elsewhere", "88.100.1/none"):
        assert service.raw_answers.lookup(encode(Message(ResolutionRequest(name), request_id=1))) is None
    answer = decode(ask(service, Message(ResolutionRequest("88.100.1/a"), request_id=2)))
    assert isinstance(answer.body, ResolutionResponse) and [v.index for v in answer.body.values] == [1]


def test_a_write_is_never_hidden_by_the_fast_path(service: Service) -> None:
    ask(service, Message(ResolutionRequest("88.100.1/a"), request_id=1))
    ask(service, Message(ResolutionRequest("88.100.1/b"), request_id=1))
    records.put_values(service.store, "88.100.1/a", [HandleValue(1, "URL", b"https://a2")], records.SYSTEM)
    records.create_handle(service.store, "88.100.1/b", [HandleValue(1, "URL", b"https://b")], records.SYSTEM)
    changed = decode(ask(service, Message(ResolutionRequest("88.100.1/a"), request_id=2)))
    created = decode(ask(service, Message(ResolutionRequest("88.100.1/b"), request_id=2)))
    assert isinstance(changed.body, ResolutionResponse) and changed.body.values[0].data == b"https://a2"
    assert isinstance(created.body, ResolutionResponse) and created.body.values[0].data == b"https://b"
    assert service.raw_answers.hits == 0


def test_requests_asking_for_their_digest_always_get_their_own(service: Service) -> None:
    for request_id, expiration in ((1, 100), (2, 200), (3, 300)):
        message = Message(
            ResolutionRequest("88.100.1/a"), request_id=request_id, flags=OpFlag.RD, expiration=expiration
        )
        answer = decode(ask(service, message))
        assert answer.request_digest == digest_request(encode(message))
    assert service.raw_answers.hits == 0


def test_filters_are_part_of_the_question(service: Service) -> None:
    records.put_values(service.store, "88.100.1/a", [HandleValue(2, "EMAIL", b"ops@a")], records.SYSTEM)
    for _ in range(2):
        only_url = decode(
            ask(service, Message(ResolutionRequest("88.100.1/a", types=("URL",)), request_id=1))
        )
        only_mail = decode(ask(service, Message(ResolutionRequest("88.100.1/a", indexes=(2,)), request_id=1)))
        assert isinstance(only_url.body, ResolutionResponse) and [v.type for v in only_url.body.values] == [
            "URL"
        ]
        assert isinstance(only_mail.body, ResolutionResponse) and [v.type for v in only_mail.body.values] == [
            "EMAIL"
        ]
    assert service.raw_answers.hits == 2


def test_anything_but_a_plain_resolution_goes_the_ordinary_way(service: Service) -> None:
    raw = encode(Message(ResolutionRequest("88.100.1/a"), request_id=1))
    ask(service, decode(raw))
    assert service.raw_answers.lookup(raw) is not None
    assert service.raw_answers.lookup(raw + b"\x00") is None  # trailing octets
    assert service.raw_answers.lookup(raw[:-1]) is None  # truncated
    assert service.raw_answers.lookup(b"\x01" + raw[1:]) is None  # another protocol version
    assert service.raw_answers.lookup(raw[:2] + b"\x00\x01" + raw[4:]) is None  # envelope flags
    assert service.raw_answers.lookup(b"") is None


def test_with_caching_off_every_answer_is_read_afresh(tmp_path: Path) -> None:
    store = open_store(tmp_path / "off.db")
    ensure_prefix(store, PREFIX, b"secret")
    records.create_handle(store, "88.100.1/a", [HandleValue(1, "URL", b"https://a")], records.SYSTEM)
    service = Service(store, (PREFIX,), cache_size=0)
    for request_id in (1, 2, 3):
        answer = decode(ask(service, Message(ResolutionRequest("88.100.1/a"), request_id=request_id)))
        assert isinstance(answer.body, ResolutionResponse) and answer.request_id == request_id
    assert service.raw_answers.hits == 0 and service.cached_answer("88.100.1/a", ((), ())) is None
