"""The recursive node: resolves any identifier by walking the hierarchy, and caches what it learns.

Theory of operation. To resolve ``88.100.1/abc`` the node needs the sites serving ``88.100.1``. Those
are in the HS_SITE values of ``0.NA/88.100.1``, a record kept by the sites of ``88.100``, whose own
sites are in ``0.NA/88.100`` at the sites of ``88``, whose record is at the top-level node (the
configured root). Prefix records are resolved with the same cached, coalesced lookup as any
identifier, so a walk asks each level once per TTL:

    0.NA/88 @ root -> 0.NA/88.100 @ sites(88) -> 0.NA/88.100.1 @ sites(88.100) -> 88.100.1/abc @ sites(88.100.1)

A prefix record without HS_SITE values (or none at all) means the prefix is served by the sites of
the level above. A node that delegated a prefix answers with a referral carrying the delegate's
sites; the resolver follows at most :data:`MAX_REFERRALS` of them.

- **Cache**: whole public records by identifier, for the smallest TTL of their values (relative or
  absolute, capped at ``max_ttl_s``); a value with TTL 0 makes its record uncachable. Index and type
  filters are applied here, so one entry serves every filter.
- **Negative cache**: "no such identifier" and "no such values" are kept for ``negative_ttl_s``.
- **Failover**: each HS_SITE value is a replica site; the servers of primary sites are asked first.
  An endpoint that does not answer in ``timeout_s`` is marked down for ``down_s`` and the next one is
  asked; down endpoints are asked last, never skipped, so a recovered site is found again.
- **Coalescing**: concurrent misses for one identifier wait for one upstream question.

A walk is bounded: a lookup that needs itself again (a referral loop) fails at once, and every miss
has a deadline (``deadline_s``), so no arrangement of records can hang a client.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from indunet.idr import signed
from indunet.idr.model import (
    NA_PREFIX,
    HandleValue,
    InvalidHandle,
    TtlType,
    na_handle,
    normalise,
    parents,
    split,
)
from indunet.idr.records import type_matches
from indunet.idr.signed import HS_SIGNATURE
from indunet.idr.sites import Endpoint, endpoints, sites_of
from indunet.idr.upstream import UdpUpstream, Unreachable
from indunet.idr.wire import (
    Body,
    ErrorResponse,
    GetSiteInfoRequest,
    GetSiteInfoResponse,
    Message,
    ReferralResponse,
    ResolutionRequest,
    ResolutionResponse,
    ResponseCode,
    response_to,
)
from indunet.idr.wire.values import SiteInfo, TransmissionProtocol

MAX_REFERRALS: Final = 4
MAX_CACHED: Final = 200_000
_walking: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("idr_walk", default=())
_NEGATIVE = frozenset({int(ResponseCode.RC_HANDLE_NOT_FOUND), int(ResponseCode.RC_VALUE_NOT_FOUND)})


@dataclass(frozen=True, slots=True)
class Found:
    values: tuple[HandleValue, ...]


@dataclass(frozen=True, slots=True)
class Failed:
    code: int
    message: str


Outcome = Found | Failed


@dataclass
class RecursorStats:
    """Counters for operations (exposed on the console and in the node's status)."""

    hits: int = 0
    negative_hits: int = 0
    misses: int = 0
    coalesced: int = 0
    upstream: int = 0
    failovers: int = 0
    referrals: int = 0
    verified: int = 0
    untrusted: int = 0


def _ttl(values: Iterable[HandleValue], now_epoch: float, cap: float) -> float:
    ttl = cap
    for value in values:
        remaining = value.ttl - now_epoch if value.ttl_type == TtlType.ABSOLUTE else value.ttl
        ttl = min(ttl, remaining)
    return max(0.0, ttl)


def select(values: Sequence[HandleValue], indexes: Sequence[int], types: Sequence[str]) -> Outcome:
    """The values a request's filters pick (an index or a type matching), as an authoritative node does."""
    if not indexes and not types:
        return Found(tuple(values))
    chosen = tuple(v for v in values if v.index in indexes or type_matches(v.type, types))
    if not chosen:
        return Failed(int(ResponseCode.RC_VALUE_NOT_FOUND), "no such values")
    return Found(chosen)


@dataclass
class Recursor:
    """Resolution of any identifier from ``root`` (the top-level node's endpoints) down."""

    root: Sequence[Endpoint]
    negative_ttl_s: float = 60.0
    max_ttl_s: float = 86_400.0
    timeout_s: float = 1.0
    deadline_s: float = 10.0
    down_s: float = 30.0
    max_cached: int = MAX_CACHED
    site: SiteInfo = field(default_factory=SiteInfo)
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    stats: RecursorStats = field(default_factory=RecursorStats)
    upstream: UdpUpstream = field(default_factory=UdpUpstream)
    anchor: str | None = None
    """BID of the top-level node's key: signed records (HS_SIGNATURE) are checked up to it on their
    way into the cache, and refused when they do not verify (unsigned records pass as they are)."""
    _cache: OrderedDict[str, tuple[float, Outcome]] = field(default_factory=OrderedDict)
    _inflight: dict[str, asyncio.Future[Outcome]] = field(default_factory=dict)
    _down: dict[Endpoint, float] = field(default_factory=dict)

    # -- serving ---------------------------------------------------------------------------------

    def answer(self, request: Message, raw: bytes, peer: Any = None) -> Message | Awaitable[Message]:
        body = request.body
        if isinstance(body, ResolutionRequest):
            cached = self.cached(body.handle)
            if cached is not None:
                return response_to(request, self._body(body, cached), raw)
            return self._answer_later(request, raw, body)
        if isinstance(body, GetSiteInfoRequest):
            return response_to(request, GetSiteInfoResponse(self.site), raw)
        refusal = ErrorResponse(
            body.opcode,
            int(ResponseCode.RC_OPERATION_DENIED),
            "a recursive node only resolves; send administration to the node holding the identifier",
        )
        return response_to(request, refusal, raw)

    async def _answer_later(self, request: Message, raw: bytes, body: ResolutionRequest) -> Message:
        return response_to(request, self._body(body, await self.lookup(body.handle)), raw)

    @staticmethod
    def _body(request: ResolutionRequest, outcome: Outcome) -> Body:
        if isinstance(outcome, Found):
            outcome = select(outcome.values, request.indexes, request.types)
        if isinstance(outcome, Failed):
            return ErrorResponse(request.opcode, outcome.code, outcome.message)
        return ResolutionResponse(request.handle, outcome.values)

    # -- resolution ------------------------------------------------------------------------------

    async def resolve(self, handle: str, indexes: Sequence[int] = (), types: Sequence[str] = ()) -> Outcome:
        """The values of ``handle`` (filtered), or why there are none."""
        outcome = await self.lookup(handle)
        return select(outcome.values, indexes, types) if isinstance(outcome, Found) else outcome

    def cached(self, handle: str) -> Outcome | None:
        """The unexpired cache entry for ``handle``, counting the hit."""
        try:
            name = normalise(handle)
        except InvalidHandle as exc:
            return Failed(int(ResponseCode.RC_INVALID_HANDLE), str(exc))
        entry = self._cache.get(name)
        if entry is None:
            return None
        expires, outcome = entry
        if self.clock() >= expires:
            del self._cache[name]
            return None
        if isinstance(outcome, Found):
            self.stats.hits += 1
        else:
            self.stats.negative_hits += 1
        return outcome

    async def lookup(self, handle: str) -> Outcome:
        """The whole public record of ``handle``: from the cache, a question already in flight, or
        the hierarchy."""
        cached = self.cached(handle)
        if cached is not None:
            return cached
        name = normalise(handle)
        walk = _walking.get()
        if name in walk:
            return Failed(int(ResponseCode.RC_RECUR_LIMIT_EXCEEDED), f"referral loop through {name}")
        waiting = self._inflight.get(name)
        if waiting is not None:
            self.stats.coalesced += 1
            return await asyncio.shield(waiting)
        self.stats.misses += 1
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._inflight[name] = future
        token = _walking.set((*walk, name))
        try:
            try:
                async with asyncio.timeout(self.deadline_s):
                    outcome, ttl = await self._fetch(name)
                    outcome = await self._checked(name, outcome)
            except TimeoutError:
                outcome, ttl = Failed(int(ResponseCode.RC_ERROR), f"{name} not resolved in time"), 0.0
            if ttl > 0:
                self._remember(name, outcome, ttl)
            future.set_result(outcome)
            return outcome
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: waiters get it too, nobody else is told
            raise
        finally:
            _walking.reset(token)
            del self._inflight[name]

    async def _checked(self, name: str, outcome: Outcome) -> Outcome:
        if self.anchor is None or not isinstance(outcome, Found):
            return outcome
        if not any(v.type == HS_SIGNATURE for v in outcome.values):
            return outcome
        chain: dict[str, Sequence[HandleValue] | None] = {}
        for level in signed.chain_prefixes(name):
            fetched = await self.lookup(f"{NA_PREFIX}/{level}")
            chain[f"{NA_PREFIX}/{level}"] = fetched.values if isinstance(fetched, Found) else None
        try:
            signed.verify_record(name, outcome.values, chain.get, self.anchor, int(self.wall_clock() * 1000))
        except signed.NotTrusted as exc:
            self.stats.untrusted += 1
            return Failed(int(ResponseCode.RC_ERROR), f"{name} does not verify: {exc}")
        self.stats.verified += 1
        return outcome

    def _remember(self, name: str, outcome: Outcome, ttl: float) -> None:
        self._cache.pop(name, None)
        if len(self._cache) >= self.max_cached:
            self._cache.popitem(last=False)
        self._cache[name] = (self.clock() + ttl, outcome)

    async def _fetch(self, name: str) -> tuple[Outcome, float]:
        prefix, suffix = split(name)
        levels = parents(suffix)[:-1] if prefix == NA_PREFIX else parents(prefix)
        sites = await self._sites_for(levels)
        for _ in range(MAX_REFERRALS + 1):
            try:
                response = await self._ask(sites, name)
            except Unreachable as exc:
                return Failed(int(ResponseCode.RC_ERROR), str(exc)), 0.0
            body = response.body
            if isinstance(body, ResolutionResponse):
                return Found(body.values), _ttl(body.values, self.wall_clock(), self.max_ttl_s)
            if isinstance(body, ReferralResponse):
                self.stats.referrals += 1
                referred = sites_of(body.values)
                if not referred and body.referral_handle:
                    target = await self.lookup(body.referral_handle)
                    referred = sites_of(target.values) if isinstance(target, Found) else []
                if not referred:
                    return Failed(int(ResponseCode.RC_SERVICE_REFERRAL), "a referral named no sites"), 0.0
                sites = referred
                continue
            if isinstance(body, ErrorResponse):
                ttl = self.negative_ttl_s if body.response_code in _NEGATIVE else 0.0
                return Failed(body.response_code, body.message), ttl
            return Failed(int(ResponseCode.RC_ERROR), f"unexpected answer {type(body).__name__}"), 0.0
        return Failed(int(ResponseCode.RC_RECUR_LIMIT_EXCEEDED), "too many referrals"), 0.0

    async def _sites_for(self, levels: Sequence[str]) -> list[SiteInfo] | None:
        """The sites serving the deepest of ``levels`` (a prefix and those above it, most general
        first); None for the root."""
        for depth in range(len(levels), 0, -1):
            record = await self.lookup(na_handle(levels[depth - 1]))
            if isinstance(record, Found):
                found = sites_of(record.values)
                if found:
                    return found
        return None

    async def _ask(self, sites: list[SiteInfo] | None, name: str) -> Message:
        candidates = (
            list(self.root)
            if sites is None
            else [e for s in sites for e in endpoints(s, TransmissionProtocol.UDP)]
        )
        if not candidates:
            raise Unreachable(f"no site of {name.split('/', 1)[0]} resolves over UDP")
        now = self.clock()
        ordered = sorted(candidates, key=lambda e: self._down.get(e, 0.0) > now)  # stable: up first
        last: Unreachable | None = None
        for endpoint in ordered:
            self.stats.upstream += 1
            try:
                answer = await self.upstream.ask(endpoint, ResolutionRequest(name), self.timeout_s)
            except Unreachable as exc:
                last = exc
                self._down[endpoint] = self.clock() + self.down_s
                self.stats.failovers += 1
                continue
            body = answer.body
            if isinstance(body, ErrorResponse) and body.response_code == ResponseCode.RC_SERVER_BUSY:
                last = Unreachable(f"{endpoint} is busy")
                continue
            self._down.pop(endpoint, None)
            return answer
        assert last is not None
        raise last

    def tick(self, final: bool = False) -> None:
        """Forget endpoints marked down long ago (the map would otherwise keep every address seen)."""
        now = self.clock()
        for endpoint in [e for e, until in self._down.items() if until < now]:
            del self._down[endpoint]

    def close(self) -> None:
        self.upstream.close()
