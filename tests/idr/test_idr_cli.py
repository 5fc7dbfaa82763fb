"""The acceptance interfaces: ``indunet idr serve`` with an administrator secret, ``indunet idr register``
and ``indunet resolve`` against it, and pyhandle-style REST on the same node."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.helpers import free_port

from indunet.cli import main


def test_serve_register_and_resolve_over_the_protocol_and_rest(tmp_path: Path, capsys: object) -> None:
    port, http_port = free_port(), free_port()
    env = {**os.environ, "INDUNET_DATA_DIR": str(tmp_path), "INDUNET_LANGUAGE": "en"}
    node = subprocess.Popen(
        [sys.executable, "-m", "indunet", "idr", "serve", "--role", "enterprise", "--prefix", "88.100.1",
         "--host", "127.0.0.1", "--port", str(port), "--http-port", str(http_port), "--admin-secret", "s3cret"],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert node.stdout is not None
        assert f"127.0.0.1:{port}" in node.stdout.readline()
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{http_port}/api/handles/0.NA/88.100.1", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the REST API did not come up"
                time.sleep(0.2)
        server = f"127.0.0.1:{port}"
        assert main(["idr", "register", "88.100.1/pump-01", "--server", server, "--admin", "300:0.NA/88.100.1",
                     "--secret", "s3cret", "--value", "URL=https://plant.example/pump-01"]) == 0  # fmt: skip
        assert main(["idr", "register", "88.100.1/pump-02", "--server", server, "--admin", "300:0.NA/88.100.1",
                     "--secret", "wrong", "--value", "URL=x"]) == 1  # fmt: skip
        capsys.readouterr()  # type: ignore[attr-defined]
        assert main(["resolve", "88.100.1/pump-01", "--server", server]) == 0
        printed = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
        assert printed["values"][0] == {
            "index": 1,
            "type": "URL",
            "data": {"format": "string", "value": "https://plant.example/pump-01"},
            "ttl": 86400,
            "timestamp": printed["values"][0]["timestamp"],
        }
        assert main(["resolve", "88.100.1/pump-02", "--server", server, "--tcp"]) == 1  # never registered
        rest = httpx.get(f"http://127.0.0.1:{http_port}/api/handles/88.100.1/pump-01").json()
        assert (
            rest["responseCode"] == 1
            and rest["values"][0]["data"]["value"] == "https://plant.example/pump-01"
        )
        assert main(["resolve", "no-slash", "--server", "not-a-server"]) == 2
    finally:
        node.send_signal(signal.SIGTERM)
        assert node.wait(15) == 0


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "indunet", "idr", "serve", "--host", "127.0.0.1", *args],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def test_four_roles_from_the_command_line(tmp_path: Path, capsys: object) -> None:
    """top (88) -> secondary (88.100) -> enterprise (88.100.1), resolved through a recursive node that
    knows only the top-level node; prefixes allocated with ``indunet idr allocate``."""
    env = {**os.environ, "INDUNET_DATA_DIR": str(tmp_path), "INDUNET_LANGUAGE": "en"}
    top, secondary, enterprise, recursive, recursive_http = (free_port() for _ in range(5))
    nodes = [
        _start(["--role", "top", "--prefix", "88", "--port", str(top), "--admin-secret", "t"], env),
        _start(["--role", "secondary", "--prefix", "88.100", "--port", str(secondary), "--admin-secret", "s"], env),
        _start(["--role", "enterprise", "--prefix", "88.100.1", "--port", str(enterprise),
                "--admin-secret", "e", "--quota", "88.100.1=2"], env),
        _start(["--role", "recursive", "--root", f"127.0.0.1:{top}", "--port", str(recursive),
                "--http-port", str(recursive_http)], env),
    ]  # fmt: skip
    try:
        for node in nodes:
            assert node.stdout is not None and "127.0.0.1:" in node.stdout.readline()
        assert main(["idr", "allocate", "88.100", "--server", f"127.0.0.1:{top}", "--admin", "300:0.NA/88",
                     "--secret", "t", "--site", f"127.0.0.1:{secondary}"]) == 0  # fmt: skip
        assert main(["idr", "allocate", "88.100.1", "--server", f"127.0.0.1:{secondary}",
                     "--admin", "300:0.NA/88.100", "--secret", "s", "--site", f"127.0.0.1:{enterprise}"]) == 0  # fmt: skip
        # Allocating again moves the prefix to other sites (here: the same one, listed twice).
        assert main(["idr", "allocate", "88.100.1", "--server", f"127.0.0.1:{secondary}",
                     "--admin", "300:0.NA/88.100", "--secret", "s",
                     "--site", f"127.0.0.1:{enterprise}", "--site", f"127.0.0.1:{enterprise}"]) == 0  # fmt: skip
        for n in (1, 2, 3):
            code = main(["idr", "register", f"88.100.1/cnc-{n}", "--server", f"127.0.0.1:{enterprise}",
                         "--admin", "300:0.NA/88.100.1", "--secret", "e", "--value", f"URL=https://cnc/{n}"])  # fmt: skip
            assert code == (0 if n < 3 else 1)  # the quota is two identifiers
        capsys.readouterr()  # type: ignore[attr-defined]
        assert main(["resolve", "88.100.1/cnc-2", "--server", f"127.0.0.1:{recursive}"]) == 0
        printed = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
        assert printed["values"][0]["data"]["value"] == "https://cnc/2"
        over_http = httpx.get(
            f"http://127.0.0.1:{recursive_http}/api/handles/88.100.1/cnc-1", timeout=10
        ).json()
        assert over_http["values"][0]["data"]["value"] == "https://cnc/1"
        # The Handle protocol itself over HTTP, through the recursive node.
        from indunet.idr.wire import Message, ResolutionRequest, decode, encode

        native = httpx.post(
            f"http://127.0.0.1:{recursive_http}/",
            content=encode(Message(ResolutionRequest("88.100.1/cnc-2"), request_id=5)),
            headers={"Content-Type": "application/x-hdl-message"},
            timeout=10,
        )
        assert native.status_code == 200 and decode(native.content).body.values[0].data == b"https://cnc/2"  # type: ignore[union-attr]
        missing = httpx.get(f"http://127.0.0.1:{recursive_http}/api/handles/88.100.1/cnc-9", timeout=10)
        assert missing.status_code == 404 and missing.json()["responseCode"] == 100
        assert main(["resolve", "88.100.1/cnc-3", "--server", f"127.0.0.1:{recursive}"]) == 1
    finally:
        for node in nodes:
            node.send_signal(signal.SIGTERM)
        assert [node.wait(15) for node in nodes] == [0, 0, 0, 0]


def test_serve_refuses_incomplete_role_options(tmp_path: Path, capsys: object) -> None:
    assert main(["idr", "serve", "--role", "recursive"]) == 2
    assert "--root" in capsys.readouterr().err  # type: ignore[attr-defined]
    assert main(["idr", "serve", "--role", "enterprise", "--admin-secret", "x"]) == 2
    assert "--prefix" in capsys.readouterr().err  # type: ignore[attr-defined]
    assert main(["idr", "serve", "--prefix", "88.1", "--quota", "88.1=many", "--admin-secret", "x"]) == 2


def test_workers_share_ports_and_see_each_others_writes(tmp_path: Path) -> None:
    """Two processes on one UDP/TCP/HTTP port and one store: a change made through either is what
    every client gets from both, soon after (the change log)."""
    import asyncio

    from indunet.idr import client

    port, http_port = free_port(), free_port()
    env = {**os.environ, "INDUNET_DATA_DIR": str(tmp_path), "INDUNET_LANGUAGE": "en"}
    node = _start(["--role", "enterprise", "--prefix", "88.100.1", "--port", str(port), "--http-port",
                   str(http_port), "--admin-secret", "s", "--workers", "2"], env)  # fmt: skip
    auth = ("300%3A0.NA%2F88.100.1", "s")
    base = f"http://127.0.0.1:{http_port}/api/handles/88.100.1/m1"
    try:
        assert node.stdout is not None and "127.0.0.1:" in node.stdout.readline()
        deadline = time.monotonic() + 30
        while True:
            try:
                owner = {"handle": "0.NA/88.100.1", "index": 300, "permissions": "011111110011"}
                admin = {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": owner}}
                first = {"values": [{"index": 1, "type": "URL", "data": "v1"}, admin]}
                put = httpx.put(base, json=first, auth=auth)
                assert put.status_code in (200, 201), put.text
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.2)

        async def seen_everywhere(expected: bytes) -> bool:
            # Forty fresh client sockets: the kernel spreads them over both workers.
            answers = await asyncio.gather(
                *(client.resolve("127.0.0.1", port, "88.100.1/m1", types=("URL",)) for _ in range(40))
            )
            return all(a[0].data == expected for a in answers)

        assert asyncio.run(seen_everywhere(b"v1"))  # both workers have it cached now
        for value in (b"v2", b"v3"):
            assert httpx.put(base + "?index=1", json={"values": [{"index": 1, "type": "URL", "data": value.decode()}]},
                             auth=auth).status_code == 200  # fmt: skip
            deadline = time.monotonic() + 10
            while not asyncio.run(seen_everywhere(value)):
                assert time.monotonic() < deadline, (
                    f"a worker kept serving the old value instead of {value!r}"
                )
                time.sleep(0.1)
    finally:
        node.send_signal(signal.SIGTERM)
        assert node.wait(20) == 0


def test_an_sm2_administrator_from_the_command_line(tmp_path: Path, capsys: object) -> None:
    key = tmp_path / "admin-key"
    assert main(["idr", "keygen", "--type", "sm2", "--out", str(key)]) == 0
    assert key.stat().st_mode & 0o077 == 0  # the private key is its owner's only
    port = free_port()
    env = {**os.environ, "INDUNET_DATA_DIR": str(tmp_path), "INDUNET_LANGUAGE": "en"}
    node = _start(["--role", "enterprise", "--prefix", "88.100.1", "--port", str(port), "--admin-secret", "s",
                   "--admin-pubkey", f"{key}.pub"], env)  # fmt: skip
    try:
        assert node.stdout is not None and "127.0.0.1:" in node.stdout.readline()
        server = f"127.0.0.1:{port}"
        assert main(["idr", "register", "88.100.1/by-key", "--server", server, "--admin", "301:0.NA/88.100.1",
                     "--key", str(key), "--value", "URL=https://k"]) == 0  # fmt: skip
        other = tmp_path / "other-key"
        assert main(["idr", "keygen", "--type", "rsa", "--out", str(other)]) == 0
        assert main(["idr", "register", "88.100.1/by-other", "--server", server, "--admin", "301:0.NA/88.100.1",
                     "--key", str(other), "--value", "URL=https://o"]) == 1  # fmt: skip
        assert main(["idr", "register", "88.100.1/x", "--server", server, "--admin", "301:0.NA/88.100.1",
                     "--key", str(tmp_path / "missing")]) == 2  # fmt: skip
        capsys.readouterr()  # type: ignore[attr-defined]
        assert main(["resolve", "88.100.1/by-key", "--server", server]) == 0
        assert json.loads(capsys.readouterr().out)["values"][0]["data"]["value"] == "https://k"  # type: ignore[attr-defined]
    finally:
        node.send_signal(signal.SIGTERM)
        assert node.wait(15) == 0
