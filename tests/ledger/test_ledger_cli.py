"""The acceptance interfaces: a top-level node with ``--ledger`` records the prefixes it allocates;
``indunet ledger verify --server`` exits 0 for the intact log and says what it checked; a witness
cosigns it; ``ledger dump`` then ``verify --file`` of an edited dump exits non-zero."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.helpers import free_port

from indunet.cli import main
from indunet.security.crypto import keys


def _wait(url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            assert time.monotonic() < deadline, f"{url} did not come up"
            time.sleep(0.2)


def test_allocations_land_in_the_ledger_and_the_ledger_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**os.environ, "INDUNET_DATA_DIR": str(tmp_path), "INDUNET_LANGUAGE": "en"}
    port, http_port = free_port(), free_port()
    node = subprocess.Popen(
        [sys.executable, "-m", "indunet", "idr", "serve", "--role", "top", "--prefix", "88", "--host", "127.0.0.1",
         "--port", str(port), "--http-port", str(http_port), "--admin-secret", "t", "--ledger"],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    api = f"http://127.0.0.1:{http_port}/api/v1/ledger"
    try:
        assert node.stdout is not None
        assert "did:bid:zf" in node.stdout.readline()  # the ledger's BID, printed first
        _wait(f"{api}/heads")
        server = f"127.0.0.1:{port}"
        for prefix, site in (
            ("88.100", "127.0.0.1:3641"),
            ("88.200", "127.0.0.1:3642"),
            ("88.100", "127.0.0.1:3643"),
        ):
            assert main(["idr", "allocate", prefix, "--server", server, "--admin", "300:0.NA/88", "--secret", "t",
                         "--site", site]) == 0  # fmt: skip
        bodies = [json.loads(base64.b64decode(e["body"])) for e in httpx.get(f"{api}/entries?end=100").json()]
        assert [(b["kind"], b["subject"]) for b in bodies] == [
            ("allocation", "88"),
            ("allocation", "88.100"),
            ("allocation", "88.200"),
            ("transfer", "88.100"),
        ]
        assert bodies[-1]["detail"]["sites"] == ["127.0.0.1:3643"]
        head = httpx.get(f"{api}/head").json()
        capsys.readouterr()
        assert main(["ledger", "verify", "--server", api, "--log", head["log"]]) == 0
        printed = capsys.readouterr().out
        assert "4 entries" in printed and "intact" in printed
        witness_key = tmp_path / "witness.pem"
        witness_key.write_bytes(keys.private_pem(keys.generate(keys.Algorithm.ED25519)))
        state = tmp_path / "witness.json"
        witnessed = ["ledger", "witness", "--server", api, "--key", str(witness_key), "--state", str(state)]
        assert main([*witnessed, "--entries"]) == 0
        assert len(httpx.get(f"{api}/cosignatures").json()) == 1
        assert json.loads(state.read_text())["ranges"]  # the entries were checked, their range kept
        dump = tmp_path / "ledger.jsonl"
        assert main(["ledger", "dump", "--server", api, "--out", str(dump)]) == 0
        assert main(["ledger", "verify", "--file", str(dump)]) == 0
        lines = dump.read_text().splitlines()
        at = next(i for i, line in enumerate(lines) if '"seq": 2' in line)
        forged = json.loads(lines[at])
        body = json.loads(base64.b64decode(forged["body"]))
        body["detail"]["sites"] = ["10.0.0.66:2641"]  # someone moves 88.200 to their own server
        forged["body"] = base64.b64encode(
            json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        ).decode()
        dump.write_text("\n".join([*lines[:at], json.dumps(forged), *lines[at + 1 :]]) + "\n")
        capsys.readouterr()
        assert main(["ledger", "verify", "--file", str(dump)]) == 1
        assert "NOT intact" in capsys.readouterr().err
        assert (
            main(["ledger", "verify", "--server", api, "--log", "did:bid:zfNotTheLogYouAreLookingFor"]) == 1
        )
        assert main(["ledger", "verify", "--server", api, "--file", str(dump)]) == 2  # one source, not two
    finally:
        node.send_signal(signal.SIGTERM)
        assert node.wait(15) == 0
