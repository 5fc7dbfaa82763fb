"""Shared fixtures: a platform on each backend, a running API, and two tenants to keep apart.

PostgreSQL cases use a database created for this run (``indunet_test_<hex>``) and dropped at its end.
Without a server at 127.0.0.1:5432 they skip on a developer machine and fail with ``CI=true``: CI
must never pass by testing nothing.
"""

from __future__ import annotations

import ast
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from tests.helpers import Tenant, make_settings, new_tenant, server_missing

from indunet.platform.runtime import Platform, open_platform
from indunet.web.app import create_app

PG_SERVER = os.environ.get("INDUNET_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


def _one_parse_at_a_time(parse: Callable[..., ast.AST]) -> Callable[..., ast.AST]:
    """CPython 3.11 keeps the AST constructor's recursion counter per interpreter, not per thread: when a
    garbage collection in the middle of one ``ast.parse`` lets another thread parse (a server thread
    formatting a traceback, hypothesis describing a lambda), the first fails with "SystemError: AST
    constructor recursion depth mismatch". The suite runs many threads, so parses take turns."""
    lock = threading.RLock()

    def parse_alone(*args: Any, **kwargs: Any) -> ast.AST:
        with lock:
            return parse(*args, **kwargs)

    return parse_alone


ast.parse = _one_parse_at_a_time(ast.parse)  # type: ignore[assignment]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The URL of a database created for this test run."""
    try:
        admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        server_missing("PostgreSQL", PG_SERVER, exc)
    name = f"indunet_test_{secrets.token_hex(4)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield f"{PG_SERVER}/{name}"
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def platform(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One platform per backend for the whole run; tests keep apart by using tenants of their own."""
    pg = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    settings = make_settings(request.param, tmp_path_factory.mktemp(request.param), pg)
    platform = open_platform(settings)
    yield platform
    platform.close()


@pytest.fixture(scope="session")
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def tenant_a(platform: Platform, client: TestClient) -> Tenant:
    return new_tenant(platform, client, "alpha")


@pytest.fixture(scope="session")
def tenant_b(platform: Platform, client: TestClient) -> Tenant:
    return new_tenant(platform, client, "beta")
