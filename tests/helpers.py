"""Test helpers shared across packages: settings per backend and tenants with a user per role."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest
from fastapi.testclient import TestClient

from indunet.core.config import Settings
from indunet.platform import accounts, devices, tenants
from indunet.platform.runtime import Platform
from indunet.security import Principal

PASSWORD = "correct horse battery staple"


def server_missing(what: str, where: str, exc: Exception) -> NoReturn:
    """A loopback server the tests need is not there: fail in CI (never pass by testing nothing), else skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required in CI but unreachable at {where}: {exc}")
    pytest.skip(f"no {what} at {where}: {exc}")


def make_settings(backend: str, data_dir: Path, pg: str | None = None, **extra: Any) -> Settings:
    # Long enough that no token expires during a slow run; expiry itself is tested with its own codec.
    extra.setdefault("access_token_ttl_s", 4 * 3600)
    if backend == "postgresql":
        assert pg is not None
        return Settings(
            data_dir=data_dir, database_url=pg, database_schema=f"s_{secrets.token_hex(4)}", **extra
        )
    return Settings(data_dir=data_dir, **extra)


@dataclass
class Tenant:
    """A tenant with one user per role, their bearer headers and one device."""

    id: str
    name: str
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    device: dict[str, Any] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        return self.headers["admin"]

    @property
    def engineer(self) -> dict[str, str]:
        return self.headers["engineer"]

    @property
    def viewer(self) -> dict[str, str]:
        return self.headers["viewer"]

    @property
    def device_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.device['token']}"}


def new_tenant(platform: Platform, client: TestClient, prefix: str) -> Tenant:
    name = f"{prefix}-{secrets.token_hex(3)}"
    created = tenants.create_tenant(platform, name)
    system = Principal.system(created["id"])
    tenant = Tenant(created["id"], name)
    for role in ("admin", "engineer", "viewer"):
        email = f"{role}@{name}.example.cn"
        accounts.add_user(platform, system, email, PASSWORD, role)
        response = client.post("/api/auth/token", data={"username": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        tenant.headers[role] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        tenant.emails[role] = email
    tenant.device = devices.create_device(platform, system, "cnc-01", "cnc_machine_tool", {"line": "A"})
    return tenant


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the moment of asking)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread; yields its base URL."""
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the HTTP server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
