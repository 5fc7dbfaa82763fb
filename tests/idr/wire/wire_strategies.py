"""Hypothesis strategies for the Handle protocol codec tests."""

from __future__ import annotations

from hypothesis import strategies as st

from indunet.idr import wire
from indunet.idr.model import HandleValue, Permission, Reference, TtlType

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
text = st.text(max_size=20)
blob = st.binary(max_size=40)
opcodes = st.sampled_from(list(wire.OpCode))

references = st.builds(Reference, handle=text, index=u32)
values = st.builds(
    HandleValue,
    index=u32,
    type=text,
    data=blob,
    ttl_type=st.sampled_from(list(TtlType)),
    ttl=u32,
    timestamp=u32,
    permissions=st.integers(0, 0xFF).map(Permission),
    references=st.lists(references, max_size=3).map(tuple),
)
value_lists = st.lists(values, max_size=3).map(tuple)

admins = st.builds(wire.AdminRecord, permissions=u16.map(wire.AdminPermission), handle=text, index=u32)
interfaces = st.builds(
    wire.ServiceInterface,
    type=u8.map(wire.ServiceType),
    protocol=st.sampled_from(list(wire.TransmissionProtocol)),
    port=u32,
)
servers = st.builds(
    wire.ServerRecord,
    server_id=u32,
    address=st.binary(min_size=16, max_size=16),
    public_key=blob,
    interfaces=st.lists(interfaces, max_size=3).map(tuple),
)
sites = st.builds(
    wire.SiteInfo,
    servers=st.lists(servers, max_size=3).map(tuple),
    serial=u16,
    primary=u8.map(wire.PrimaryMask),
    hash_option=st.sampled_from(list(wire.HashOption)),
    hash_filter=text,
    attributes=st.lists(st.tuples(text, text), max_size=3).map(tuple),
    version=u16,
    protocol_major=u8,
    protocol_minor=u8,
)

_index_lists = st.lists(u32, max_size=5).map(tuple)
_error_codes = st.sampled_from(
    [
        c
        for c in wire.ResponseCode
        if c
        not in (
            wire.ResponseCode.RC_RESERVED,
            wire.ResponseCode.RC_SUCCESS,
            wire.ResponseCode.RC_SERVICE_REFERRAL,
            wire.ResponseCode.RC_NA_DELEGATE,
            wire.ResponseCode.RC_AUTHEN_NEEDED,
        )
    ]
)


@st.composite
def referrals(draw: st.DrawFn) -> wire.ReferralResponse:
    handle = draw(text)
    vals = draw(value_lists) if not handle or draw(st.booleans()) else ()
    code = draw(st.sampled_from([wire.ResponseCode.RC_SERVICE_REFERRAL, wire.ResponseCode.RC_NA_DELEGATE]))
    return wire.ReferralResponse(draw(opcodes), handle, vals, int(code))


REQUEST_BODIES = (
    st.builds(
        wire.ResolutionRequest, handle=text, indexes=_index_lists, types=st.lists(text, max_size=3).map(tuple)
    ),
    st.just(wire.GetSiteInfoRequest()),
    st.builds(wire.CreateHandleRequest, handle=text, values=value_lists),
    st.builds(wire.DeleteHandleRequest, handle=text),
    st.builds(wire.AddValueRequest, handle=text, values=value_lists),
    st.builds(wire.RemoveValueRequest, handle=text, indexes=_index_lists),
    st.builds(wire.ModifyValueRequest, handle=text, values=value_lists),
    st.builds(wire.ListHandlesRequest, handle=text),
    st.builds(wire.ListNAsRequest, handle=text),
    st.builds(wire.ChallengeAnswerRequest, auth_type=text, key_handle=text, key_index=u32, answer=blob),
    st.builds(
        wire.VerifyRequest, key_handle=text, key_index=u32, nonce=blob, request_digest=blob, answer=blob
    ),
    st.builds(wire.SessionSetupRequest, key_exchange_mode=u16, timeout=u32, data=blob),
    st.just(wire.SessionTerminateRequest()),
)

RESPONSE_BODIES = (
    st.builds(wire.ResolutionResponse, handle=text, values=value_lists),
    st.builds(wire.GetSiteInfoResponse, site=sites),
    st.builds(wire.ListHandlesResponse, handles=st.lists(text, max_size=4).map(tuple)),
    st.builds(wire.ListNAsResponse, handles=st.lists(text, max_size=4).map(tuple)),
    st.builds(wire.VerifyResponse, ok=st.booleans()),
    st.builds(wire.SessionSetupResponse, key_exchange_mode=u16, data=blob),
    st.builds(
        wire.SuccessResponse,
        opcode=st.sampled_from(
            [
                wire.OpCode.OC_CREATE_HANDLE,
                wire.OpCode.OC_DELETE_HANDLE,
                wire.OpCode.OC_ADD_VALUE,
                wire.OpCode.OC_REMOVE_VALUE,
                wire.OpCode.OC_MODIFY_VALUE,
            ]
        ).map(int),
    ),
    st.builds(
        wire.ErrorResponse,
        opcode=opcodes.map(int),
        response_code=_error_codes.map(int),
        message=text,
        indexes=_index_lists,
    ),
    referrals(),
    st.builds(wire.AuthChallenge, opcode=opcodes.map(int), nonce=blob),
)

requests = st.one_of(*REQUEST_BODIES)
responses = st.one_of(*RESPONSE_BODIES)

credentials = st.none() | st.builds(
    wire.Credential,
    signer_handle=text,
    signer_index=u32,
    signature=blob,
    type=st.sampled_from([wire.HS_SIGNED, wire.HS_MAC]),
    digest_algorithm=text,
    version=u8,
    options=u16,
)

_header_flags = st.integers(0, 0xFFF0_0000).map(lambda f: wire.OpFlag(f & ~wire.OpFlag.RD))
digests = st.sampled_from(list(wire.DigestAlgorithm)).flatmap(
    lambda a: st.binary(min_size=a.size, max_size=a.size).map(lambda d: wire.RequestDigest(a, d))
)


@st.composite
def messages(draw: st.DrawFn) -> wire.Message:
    is_request = draw(st.booleans())
    body = draw(requests if is_request else responses)
    flags = draw(_header_flags)
    digest = None
    if is_request:
        if draw(st.booleans()):
            flags |= wire.OpFlag.RD
    elif draw(st.booleans()):
        digest = draw(digests)
        flags |= wire.OpFlag.RD
    return wire.Message(
        body=body,
        request_id=draw(u32),
        session_id=draw(u32),
        flags=flags,
        site_info_serial=draw(u16),
        recursion_count=draw(u8),
        expiration=draw(u32),
        request_digest=digest,
        credential=draw(credentials),
        sequence=draw(u32),
        minor=draw(u8),
    )
