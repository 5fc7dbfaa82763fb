"""What a node answers to a Handle protocol request: one decoded message in, one message out.

Transport-free: the UDP and TCP servers (``idr.server``) decode octets with ``idr.wire``, call
``Service.answer`` and encode what it returns. Resolution, site information and listing are served
here; administration (create, delete, add/modify/remove values) needs an authenticated
administrator, which this protocol proves by challenge-response (RFC 3652, 3.5): the first request
is answered with a nonce, the client answers with the MAC of its secret key (HS_SECKEY) over the
nonce and the digest of the original request, or with its signature over them by the private key of
its HS_PUBKEY (RSA, DSA or SM2: :mod:`indunet.idr.pubkey`), and the pending request is carried out.

An identifier whose prefix this node does not serve is answered with a referral to the node above
(``RC_SERVICE_REFERRAL`` naming ``0.NA/<prefix>``), never with a guess. An identifier under a prefix
this node delegated (its ``0.NA`` record here has HS_SITE values) is answered with a referral to that
record, the site values inline, so a resolver goes one level down without asking again.

Resolution answers are cached per identifier and filter, in memory: the store tells the service which
identifiers each write changed, and a changed identifier's answers are dropped before the write is
acknowledged. A read that raced a write is not cached (the generation counter moved). Several
processes serving one store (``--workers``) learn of each other's writes from the store's change log
within a tick (a quarter of a second).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from indunet.idr import pubkey, records
from indunet.idr.fastpath import RawAnswers
from indunet.idr.model import (
    HS_PUBKEY,
    HS_SECKEY,
    HS_SITE,
    NA_PREFIX,
    InvalidHandle,
    na_handle,
    normalise,
    parents,
    split,
)
from indunet.idr.records import Caller, HandleError
from indunet.idr.sites import sites_of
from indunet.idr.stats import ResolutionStats
from indunet.idr.store import HandleStore
from indunet.idr.wire import (
    AddValueRequest,
    AuthChallenge,
    Body,
    ChallengeAnswerRequest,
    CreateHandleRequest,
    DeleteHandleRequest,
    EncodedResolution,
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

MAX_CACHED_HANDLES: Final = 100_000
STATS_EVERY_S: Final = 10.0
CHANGE_LOG_KEEP_S: Final = 600.0
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
    cache_size: int = MAX_CACHED_HANDLES
    stats: ResolutionStats = field(default_factory=ResolutionStats)
    _challenges: OrderedDict[tuple[Any, int, bytes], _Pending] = field(default_factory=OrderedDict)
    _answers: OrderedDict[str, dict[tuple[tuple[int, ...], tuple[str, ...]], Body]] = field(
        default_factory=OrderedDict
    )
    _delegated: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    _generation: int = 0
    _seen_change: int = 0
    _flushed: float = field(default_factory=time.monotonic)
    _pruned: float = 0.0

    def __post_init__(self) -> None:
        self.store.subscribe(self._changed)
        if self.store.change_log:
            # From here on, not from the first tick: a change in between would be missed for good.
            self._seen_change = self.store.last_change()
        self.raw_answers = RawAnswers(self, self.cache_size)

    def cached_answer(self, name: str, key: tuple[tuple[int, ...], tuple[str, ...]]) -> Body | None:
        """The cached resolution answer for a normalised identifier and filters, if any."""
        entry = self._answers.get(name)
        return None if entry is None else entry.get(key)

    def tick(self, final: bool = False) -> None:
        """Housekeeping, called by the server several times a second and once at stop (``final``):
        changes made by other processes serving the store (when it logs changes) drop this
        process's cached answers at once; statistics go to the store every :data:`STATS_EVERY_S`
        and at stop."""
        now = time.monotonic()
        if self.store.change_log and not final:
            self._follow(now)
        if final or now - self._flushed >= STATS_EVERY_S:
            self._flushed = now
            self.flush_stats()

    def flush_stats(self) -> None:
        drained = self.stats.drain()
        if drained:
            with self.store.write() as tx:
                tx.add_stats(drained)

    def _follow(self, now: float) -> None:
        found = self.store.changes_since(self._seen_change)
        if not found:
            return
        self._seen_change = found[-1][0]
        changed = frozenset(name for _, kind, name in found if kind == "h")
        if changed:
            self._changed(changed)
        created = {name for _, kind, name in found if kind == "c"}
        if created:
            self._drop_negative(created)
        if now - self._pruned >= CHANGE_LOG_KEEP_S / 10:
            self._pruned = now
            self.store.prune_changes(CHANGE_LOG_KEEP_S)

    def _drop_negative(self, prefixes: set[str]) -> None:
        """Forget "no such identifier" answers under ``prefixes`` (identifiers were created there)."""
        self._generation += 1
        for name in [n for n in self._answers if n.partition("/")[0] in prefixes]:
            entry = self._answers.get(name)
            if entry is not None and any(isinstance(a, ErrorResponse) for a in entry.values()):
                self._answers.pop(name, None)

    def _changed(self, handles: frozenset[str]) -> None:
        # Runs in the writer's thread (REST handlers write from a thread pool): plain dict operations
        # only, each atomic, and the generation bump makes any answer read before this one uncachable.
        self._generation += 1
        if any(h.startswith(NA_PREFIX + "/") for h in handles):
            self._delegated.clear()  # referrals for everything below a prefix may have changed
            self._answers.clear()
            return
        for handle in handles:
            self._answers.pop(handle, None)

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
                started = time.perf_counter()
                answer = self.resolve(body)
                self.stats.record(
                    body.handle.partition("/")[0].lower()[:64],
                    time.perf_counter() - started,
                    ok=isinstance(answer, (ResolutionResponse, EncodedResolution)),
                )
                return self._reply(request, raw, answer)
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

    def resolve(self, body: ResolutionRequest) -> Body:
        """The answer to a resolution request, from the answer cache when it holds one (kept there)."""
        try:
            name = normalise(body.handle)
        except InvalidHandle:
            return self._answer_resolution(body)  # answered RC_INVALID_HANDLE, not worth caching
        key = (body.indexes, body.types)
        cached = self._answers.get(name)
        if cached is not None and key in cached:
            return cached[key]
        generation = self._generation
        answer = self._answer_resolution(body)
        if generation == self._generation and self.cache_size > 0:
            # Oldest first out when full: a hit does not reorder (that would cost every hit a write).
            entry = self._answers.get(name)
            if entry is None:
                if len(self._answers) >= self.cache_size:
                    self._answers.popitem(last=False)
                entry = self._answers[name] = {}
            if len(entry) < 64:  # filters are few in practice; a scan over many must not grow memory
                entry[key] = answer
        return answer

    def _answer_resolution(self, body: ResolutionRequest) -> Body:
        if not self.serves(body.handle):
            return self._referral(OpCode.OC_RESOLUTION, body.handle)
        delegated = self._delegation(body.handle)
        if delegated is not None:
            prefix, site_values = delegated
            return ReferralResponse(int(OpCode.OC_RESOLUTION), na_handle(prefix), site_values)
        if not body.indexes and not body.types:
            # The common question, asked of a record that is all public: its values go out as stored.
            try:
                octets = self.store.public_octets(normalise(body.handle))
            except InvalidHandle:
                octets = None  # answered below with the reason
            if octets is not None:
                return EncodedResolution(body.handle, octets)
        try:
            values = records.resolve(self.store, body.handle, indexes=body.indexes, types=body.types)
        except HandleError as exc:
            return ErrorResponse(body.opcode, int(exc.response_code), exc.message)
        return ResolutionResponse(body.handle, tuple(values))

    def _referral(self, opcode: int, handle: str) -> Body:
        prefix = handle.split("/", 1)[0]
        return ReferralResponse(int(opcode), referral_handle=f"0.NA/{prefix}")

    def _delegation(self, handle: str) -> tuple[str, tuple[Any, ...]] | None:
        """The prefix below ours, delegated to other sites, under which ``handle`` lives; with its
        HS_SITE values."""
        try:
            prefix, suffix = split(handle)
        except InvalidHandle:
            return None
        chain = parents(suffix)[:-1] if prefix == NA_PREFIX else parents(prefix)
        for level in chain:
            if not any(level.startswith(p + ".") for p in self.prefixes):
                continue  # ours or above ours
            found = self._delegated.get(level)
            if found is None:
                with self.store.read() as tx:
                    record = tx.get(na_handle(level)) or []
                found = tuple(v for v in record if v.type == HS_SITE and v.public and sites_of([v]))
                if len(self._delegated) >= self.cache_size:
                    self._delegated.clear()
                self._delegated[level] = found
            if found:
                return level, found
        return None

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
        if answer.auth_type not in (HS_SECKEY, HS_PUBKEY):
            raise records.BadCredentials(f"authentication by {answer.auth_type[:40]} is not supported here")
        with self.store.read() as tx:
            try:
                key = tx.get_value(normalise(answer.key_handle), answer.key_index)
            except InvalidHandle:
                key = None
        nonce, digest = pending.digest[:NONCE_BYTES], pending.digest[NONCE_BYTES:]
        if key is None or key.type != answer.auth_type:
            raise records.BadCredentials("no such key")
        if key.type == HS_PUBKEY:
            if not pubkey.verify(key.data, nonce + digest, answer.answer):
                raise records.BadCredentials("the signature does not verify")
        elif not key.data or not hmac.compare_digest(
            challenge_answer(key.data, nonce, digest), answer.answer
        ):
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
