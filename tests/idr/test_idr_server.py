"""A node over the Handle protocol, UDP and TCP: resolution, referral, administration with
challenge-response, and malformed input answered or dropped, never a crash."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.idr import client, records
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.model import HandleValue
from indunet.idr.server import IdrServer
from indunet.idr.service import Service
from indunet.idr.store import HandleStore, open_store
from indunet.idr.wire import (
    CreateHandleRequest,
    DeleteHandleRequest,
    Message,
    ModifyValueRequest,
    ReferralResponse,
    ResolutionRequest,
    ResponseCode,
    SuccessResponse,
    decode,
    encode,
)
from indunet.idr.wire.values import AdminPermission, AdminRecord, encode_admin

PREFIX = "88.100.1"
SECRET = b"correct horse battery staple"
ADMIN = ("0.NA/88.100.1", 300)


@pytest.fixture
def store(tmp_path: Path) -> HandleStore:
    opened = open_store(tmp_path / "idr.db")
    ensure_prefix(opened, PREFIX, SECRET)
    records.create_handle(
        opened,
        "88.100.1/pump-0001",
        [HandleValue(1, "URL", b"https://plant.example/pumps/0001"), HandleValue(2, "model", b"CP-200")],
        records.SYSTEM,
    )
    return opened


def run(store: HandleStore, scenario: Callable[[IdrServer], Awaitable[None]]) -> None:
    async def main() -> None:
        server = await IdrServer(Service(store, (PREFIX,)), "127.0.0.1", 0).start()
        try:
            await scenario(server)
        finally:
            await server.stop()

    asyncio.run(main())


def test_resolution_over_udp_and_tcp_with_index_and_type_filters(store: HandleStore) -> None:
    async def scenario(server: IdrServer) -> None:
        values = await client.resolve("127.0.0.1", server.port, "88.100.1/pump-0001")
        assert {(v.index, v.type, v.data) for v in values} == {
            (1, "URL", b"https://plant.example/pumps/0001"),
            (2, "model", b"CP-200"),
        }
        over_tcp = await client.resolve(
            "127.0.0.1", server.port, "88.100.1/PUMP-0001".replace("PUMP", "pump"), tcp=True
        )
        assert over_tcp == values
        only_url = await client.resolve("127.0.0.1", server.port, "88.100.1/pump-0001", types=("URL",))
        assert [v.index for v in only_url] == [1]
        # The administrator's secret key is not public: anonymous resolution never shows it.
        na = await client.resolve("127.0.0.1", server.port, "0.NA/88.100.1")
        assert "HS_SECKEY" not in {v.type for v in na}
        with pytest.raises(client.ClientError) as missing:
            await client.resolve("127.0.0.1", server.port, "88.100.1/nope")
        assert missing.value.code == ResponseCode.RC_HANDLE_NOT_FOUND

    run(store, scenario)


def test_an_identifier_of_another_prefix_is_referred_upwards(store: HandleStore) -> None:
    async def scenario(server: IdrServer) -> None:
        connection = await client.TcpConnection.open("127.0.0.1", server.port)
        try:
            answer, _ = await connection.request(Message(ResolutionRequest("88.200.7/x"), request_id=9))
        finally:
            await connection.close()
        assert isinstance(answer.body, ReferralResponse) and answer.body.referral_handle == "0.NA/88.200.7"
        assert answer.request_id == 9

    run(store, scenario)


def test_administration_needs_the_secret_key_and_then_works(store: HandleStore) -> None:
    async def scenario(server: IdrServer) -> None:
        port = server.port
        # As with Handle.Net, a new identifier names its administrators in an HS_ADMIN value.
        owner = HandleValue(100, "HS_ADMIN", encode_admin(AdminRecord(AdminPermission.all(), *ADMIN)))
        values = (HandleValue(1, "URL", b"https://plant.example/cnc/3"), owner)
        created = await client.administer(
            "127.0.0.1", port, CreateHandleRequest("88.100.1/cnc-3", values), ADMIN, SECRET
        )
        assert isinstance(created, SuccessResponse)
        assert (await client.resolve("127.0.0.1", port, "88.100.1/cnc-3"))[
            0
        ].data == b"https://plant.example/cnc/3"
        changed = (HandleValue(1, "URL", b"https://plant.example/cnc/3b"),)
        await client.administer(
            "127.0.0.1", port, ModifyValueRequest("88.100.1/cnc-3", changed), ADMIN, SECRET
        )
        assert (await client.resolve("127.0.0.1", port, "88.100.1/cnc-3"))[
            0
        ].data == b"https://plant.example/cnc/3b"
        with pytest.raises(client.ClientError) as wrong:
            await client.administer("127.0.0.1", port, DeleteHandleRequest("88.100.1/cnc-3"), ADMIN, b"guess")
        assert wrong.value.code == ResponseCode.RC_AUTHEN_FAILED
        await client.administer("127.0.0.1", port, DeleteHandleRequest("88.100.1/cnc-3"), ADMIN, SECRET)
        with pytest.raises(client.ClientError):
            await client.resolve("127.0.0.1", port, "88.100.1/cnc-3")

    run(store, scenario)


def test_large_answers_are_fragmented_over_udp(store: HandleStore) -> None:
    big = tuple(HandleValue(i, "note", bytes([65 + i % 26]) * 400) for i in range(1, 30))
    records.create_handle(store, "88.100.1/big", big, records.SYSTEM)

    async def scenario(server: IdrServer) -> None:
        values = await client.resolve("127.0.0.1", server.port, "88.100.1/big")
        assert {(v.index, v.data) for v in values} == {(v.index, v.data) for v in big}

    run(store, scenario)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=700))
def test_malformed_datagrams_get_a_protocol_error_or_nothing_and_the_server_keeps_answering(
    tmp_path_factory: Any, junk: bytes
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    opened = open_store(folder / "idr.db")
    ensure_prefix(opened, PREFIX, SECRET)

    async def scenario(server: IdrServer) -> None:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", server.port))
            await loop.sock_sendall(sock, junk)
            try:
                answer = await asyncio.wait_for(loop.sock_recv(sock, 2048), 0.3)
            except TimeoutError:
                answer = None
        if answer is not None:
            assert decode(answer).response_code != ResponseCode.RC_SUCCESS
        na = await client.resolve("127.0.0.1", server.port, "0.NA/88.100.1")
        assert na  # still serving

    run(opened, scenario)
    opened.close()


def test_a_garbled_tcp_stream_is_closed_and_other_connections_carry_on(store: HandleStore) -> None:
    async def scenario(server: IdrServer) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\x02\x01" + b"\xff" * 60)  # an envelope announcing a gigantic message
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed: the stream cannot be framed
        writer.close()
        good = Message(ResolutionRequest("88.100.1/pump-0001"), request_id=5)
        connection = await client.TcpConnection.open("127.0.0.1", server.port)
        try:
            answer, _ = await connection.request(good)
        finally:
            await connection.close()
        assert answer.response_code == ResponseCode.RC_SUCCESS and encode(answer)

    run(store, scenario)
