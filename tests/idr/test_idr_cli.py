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
