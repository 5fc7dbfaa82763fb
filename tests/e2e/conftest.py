"""A real ``indunet demo`` process, as a user starts it, for the browser tests to drive."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str, str]]:
    """``(base_url, email, password, device_id)`` of a demo server whose simulators are streaming."""
    data_dir: Path = tmp_path_factory.mktemp("demo")
    port = _free_port()
    env = {**os.environ, "INDUNET_DATA_DIR": str(data_dir), "INDUNET_LANGUAGE": "en"}
    log = (data_dir / "demo.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "indunet.cli", "demo", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        login_file = data_dir / "demo-login.json"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"indunet demo exited with {process.returncode}: {(data_dir / 'demo.log').read_text()}"
                )
            try:
                if login_file.exists() and httpx.get(f"{base_url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"indunet demo did not start in {STARTUP_TIMEOUT_S}s: {(data_dir / 'demo.log').read_text()}"
                )
            time.sleep(0.3)
        login = json.loads(login_file.read_text())
        token = httpx.post(
            f"{base_url}/api/auth/token", data={"username": login["email"], "password": login["password"]}
        ).json()["access_token"]
        listed = httpx.get(
            f"{base_url}/api/devices", params={"q": "cnc-01"}, headers={"Authorization": f"Bearer {token}"}
        ).json()
        yield base_url, login["email"], login["password"], listed["items"][0]["id"]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
