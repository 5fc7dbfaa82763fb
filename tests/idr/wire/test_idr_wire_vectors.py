"""Vectors built by hand from the field layouts of RFC 3652 and RFC 3651."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from indunet.idr import wire
from indunet.idr.model import HandleValue, Permission, Reference, TtlType


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def utf8(s: str) -> bytes:
    return u32(len(s.encode())) + s.encode()


RESOLUTION_BODY = (
    utf8("0.NA/88.100.1")  # Handle
    + u32(0)  # IndexList: no indexes
    + u32(1)
    + utf8("HS_SITE")  # TypeList: one type
)
RESOLUTION_HEADER = (
    u32(1)  # OpCode OC_RESOLUTION
    + u32(0)  # ResponseCode: a request
    + bytes.fromhex("01000000")  # OpFlag: PO
    + bytes.fromhex("0005")  # SiteInfoSerialNumber
    + bytes([2, 0])  # RecursionCount, reserved octet
    + u32(0)  # ExpirationTime
    + u32(len(RESOLUTION_BODY))  # BodyLength
)
RESOLUTION_PAYLOAD = RESOLUTION_HEADER + RESOLUTION_BODY + u32(0)  # no credential
RESOLUTION = (
    bytes([2, 1])  # version 2.1
    + bytes.fromhex("0000")  # MessageFlag
    + u32(0)  # SessionId
    + u32(0x01020304)  # RequestId
    + u32(0)  # SequenceNumber
    + u32(len(RESOLUTION_PAYLOAD))  # MessageLength
    + RESOLUTION_PAYLOAD
)
RESOLUTION_MSG = wire.Message(
    wire.ResolutionRequest("0.NA/88.100.1", (), ("HS_SITE",)),
    request_id=0x01020304,
    flags=wire.OpFlag.PO,
    site_info_serial=5,
    recursion_count=2,
)


def test_resolution_request_byte_by_byte() -> None:
    assert len(RESOLUTION_HEADER) == wire.HEADER_SIZE == 24
    assert wire.encode(RESOLUTION_MSG) == RESOLUTION
    assert wire.decode(RESOLUTION) == RESOLUTION_MSG


def test_envelope_layout_and_flags() -> None:
    env = wire.Envelope(
        request_id=9,
        session_id=8,
        sequence=3,
        message_length=500,
        flags=wire.EnvelopeFlag.CP | wire.EnvelopeFlag.TC,
    )
    data = wire.encode_envelope(env)
    assert data == bytes([2, 1, 0xA0, 0]) + u32(8) + u32(9) + u32(3) + u32(500)
    assert len(data) == wire.ENVELOPE_SIZE == 20
    assert wire.decode_envelope(data) == env
    assert int(wire.EnvelopeFlag.EC) == 0x4000


@pytest.mark.parametrize(
    ("flag", "bit"),
    [
        ("AT", 31),
        ("CT", 30),
        ("ENC", 29),
        ("REC", 28),
        ("CA", 27),
        ("CN", 26),
        ("KC", 25),
        ("PO", 24),
        ("RD", 23),
    ],
)
def test_opflag_bits_most_significant_first(flag: str, bit: int) -> None:
    assert wire.OpFlag[flag] == 1 << bit


def test_response_codes_are_the_rfc_numbers() -> None:
    rc = wire.ResponseCode
    assert (rc.RC_SUCCESS, rc.RC_ERROR, rc.RC_SERVER_BUSY, rc.RC_PROTOCOL_ERROR) == (1, 2, 3, 4)
    assert (rc.RC_HANDLE_NOT_FOUND, rc.RC_HANDLE_ALREADY_EXIST, rc.RC_INVALID_HANDLE) == (100, 101, 102)
    assert (rc.RC_VALUE_NOT_FOUND, rc.RC_VALUE_ALREADY_EXIST, rc.RC_VALUE_INVALID) == (200, 201, 202)
    assert (rc.RC_EXPIRED_SITE_INFO, rc.RC_SERVER_NOT_RESP, rc.RC_SERVICE_REFERRAL, rc.RC_NA_DELEGATE) == (
        300,
        301,
        302,
        303,
    )
    assert (rc.RC_NOT_AUTHORIZED, rc.RC_ACCESS_DENIED, rc.RC_AUTHEN_NEEDED, rc.RC_AUTHEN_FAILED) == (
        400,
        401,
        402,
        403,
    )
    assert (rc.RC_SESSION_TIMEOUT, rc.RC_SESSION_FAILED) == (500, 501)
    oc = wire.OpCode
    assert (oc.OC_RESOLUTION, oc.OC_GET_SITEINFO, oc.OC_CREATE_HANDLE, oc.OC_LIST_HANDLE) == (1, 2, 100, 105)
    assert (oc.OC_CHALLENGE_RESPONSE, oc.OC_VERIFY_RESPONSE, oc.OC_SESSION_SETUP) == (200, 201, 400)


def test_handle_value_layout() -> None:
    value = HandleValue(
        index=1,
        type="URL",
        data=b"http://a",
        ttl_type=TtlType.ABSOLUTE,
        ttl=3600,
        timestamp=0x5F000000,
        permissions=Permission.ADMIN_READ | Permission.ADMIN_WRITE | Permission.PUBLIC_READ,
        references=(Reference("88.100/r", 7),),
    )
    expected = (
        u32(1)  # Index
        + u32(0x5F000000)  # Timestamp
        + bytes([1])  # TTLType: absolute
        + u32(3600)  # TTL
        + bytes([0x0E])  # Permission: admin read 0x08, admin write 0x04, public read 0x02
        + utf8("URL")
        + u32(8)
        + b"http://a"
        + u32(1)
        + utf8("88.100/r")
        + u32(7)
    )
    assert wire.encode_value(value) == expected
    assert wire.decode_value(expected) == value


def test_hs_admin_layout_and_permission_bits() -> None:
    perms = wire.AdminPermission
    assert [p.value for p in perms] == [1 << i for i in range(12)]
    assert [p.name for p in perms] == [
        "ADD_HANDLE",
        "DELETE_HANDLE",
        "ADD_NA",
        "DELETE_NA",
        "MODIFY_VALUE",
        "REMOVE_VALUE",
        "ADD_VALUE",
        "READ_VALUE",
        "MODIFY_ADMIN",
        "REMOVE_ADMIN",
        "ADD_ADMIN",
        "LIST_HANDLES",
    ]
    rec = wire.AdminRecord(perms.all(), "0.NA/88.100", 300)
    data = bytes.fromhex("0fff") + utf8("0.NA/88.100") + u32(300)
    assert wire.encode_admin(rec) == data
    assert wire.decode_admin(data + b"\x00\x00") == rec  # trailing octets tolerated


def test_hs_site_layout() -> None:
    server = wire.ServerRecord.for_ip(
        1,
        "192.0.2.10",
        public_key=b"KEY",
        interfaces=(
            wire.ServiceInterface(
                wire.ServiceType.ADMIN | wire.ServiceType.RESOLUTION, wire.TransmissionProtocol.TCP, 2641
            ),
        ),
    )
    site = wire.SiteInfo(
        servers=(server,),
        serial=3,
        primary=wire.PrimaryMask.PRIMARY,
        hash_option=wire.HashOption.HASH_BY_HANDLE,
        attributes=(("desc", "national node"),),
    )
    expected = (
        bytes.fromhex("0001")  # Version
        + bytes([2, 1])  # ProtocolVersion
        + bytes.fromhex("0003")  # SerialNumber
        + bytes([0x80, 2])  # PrimaryMask, HashOption
        + utf8("")  # HashFilter
        + u32(1)
        + utf8("desc")
        + utf8("national node")
        + u32(1)  # one server
        + u32(1)  # ServerID
        + bytes(12)
        + bytes([192, 0, 2, 10])  # Address
        + u32(3)
        + b"KEY"
        + u32(1)
        + bytes([3, 1])
        + u32(2641)
    )
    assert wire.encode_site(site) == expected
    assert wire.decode_site(expected) == site
    assert str(server.ip) == "192.0.2.10"


def test_hs_vlist_layout() -> None:
    refs = (Reference("88.100.1/a", 1), Reference("88.100.1/b", 2))
    data = u32(2) + utf8("88.100.1/a") + u32(1) + utf8("88.100.1/b") + u32(2)
    assert wire.encode_vlist(refs) == data
    assert wire.decode_vlist(data) == refs


def _payload_of(data: bytes) -> bytes:
    return data[wire.ENVELOPE_SIZE + wire.HEADER_SIZE :]


def test_error_response_body() -> None:
    msg = wire.Message(
        wire.ErrorResponse(wire.OpCode.OC_RESOLUTION, wire.ResponseCode.RC_HANDLE_NOT_FOUND, "no such handle")
    )
    data = wire.encode(msg)
    assert data[wire.ENVELOPE_SIZE : wire.ENVELOPE_SIZE + 8] == u32(1) + u32(100)
    assert _payload_of(data) == utf8("no such handle") + u32(0)
    assert wire.decode(data) == msg


def test_referral_and_challenge_bodies() -> None:
    ref = wire.Message(wire.ReferralResponse(wire.OpCode.OC_RESOLUTION, "0.NA/88.100"))
    assert _payload_of(wire.encode(ref)) == utf8("0.NA/88.100") + u32(0)
    challenge = wire.Message(wire.AuthChallenge(wire.OpCode.OC_ADD_VALUE, b"N" * 16))
    data = wire.encode(challenge)
    assert data[wire.ENVELOPE_SIZE + 4 : wire.ENVELOPE_SIZE + 8] == u32(402)
    assert _payload_of(data) == u32(16) + b"N" * 16 + u32(0)


def test_challenge_answer_body() -> None:
    body = wire.ChallengeAnswerRequest("HS_PUBKEY", "0.NA/88.100", 300, b"SIG")
    data = wire.encode(wire.Message(body))
    assert _payload_of(data) == utf8("HS_PUBKEY") + utf8("0.NA/88.100") + u32(300) + u32(3) + b"SIG" + u32(0)


def test_request_digest_leads_the_response_body() -> None:
    digest = wire.digest_request(RESOLUTION, wire.DigestAlgorithm.SHA1)
    assert (
        digest.digest
        == hashlib.new(
            "sha1", RESOLUTION_PAYLOAD[: 24 + len(RESOLUTION_BODY)], usedforsecurity=False
        ).digest()
    )
    resp = wire.Message(
        wire.ResolutionResponse("0.NA/88.100.1"), request_digest=digest, request_id=0x01020304
    )
    data = wire.encode(resp)
    header = wire.decode_header(data, wire.ENVELOPE_SIZE)
    assert wire.OpFlag.RD in header.flags
    assert _payload_of(data)[:21] == bytes([2]) + digest.digest
    assert wire.decode(data).request_digest == digest


def test_credential_layout() -> None:
    cred = wire.Credential("0.NA/88.100", 300, b"SIG", wire.HS_SIGNED, "SHA-256")
    signed_info = utf8("SHA-256") + u32(3) + b"SIG"
    inner = (
        bytes([0, 0])
        + bytes(2)
        + utf8("0.NA/88.100")
        + u32(300)
        + utf8("HS_SIGNED")
        + u32(len(signed_info))
        + signed_info
    )
    assert wire.encode_credential(cred) == u32(len(inner)) + inner
    msg = wire.Message(wire.DeleteHandleRequest("88.100.1/x"), credential=cred)
    data = wire.encode(msg)
    assert data.endswith(u32(len(inner)) + inner)
    assert wire.decode(data) == msg
    assert wire.signed_part(data) == data[wire.ENVELOPE_SIZE : -(len(inner) + 4)]


def test_unknown_trailing_octets_after_a_body_are_ignored() -> None:
    body = RESOLUTION_BODY + b"future fields"
    header = RESOLUTION_HEADER[:20] + u32(len(body))
    payload = header + body + u32(0)
    data = RESOLUTION[:16] + u32(len(payload)) + payload
    assert wire.decode(data) == RESOLUTION_MSG


def test_missing_credential_length_is_tolerated() -> None:
    payload = RESOLUTION_PAYLOAD[:-4]
    assert wire.decode(RESOLUTION[:16] + u32(len(payload)) + payload) == RESOLUTION_MSG


def test_unknown_opcode_decodes_opaquely() -> None:
    header = wire.encode_header(wire.Header(opcode=777, body_length=3))
    payload = header + b"abc" + u32(0)
    msg = wire.decode(wire.encode_envelope(wire.Envelope(message_length=len(payload))) + payload)
    assert msg.body == wire.OpaqueBody(777, 0, b"abc")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (RESOLUTION[:19], "envelope"),
        (bytes([3, 0]) + RESOLUTION[2:], "version"),
        (RESOLUTION[:2] + b"\x80\x00" + RESOLUTION[4:], "compressed"),
        (RESOLUTION[:-1], "follow the envelope"),
        (RESOLUTION[:16] + u32(2**31) + RESOLUTION[20:], "exceeds the limit"),
        (RESOLUTION[:16] + u32(10) + RESOLUTION[20:], "shorter than a header"),
    ],
)
def test_malformed_messages_raise_wire_error(data: bytes, fragment: str) -> None:
    with pytest.raises(wire.WireError, match=fragment) as e:
        wire.decode(data)
    assert e.value.code == wire.ResponseCode.RC_PROTOCOL_ERROR


def test_bad_utf8_is_a_protocol_error() -> None:
    body = u32(2) + b"\xff\xfe" + u32(0) + u32(0)
    header = RESOLUTION_HEADER[:20] + u32(len(body))
    payload = header + body + u32(0)
    with pytest.raises(wire.WireError, match="UTF-8"):
        wire.decode(RESOLUTION[:16] + u32(len(payload)) + payload)


def test_bad_ttl_type_is_an_invalid_value() -> None:
    good = wire.encode_value(HandleValue(1, "URL", b"x"))
    bad = good[:8] + bytes([9]) + good[9:]
    with pytest.raises(wire.WireError) as e:
        wire.decode_value(bad)
    assert e.value.code == wire.ResponseCode.RC_VALUE_INVALID


def test_response_to_copies_ids_and_adds_the_digest_when_asked() -> None:
    request = dataclasses.replace(RESOLUTION_MSG, flags=wire.OpFlag.RD, session_id=4)
    raw = wire.encode(request)
    resp = wire.response_to(request, wire.ResolutionResponse("0.NA/88.100.1"), raw, flags=wire.OpFlag.AT)
    assert (resp.request_id, resp.session_id) == (0x01020304, 4)
    assert resp.flags == wire.OpFlag.AT | wire.OpFlag.RD
    assert resp.request_digest == wire.digest_request(raw)
    assert wire.decode(wire.encode(resp)) == resp
    plain = wire.response_to(RESOLUTION_MSG, wire.SuccessResponse(wire.OpCode.OC_DELETE_HANDLE))
    assert plain.request_digest is None
