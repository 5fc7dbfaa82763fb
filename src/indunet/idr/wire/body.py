"""Message bodies per opcode and response code (RFC 3652, section 3), as typed dataclasses.

Theory of operation: a body's layout depends on the header's (OpCode, ResponseCode) pair, so
decoding takes both. Requests carry RC_RESERVED (0); successful responses RC_SUCCESS. Error
responses (any other code), service referrals (RC_SERVICE_REFERRAL, RC_NA_DELEGATE) and
authentication challenges (RC_AUTHEN_NEEDED) share one layout whatever the opcode, so those bodies
carry the opcode as a field. A pair this codec does not know decodes to :class:`OpaqueBody` (the
octets as they came), which lets a server answer RC_OPERATION_DENIED instead of failing to parse.

When the header's RD flag is set, a response body starts with a RequestDigest: one algorithm octet
and the digest of the request (:class:`RequestDigest`). Octets after the fields of a known body are
ignored, as later protocol versions append fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from indunet.idr.model import HandleValue
from indunet.idr.wire.codes import DigestAlgorithm, OpCode, ResponseCode
from indunet.idr.wire.errors import WireError
from indunet.idr.wire.primitives import Reader, Writer
from indunet.idr.wire.values import SiteInfo, read_site, read_values, write_site, write_values

RC = ResponseCode
OC = OpCode


@dataclass(frozen=True, slots=True)
class RequestDigest:
    """The digest of a request that an RD-flagged response body starts with (RFC 3652, 2.2.3)."""

    algorithm: DigestAlgorithm
    digest: bytes

    def write(self, w: Writer) -> None:
        if len(self.digest) != self.algorithm.size:
            raise ValueError(f"a {self.algorithm.name} digest is {self.algorithm.size} octets")
        w.u8(int(self.algorithm)).raw(self.digest)

    @classmethod
    def read(cls, r: Reader) -> RequestDigest:
        raw = r.u8("digest algorithm")
        try:
            algorithm = DigestAlgorithm(raw)
        except ValueError:
            raise WireError(f"unknown digest algorithm {raw}") from None
        return cls(algorithm, r.raw(algorithm.size, "request digest"))


class _Fixed:
    """A body whose opcode and response code follow from its class."""

    __slots__ = ()
    OPCODE: ClassVar[OpCode]
    RESPONSE_CODE: ClassVar[ResponseCode] = RC.RC_RESERVED

    @property
    def opcode(self) -> int:
        return int(self.OPCODE)

    @property
    def response_code(self) -> int:
        return int(self.RESPONSE_CODE)


# -- requests ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResolutionRequest(_Fixed):
    """Query a handle; empty ``indexes`` and ``types`` ask for every value."""

    OPCODE: ClassVar[OpCode] = OC.OC_RESOLUTION
    handle: str
    indexes: tuple[int, ...] = ()
    types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GetSiteInfoRequest(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_GET_SITEINFO


@dataclass(frozen=True, slots=True)
class CreateHandleRequest(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_CREATE_HANDLE
    handle: str
    values: tuple[HandleValue, ...] = ()


@dataclass(frozen=True, slots=True)
class DeleteHandleRequest(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_DELETE_HANDLE
    handle: str


@dataclass(frozen=True, slots=True)
class AddValueRequest(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_ADD_VALUE
    handle: str
    values: tuple[HandleValue, ...] = ()


@dataclass(frozen=True, slots=True)
class RemoveValueRequest(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_REMOVE_VALUE
    handle: str
    indexes: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ModifyValueRequest(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_MODIFY_VALUE
    handle: str
    values: tuple[HandleValue, ...] = ()


@dataclass(frozen=True, slots=True)
class ListHandlesRequest(_Fixed):
    """List the handles under a prefix; ``handle`` is the prefix's NA handle (``0.NA/88.100``)."""

    OPCODE: ClassVar[OpCode] = OC.OC_LIST_HANDLE
    handle: str


@dataclass(frozen=True, slots=True)
class ListNAsRequest(_Fixed):
    """List the prefixes derived from a prefix; ``handle`` is its NA handle."""

    OPCODE: ClassVar[OpCode] = OC.OC_LIST_NA
    handle: str


@dataclass(frozen=True, slots=True)
class ChallengeAnswerRequest(_Fixed):
    """OC_CHALLENGE_RESPONSE: the client's answer to an RC_AUTHEN_NEEDED challenge.

    ``auth_type`` is ``HS_PUBKEY`` or ``HS_SECKEY``; the key is value ``key_index`` of
    ``key_handle``; ``answer`` is the signature (public key) or MAC (secret key) over the nonce and
    the request digest, framed here as opaque octets.
    """

    OPCODE: ClassVar[OpCode] = OC.OC_CHALLENGE_RESPONSE
    auth_type: str
    key_handle: str
    key_index: int
    answer: bytes


@dataclass(frozen=True, slots=True)
class VerifyRequest(_Fixed):
    """OC_VERIFY_RESPONSE: ask the server holding a secret key whether a challenge answer is right."""

    OPCODE: ClassVar[OpCode] = OC.OC_VERIFY_RESPONSE
    key_handle: str
    key_index: int
    nonce: bytes
    request_digest: bytes
    answer: bytes


@dataclass(frozen=True, slots=True)
class SessionSetupRequest(_Fixed):
    """OC_SESSION_SETUP, framed only: the key exchange mode and timeout, the rest opaque."""

    OPCODE: ClassVar[OpCode] = OC.OC_SESSION_SETUP
    key_exchange_mode: int
    timeout: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class SessionTerminateRequest(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_SESSION_TERMINATE


# -- successful responses ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResolutionResponse(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_RESOLUTION
    RESPONSE_CODE: ClassVar[ResponseCode] = RC.RC_SUCCESS
    handle: str
    values: tuple[HandleValue, ...] = ()


@dataclass(frozen=True, slots=True)
class EncodedResolution(_Fixed):
    """A resolution answer whose values are already in wire form (their count, then each value):
    encodes to the same octets as the :class:`ResolutionResponse` of those values, without building
    one value object per value. What a node answers from a record read straight from its store;
    never what the decoder gives (that is always a :class:`ResolutionResponse`)."""

    OPCODE: ClassVar[OpCode] = OC.OC_RESOLUTION
    RESPONSE_CODE: ClassVar[ResponseCode] = RC.RC_SUCCESS
    handle: str
    values_octets: bytes


@dataclass(frozen=True, slots=True)
class GetSiteInfoResponse(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_GET_SITEINFO
    RESPONSE_CODE: ClassVar[ResponseCode] = RC.RC_SUCCESS
    site: SiteInfo


@dataclass(frozen=True, slots=True)
class ListHandlesResponse(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_LIST_HANDLE
    RESPONSE_CODE: ClassVar[ResponseCode] = RC.RC_SUCCESS
    handles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ListNAsResponse(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_LIST_NA
    RESPONSE_CODE: ClassVar[ResponseCode] = RC.RC_SUCCESS
    handles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VerifyResponse(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_VERIFY_RESPONSE
    RESPONSE_CODE: ClassVar[ResponseCode] = RC.RC_SUCCESS
    ok: bool


@dataclass(frozen=True, slots=True)
class SessionSetupResponse(_Fixed):
    OPCODE: ClassVar[OpCode] = OC.OC_SESSION_SETUP
    RESPONSE_CODE: ClassVar[ResponseCode] = RC.RC_SUCCESS
    key_exchange_mode: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class SuccessResponse:
    """RC_SUCCESS with nothing to say: create, delete, add, remove, modify, session terminate ..."""

    opcode: int
    response_code: ClassVar[int] = int(RC.RC_SUCCESS)


# -- responses of any opcode ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """Any response code other than success, referral and challenge: a message for humans and,
    optionally, the indexes of the values the error is about."""

    opcode: int
    response_code: int
    message: str = ""
    indexes: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ReferralResponse:
    """RC_SERVICE_REFERRAL (or RC_NA_DELEGATE): ask another service.

    Either ``referral_handle`` names the handle whose HS_SITE/HS_SERV values describe it, or it is
    empty and ``values`` carries those values (HS_SITE) inline.
    """

    opcode: int
    referral_handle: str = ""
    values: tuple[HandleValue, ...] = ()
    response_code: int = int(RC.RC_SERVICE_REFERRAL)


@dataclass(frozen=True, slots=True)
class AuthChallenge:
    """RC_AUTHEN_NEEDED: the server's challenge; the client signs ``nonce`` (with the request
    digest, which an authentication challenge always carries) and answers with
    :class:`ChallengeAnswerRequest`."""

    opcode: int
    nonce: bytes
    response_code: ClassVar[int] = int(RC.RC_AUTHEN_NEEDED)


@dataclass(frozen=True, slots=True)
class OpaqueBody:
    """A body whose (opcode, response code) this codec does not interpret."""

    opcode: int
    response_code: int
    data: bytes = b""


Body: TypeAlias = (
    ResolutionRequest
    | GetSiteInfoRequest
    | CreateHandleRequest
    | DeleteHandleRequest
    | AddValueRequest
    | RemoveValueRequest
    | ModifyValueRequest
    | ListHandlesRequest
    | ListNAsRequest
    | ChallengeAnswerRequest
    | VerifyRequest
    | SessionSetupRequest
    | SessionTerminateRequest
    | ResolutionResponse
    | EncodedResolution
    | GetSiteInfoResponse
    | ListHandlesResponse
    | ListNAsResponse
    | VerifyResponse
    | SessionSetupResponse
    | SuccessResponse
    | ErrorResponse
    | ReferralResponse
    | AuthChallenge
    | OpaqueBody
)

_EMPTY_SUCCESS = frozenset(
    {
        OC.OC_CREATE_HANDLE,
        OC.OC_DELETE_HANDLE,
        OC.OC_ADD_VALUE,
        OC.OC_REMOVE_VALUE,
        OC.OC_MODIFY_VALUE,
        OC.OC_CHALLENGE_RESPONSE,
        OC.OC_SESSION_TERMINATE,
        OC.OC_HOME_NA,
        OC.OC_UNHOME_NA,
    }
)
_REFERRALS = frozenset({RC.RC_SERVICE_REFERRAL, RC.RC_NA_DELEGATE})


def _write_fields(w: Writer, body: Body) -> None:
    match body:
        case ResolutionRequest(handle=h, indexes=ix, types=ts):
            w.string(h).int_list(ix).string_list(ts)
        case GetSiteInfoRequest() | SessionTerminateRequest() | SuccessResponse():
            pass
        case (
            CreateHandleRequest(handle=h, values=vs)
            | AddValueRequest(handle=h, values=vs)
            | ModifyValueRequest(handle=h, values=vs)
            | ResolutionResponse(handle=h, values=vs)
        ):
            w.string(h)
            write_values(w, vs)
        case EncodedResolution(handle=h, values_octets=octets):
            w.string(h).raw(octets)
        case DeleteHandleRequest(handle=h) | ListHandlesRequest(handle=h) | ListNAsRequest(handle=h):
            w.string(h)
        case RemoveValueRequest(handle=h, indexes=ix):
            w.string(h).int_list(ix)
        case ChallengeAnswerRequest():
            w.string(body.auth_type).string(body.key_handle).u32(body.key_index).byte_array(body.answer)
        case VerifyRequest():
            w.string(body.key_handle).u32(body.key_index).byte_array(body.nonce)
            w.byte_array(body.request_digest).byte_array(body.answer)
        case SessionSetupRequest():
            w.u16(body.key_exchange_mode).u32(body.timeout).raw(body.data)
        case SessionSetupResponse():
            w.u16(body.key_exchange_mode).raw(body.data)
        case GetSiteInfoResponse(site=site):
            write_site(w, site)
        case ListHandlesResponse(handles=hs) | ListNAsResponse(handles=hs):
            w.string_list(hs)
        case VerifyResponse(ok=ok):
            w.u8(1 if ok else 0)
        case ErrorResponse():
            w.string(body.message)
            if body.indexes:
                w.int_list(body.indexes)
        case ReferralResponse():
            w.string(body.referral_handle)
            if body.values or not body.referral_handle:
                write_values(w, body.values)
        case AuthChallenge(nonce=nonce):
            w.byte_array(nonce)
        case OpaqueBody(data=data):
            w.raw(data)


def encode_body(body: Body, digest: RequestDigest | None = None) -> bytes:
    """The body octets; ``digest`` (responses with the RD flag only) goes first."""
    w = Writer()
    if digest is not None:
        digest.write(w)
    _write_fields(w, body)
    return w.getvalue()


def _read_request(opcode: int, r: Reader) -> Body | None:
    match opcode:
        case OC.OC_RESOLUTION:
            return ResolutionRequest(r.string("handle"), r.int_list(), r.string_list("types"))
        case OC.OC_GET_SITEINFO:
            return GetSiteInfoRequest()
        case OC.OC_CREATE_HANDLE:
            return CreateHandleRequest(r.string("handle"), read_values(r))
        case OC.OC_DELETE_HANDLE:
            return DeleteHandleRequest(r.string("handle"))
        case OC.OC_ADD_VALUE:
            return AddValueRequest(r.string("handle"), read_values(r))
        case OC.OC_REMOVE_VALUE:
            return RemoveValueRequest(r.string("handle"), r.int_list())
        case OC.OC_MODIFY_VALUE:
            return ModifyValueRequest(r.string("handle"), read_values(r))
        case OC.OC_LIST_HANDLE:
            return ListHandlesRequest(r.string("NA handle"))
        case OC.OC_LIST_NA:
            return ListNAsRequest(r.string("NA handle"))
        case OC.OC_CHALLENGE_RESPONSE:
            return ChallengeAnswerRequest(
                r.string("authentication type"),
                r.string("key handle"),
                r.u32("key index"),
                r.byte_array("challenge answer"),
            )
        case OC.OC_VERIFY_RESPONSE:
            return VerifyRequest(
                r.string("key handle"),
                r.u32("key index"),
                r.byte_array("nonce"),
                r.byte_array("request digest"),
                r.byte_array("challenge answer"),
            )
        case OC.OC_SESSION_SETUP:
            return SessionSetupRequest(r.u16("key exchange mode"), r.u32("session timeout"), r.rest())
        case OC.OC_SESSION_TERMINATE:
            return SessionTerminateRequest()
    return None


def _read_success(opcode: int, r: Reader) -> Body | None:
    match opcode:
        case OC.OC_RESOLUTION:
            return ResolutionResponse(r.string("handle"), read_values(r))
        case OC.OC_GET_SITEINFO:
            return GetSiteInfoResponse(read_site(r))
        case OC.OC_LIST_HANDLE:
            return ListHandlesResponse(r.string_list("handles"))
        case OC.OC_LIST_NA:
            return ListNAsResponse(r.string_list("NA handles"))
        case OC.OC_VERIFY_RESPONSE:
            return VerifyResponse(r.u8("verification result") == 1)
        case OC.OC_SESSION_SETUP:
            return SessionSetupResponse(r.u16("key exchange mode"), r.rest())
    if opcode in _EMPTY_SUCCESS:
        return SuccessResponse(opcode)
    return None


def decode_body(
    opcode: int, response_code: int, data: bytes | memoryview, *, has_digest: bool = False
) -> tuple[RequestDigest | None, Body]:
    """The body of a message with this header; ``has_digest`` when it is a response with RD set."""
    r = Reader(data)
    digest = RequestDigest.read(r) if has_digest and response_code != RC.RC_RESERVED else None
    body: Body | None
    if response_code == RC.RC_RESERVED:
        body = _read_request(opcode, r)
    elif response_code == RC.RC_SUCCESS:
        body = _read_success(opcode, r)
    elif response_code in _REFERRALS:
        handle = r.string("referral handle")
        values = read_values(r) if r.remaining else ()
        body = ReferralResponse(opcode, handle, values, response_code)
    elif response_code == RC.RC_AUTHEN_NEEDED:
        body = AuthChallenge(opcode, r.byte_array("nonce"))
    else:
        message = r.string("error message") if r.remaining else ""
        indexes = r.int_list("error indexes") if r.remaining >= 4 else ()
        body = ErrorResponse(opcode, response_code, message, indexes)
    if body is None:
        body = OpaqueBody(opcode, response_code, r.rest())
    return digest, body
