"""What a node answers to a Handle protocol request: one decoded message in, one message out.

Transport-free: the UDP and TCP servers (``idr.server``) decode octets with ``idr.wire``, call
``Service.answer`` and encode what it returns. Resolution, site information and listing are served
here; administration (create, delete, add/modify/remove values) needs an authenticated
administrator, which this protocol proves by challenge-response (RFC 3652, 3.5): the first request
is answered with a nonce, the client answers with the MAC of its secret key (HS_SECKEY) over the
nonce and the digest of the original request, and the pending request is then carried out.

An identifier whose prefix this node does not serve is answered with a referral to the node above
(``RC_SERVICE_REFERRAL`` naming ``0.NA/<prefix>``), never with a guess.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from indunet.idr import records
from indunet.idr.model import HS_SECKEY, InvalidHandle, normalise, split
from indunet.idr.records import Caller, HandleError
from indunet.idr.store import HandleStore
from indunet.idr.wire import (
    AddValueRequest,
    AuthChallenge,
    Body,
    ChallengeAnswerRequest,
    CreateHandleRequest,
    DeleteHandleRequest,
    ErrorResponse,
    GetSiteInfoRequest,
    GetSiteInfoResponse,
    ListHandlesRequest,
    ListHandlesResponse,
    Message,
    ModifyValueRequest,
    OpCode,
    ReferralResponse,
    RemoveValueRequest,
    ResolutionRequest,
    ResolutionResponse,
    ResponseCode,
    SuccessResponse,
    digest_request,
    response_to,
)
from indunet.idr.wire.values import SiteInfo

MAX_PENDING_CHALLENGES: Final = 10_000
CHALLENGE_TTL_S: Final = 60.0
NONCE_BYTES: Final = 16

_ADMIN_OPS = (
    CreateHandleRequest,
    DeleteHandleRequest,
    AddValueRequest,
    ModifyValueRequest,
    RemoveValueRequest,
)


def challenge_answer(secret: bytes, nonce: bytes, request_digest: bytes) -> bytes:
    """The secret-key answer to a challenge: HMAC-SHA256 of nonce and request digest under the key."""
    return hmac.new(secret, nonce + request_digest, hashlib.sha256).digest()


@dataclass
class _Pending:
    request: Message
    digest: bytes
    created: float


@dataclass
class Service:
    """The request handler of one node, over its store; ``prefixes`` are the prefixes it serves."""

    store: HandleStore
    prefixes: tuple[str, ...]
    site: SiteInfo = field(default_factory=SiteInfo)
    _challenges: OrderedDict[tuple[Any, int, bytes], _Pending] = field(default_factory=OrderedDict)

    def serves(self, handle: str) -> bool:
        """Whether ``handle`` lives here: its prefix is one of ours or below one (``0.NA`` records of
        our prefixes and of those we delegate included)."""
        try:
            prefix, suffix = split(handle)
        except InvalidHandle:
            return True  # answered with RC_INVALID_HANDLE by the operation itself
        if prefix == "0.NA":
            prefix = suffix.lower() if suffix.isascii() else suffix
        return any(prefix == p or prefix.startswith(p + ".") for p in self.prefixes)

    def answer(self, request: Message, raw: bytes, peer: Any = None) -> Message:
        """The response to one request (never raises for a request's content)."""
        body = request.body
        try:
            if isinstance(body, ResolutionRequest):
                return self._reply(request, raw, self._resolve(body))
            if isinstance(body, GetSiteInfoRequest):
                return self._reply(request, raw, GetSiteInfoResponse(self.site))
            if isinstance(body, ChallengeAnswerRequest):
                return self._answered(request, body, peer)
            if isinstance(body, (ListHandlesRequest, _ADMIN_OPS)):
                handle = getattr(body, "handle", "")
                if handle and not self.serves(handle):
                    return self._reply(request, raw, self._referral(body.opcode, handle))
                return self._challenge(request, raw, peer)
        except HandleError as exc:
            return self._reply(request, raw, ErrorResponse(body.opcode, int(exc.response_code), exc.message))
        return self._reply(
            request,
            raw,
            ErrorResponse(
                body.opcode, int(ResponseCode.RC_OPERATION_DENIED), "operation not supported by this node"
            ),
        )

    def _reply(self, request: Message, raw: bytes, body: Body) -> Message:
        return response_to(request, body, raw, site_info_serial=self.site.serial)

    def _resolve(self, body: ResolutionRequest) -> Body:
        if not self.serves(body.handle):
            return self._referral(OpCode.OC_RESOLUTION, body.handle)
        values = records.resolve(self.store, body.handle, indexes=body.indexes, types=body.types)
        return ResolutionResponse(body.handle, tuple(values))

    def _referral(self, opcode: int, handle: str) -> Body:
        prefix = handle.split("/", 1)[0]
        return ReferralResponse(int(opcode), referral_handle=f"0.NA/{prefix}")

    # -- administration: challenge, answer, then the operation --------------------------------------

    def _challenge(self, request: Message, raw: bytes, peer: Any) -> Message:
        nonce = secrets.token_bytes(NONCE_BYTES)
        digest = digest_request(raw).digest
        self._expire()
        if len(self._challenges) >= MAX_PENDING_CHALLENGES:
            self._challenges.popitem(last=False)
        self._challenges[(peer, request.session_id, nonce)] = _Pending(request, digest, time.monotonic())
        return response_to(request, AuthChallenge(request.body.opcode, nonce), raw)

    def _answered(self, message: Message, answer: ChallengeAnswerRequest, peer: Any) -> Message:
        pending = self._take(peer, message.session_id, answer)
        if pending is None:
            return Message(
                ErrorResponse(
                    int(OpCode.OC_CHALLENGE_RESPONSE), int(ResponseCode.RC_AUTHEN_FAILED), "no such challenge"
                ),
                request_id=message.request_id,
                session_id=message.session_id,
            )
        request, body = pending.request, pending.request.body
        try:
            caller = self._verify(answer, pending)
            result = self._administer(body, caller)
        except HandleError as exc:
            result = ErrorResponse(body.opcode, int(exc.response_code), exc.message)
        return Message(result, request_id=message.request_id, session_id=request.session_id)

    def _take(self, peer: Any, session: int, answer: ChallengeAnswerRequest) -> _Pending | None:
        # The answer names no nonce: it is the most recent challenge to this peer and session.
        for key in reversed(self._challenges):
            if key[0] == peer and key[1] == session:
                pending = self._challenges.pop(key)
                if time.monotonic() - pending.created <= CHALLENGE_TTL_S:
                    pending.digest = key[2] + pending.digest  # nonce + request digest, as signed
                    return pending
                return None
        return None

    def _verify(self, answer: ChallengeAnswerRequest, pending: _Pending) -> Caller:
        if answer.auth_type != HS_SECKEY:
            raise records.BadCredentials(f"authentication by {answer.auth_type[:40]} is not supported here")
        with self.store.read() as tx:
            try:
                key = tx.get_value(normalise(answer.key_handle), answer.key_index)
            except InvalidHandle:
                key = None
        secret = key.data if key is not None and key.type == HS_SECKEY else b""
        nonce, digest = pending.digest[:NONCE_BYTES], pending.digest[NONCE_BYTES:]
        expected = challenge_answer(secret, nonce, digest)
        if not secret or not hmac.compare_digest(expected, answer.answer):
            raise records.BadCredentials("the challenge answer is wrong")
        return records.administrator(answer.key_handle, answer.key_index)

    def _administer(self, body: Body, caller: Caller) -> Body:
        if isinstance(body, CreateHandleRequest):
            records.create_handle(self.store, body.handle, body.values, caller)
        elif isinstance(body, DeleteHandleRequest):
            records.delete_handle(self.store, body.handle, caller)
        elif isinstance(body, AddValueRequest):
            records.put_values(self.store, body.handle, body.values, caller, overwrite=False)
        elif isinstance(body, ModifyValueRequest):
            records.put_values(self.store, body.handle, body.values, caller, overwrite=True)
        elif isinstance(body, RemoveValueRequest):
            records.remove_values(self.store, body.handle, body.indexes, caller)
        elif isinstance(body, ListHandlesRequest):
            prefix = body.handle.split("/", 1)[1] if "/" in body.handle else body.handle
            _, listed = records.list_handles(self.store, prefix, caller)
            return ListHandlesResponse(tuple(listed))
        return SuccessResponse(body.opcode)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._challenges:
            key = next(iter(self._challenges))
            if now - self._challenges[key].created <= CHALLENGE_TTL_S:
                break
            del self._challenges[key]
