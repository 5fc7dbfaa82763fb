"""A federation on loopback: a top-level node (88), two secondary nodes (88.100, 88.200), an
enterprise prefix (88.100.1) served by two replica sites, and a recursive node that starts from the
top-level node only. Prefixes are allocated over the protocol, as operators do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from indunet.idr import client, records
from indunet.idr.bootstrap import delegation_record, ensure_prefix
from indunet.idr.model import HS_SITE, HandleValue
from indunet.idr.recursive import Recursor
from indunet.idr.server import IdrServer
from indunet.idr.service import Service
from indunet.idr.sites import Endpoint, site, sites_of
from indunet.idr.store import HandleStore, open_store
from indunet.idr.wire import CreateHandleRequest, Message, ReferralResponse, ResolutionRequest, ResponseCode

SECRETS = {"88": b"top secret", "88.100": b"machinery", "88.200": b"chemicals", "88.100.1": b"pump works"}
TTL = 120
NEGATIVE_TTL = 30.0


@dataclass
class Federation:
    stores: dict[str, HandleStore]
    servers: dict[str, IdrServer]
    recursor: Recursor
    resolver: IdrServer
    offset: list[float] = field(default_factory=lambda: [0.0])

    def later(self, seconds: float) -> None:
        """Move the recursive node's clock on (cache expiry without waiting)."""
        self.offset[0] += seconds

    async def resolve(self, handle: str, **kw: object) -> tuple[HandleValue, ...]:
        return await client.resolve("127.0.0.1", self.resolver.port, handle, **kw)  # type: ignore[arg-type]


def endpoint(server: IdrServer) -> Endpoint:
    return Endpoint("127.0.0.1", server.port)


async def allocate(parent: IdrServer, prefix: str, parent_prefix: str, *servers: IdrServer) -> None:
    na, values = delegation_record(prefix, [site([endpoint(s)]) for s in servers])
    admin = (f"0.NA/{parent_prefix}", 300)
    await client.administer(
        "127.0.0.1", parent.port, CreateHandleRequest(na, tuple(values)), admin, SECRETS[parent_prefix]
    )


def pump_values(url: str) -> list[HandleValue]:
    return [HandleValue(1, "URL", url.encode(), ttl=TTL), HandleValue(2, "model", b"CP-200", ttl=TTL)]


def run(tmp_path: Path, scenario: Callable[[Federation], Awaitable[None]]) -> None:
    async def main() -> None:
        stores = {p: open_store(tmp_path / f"{p}.db") for p in SECRETS}
        for prefix, store in stores.items():
            ensure_prefix(store, prefix, SECRETS[prefix])
        records.create_handle(
            stores["88.100.1"], "88.100.1/pump-0001", pump_values("https://a.example/pump/1"), records.SYSTEM
        )
        records.create_handle(
            stores["88.200"],
            "88.200/tank-7",
            [HandleValue(1, "URL", b"https://chem.example/tank/7")],
            records.SYSTEM,
        )
        servers = {
            "top": IdrServer(Service(stores["88"], ("88",)), "127.0.0.1", 0),
            "machinery": IdrServer(Service(stores["88.100"], ("88.100",)), "127.0.0.1", 0),
            "chemicals": IdrServer(Service(stores["88.200"], ("88.200",)), "127.0.0.1", 0),
            # Two replica sites of the enterprise prefix over one database (a mirror).
            "pump-a": IdrServer(Service(stores["88.100.1"], ("88.100.1",)), "127.0.0.1", 0),
            "pump-b": IdrServer(Service(stores["88.100.1"], ("88.100.1",)), "127.0.0.1", 0),
        }
        for server in servers.values():
            await server.start()
        await allocate(servers["top"], "88.100", "88", servers["machinery"])
        await allocate(servers["top"], "88.200", "88", servers["chemicals"])
        await allocate(servers["machinery"], "88.100.1", "88.100", servers["pump-a"], servers["pump-b"])
        offset = [0.0]
        recursor = Recursor(
            [endpoint(servers["top"])],
            negative_ttl_s=NEGATIVE_TTL,
            timeout_s=0.3,
            down_s=600.0,
            clock=lambda: time.monotonic() + offset[0],
        )
        resolver = await IdrServer(recursor, "127.0.0.1", 0).start()
        try:
            await scenario(Federation(stores, servers, recursor, resolver, offset))
        finally:
            await resolver.stop()
            recursor.close()
            for server in servers.values():
                await server.stop()
            for store in stores.values():
                store.close()

    asyncio.run(main())


def test_the_top_level_node_refers_to_the_secondary_node_with_its_sites(tmp_path: Path) -> None:
    async def scenario(fed: Federation) -> None:
        top = fed.servers["top"]
        answer = await client.request_udp(
            "127.0.0.1", top.port, Message(ResolutionRequest("88.100.1/pump-0001"), request_id=7)
        )
        assert isinstance(answer.body, ReferralResponse)
        assert answer.body.referral_handle == "0.NA/88.100"
        (referred,) = sites_of(answer.body.values)
        assert [s.ip.exploded for s in referred.servers] == ["127.0.0.1"]
        assert referred.servers[0].interfaces[0].port == fed.servers["machinery"].port

    run(tmp_path, scenario)


def test_resolution_through_the_recursive_node_then_from_its_cache(tmp_path: Path) -> None:
    async def scenario(fed: Federation) -> None:
        values = await fed.resolve("88.100.1/pump-0001")
        assert {(v.type, v.data) for v in values} == {
            ("URL", b"https://a.example/pump/1"),
            ("model", b"CP-200"),
        }
        asked = fed.recursor.stats.upstream
        assert asked >= 4  # 0.NA/88, 0.NA/88.100, 0.NA/88.100.1 and the identifier itself
        again = await fed.resolve("88.100.1/pump-0001", types=("URL",))
        assert [v.data for v in again] == [b"https://a.example/pump/1"]
        assert fed.recursor.stats.upstream == asked  # answered from the cache
        assert fed.recursor.stats.hits >= 1
        # The other branch of the tree reuses the cached top-level record.
        tank = await fed.resolve("88.200/tank-7", tcp=True)
        assert tank[0].data == b"https://chem.example/tank/7"
        assert fed.recursor.stats.upstream == asked + 2  # 0.NA/88.200 and the identifier

    run(tmp_path, scenario)


def test_a_changed_value_shows_once_its_ttl_has_expired(tmp_path: Path) -> None:
    async def scenario(fed: Federation) -> None:
        await fed.resolve("88.100.1/pump-0001")
        records.put_values(
            fed.stores["88.100.1"],
            "88.100.1/pump-0001",
            pump_values("https://b.example/pump/1")[:1],
            records.SYSTEM,
        )
        cached = await fed.resolve("88.100.1/pump-0001", types=("URL",))
        assert cached[0].data == b"https://a.example/pump/1"
        fed.later(TTL - 5)
        assert (await fed.resolve("88.100.1/pump-0001", types=("URL",)))[
            0
        ].data == b"https://a.example/pump/1"
        fed.later(10)
        assert (await fed.resolve("88.100.1/pump-0001", types=("URL",)))[
            0
        ].data == b"https://b.example/pump/1"

    run(tmp_path, scenario)


def test_a_missing_identifier_is_remembered_for_the_negative_ttl(tmp_path: Path) -> None:
    async def scenario(fed: Federation) -> None:
        with pytest.raises(client.ClientError) as missing:
            await fed.resolve("88.100.1/pump-0002")
        assert missing.value.code == ResponseCode.RC_HANDLE_NOT_FOUND
        records.create_handle(
            fed.stores["88.100.1"], "88.100.1/pump-0002", pump_values("https://x"), records.SYSTEM
        )
        with pytest.raises(client.ClientError):
            await fed.resolve("88.100.1/pump-0002")
        assert fed.recursor.stats.negative_hits == 1
        fed.later(NEGATIVE_TTL + 1)
        assert len(await fed.resolve("88.100.1/pump-0002")) == 2

    run(tmp_path, scenario)


def test_failover_to_the_other_replica_site_when_one_is_down(tmp_path: Path) -> None:
    async def scenario(fed: Federation) -> None:
        await fed.resolve("88.100.1/pump-0001")
        await fed.servers["pump-a"].stop()
        fed.later(TTL + 1)
        values = await fed.resolve("88.100.1/pump-0001")
        assert len(values) == 2
        assert fed.recursor.stats.failovers == 1
        # The dead site is asked last from now on: no second timeout for the next miss.
        fed.later(TTL + 1)
        await fed.resolve("88.100.1/pump-0001")
        assert fed.recursor.stats.failovers == 1
        # With every replica down the client gets an error, not silence.
        await fed.servers["pump-b"].stop()
        fed.later(TTL + 1)
        with pytest.raises(client.ClientError) as down:
            await fed.resolve("88.100.1/pump-0001", timeout_s=5.0)
        assert down.value.code == ResponseCode.RC_ERROR

    run(tmp_path, scenario)


def test_concurrent_misses_for_one_identifier_ask_upstream_once(tmp_path: Path) -> None:
    async def scenario(fed: Federation) -> None:
        await fed.resolve("88.100.1/pump-0001")  # the prefix records are cached now
        records.create_handle(
            fed.stores["88.100.1"], "88.100.1/pump-0003", pump_values("https://c"), records.SYSTEM
        )
        before = fed.recursor.stats.upstream
        answers = await asyncio.gather(*(fed.resolve("88.100.1/pump-0003") for _ in range(20)))
        assert all(len(a) == 2 for a in answers)
        assert fed.recursor.stats.upstream == before + 1
        assert fed.recursor.stats.coalesced + fed.recursor.stats.hits >= 19

    run(tmp_path, scenario)


def test_the_recursive_node_refuses_administration(tmp_path: Path) -> None:
    async def scenario(fed: Federation) -> None:
        request = CreateHandleRequest("88.100.1/x", (HandleValue(1, "URL", b"u"),))
        with pytest.raises(client.ClientError) as refused:
            await client.administer("127.0.0.1", fed.resolver.port, request, ("0.NA/88.100.1", 300), b"s")
        assert refused.value.code == ResponseCode.RC_OPERATION_DENIED

    run(tmp_path, scenario)


def test_site_records_are_public_and_carry_the_replicas(tmp_path: Path) -> None:
    async def scenario(fed: Federation) -> None:
        na = await client.resolve(
            "127.0.0.1", fed.servers["machinery"].port, "0.NA/88.100.1", types=(HS_SITE,)
        )
        ports = sorted(s.servers[0].interfaces[0].port for s in sites_of(na))
        assert ports == sorted([fed.servers["pump-a"].port, fed.servers["pump-b"].port])

    run(tmp_path, scenario)
