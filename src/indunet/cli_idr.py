"""``indunet idr serve``, ``indunet resolve`` and ``indunet idr register``: identifier nodes and clients.

- ``indunet idr serve --role enterprise --prefix 88.100.1 --port N --http-port M --admin-secret S``
  serves the Handle protocol over UDP and TCP on N and the Handle.Net-compatible REST API on M; the
  secret belongs to the prefix's administrator ``300:0.NA/88.100.1``;
- ``indunet resolve HANDLE --server HOST:PORT`` prints the identifier's values as JSON;
- ``indunet idr register HANDLE --server HOST:PORT --admin 300:0.NA/88.100.1 --secret S --value TYPE=DATA``
  registers an identifier over the protocol, authenticating by challenge-response.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from indunet.core.config import Settings
from indunet.core.errors import InvalidInput
from indunet.core.i18n import cli_language, translate

ROLES = ("top", "secondary", "enterprise")
DEFAULT_PORT = 2641


def _t(key: str, **params: Any) -> str:
    return translate(key, cli_language(), **params)


def _server(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(_t("cli.idr_bad_server", server=text), key="cli.idr_bad_server", server=text)
    return host, int(port)


def _secret(args: argparse.Namespace) -> bytes:
    secret = args.admin_secret or os.environ.get("INDUNET_IDR_ADMIN_SECRET")
    if not secret:
        raise InvalidInput(_t("cli.idr_secret_required"), key="cli.idr_secret_required")
    return str(secret).encode()


def cmd_idr_serve(args: argparse.Namespace, settings: Settings) -> int:
    from indunet.idr.bootstrap import ensure_prefix
    from indunet.idr.model import InvalidHandle, check_prefix
    from indunet.idr.store import open_store

    try:
        prefixes = tuple(check_prefix(p) for p in args.prefix)
    except InvalidHandle as exc:
        raise InvalidInput(str(exc), key="cli.idr_bad_prefix", error=str(exc)) from None
    secret = _secret(args)
    location = args.store or (settings.data_dir / f"idr-{prefixes[0]}.db")
    if isinstance(location, Path):
        location.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(location)
    try:
        for prefix in prefixes:
            ensure_prefix(store, prefix, secret)
        asyncio.run(_serve(store, prefixes, args))
    finally:
        store.close()
    return 0


async def _serve(store: Any, prefixes: tuple[str, ...], args: argparse.Namespace) -> None:
    from indunet.idr import rest
    from indunet.idr.server import IdrServer
    from indunet.idr.service import Service

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        node = await IdrServer(Service(store, prefixes), args.host, args.port).start()
    except OSError as exc:
        raise InvalidInput(
            _t("cli.idr_listen", port=args.port, reason=exc.strerror or str(exc)),
            key="cli.idr_listen",
            port=args.port,
            reason=exc.strerror or str(exc),
        ) from None
    http: uvicorn.Server | None = None
    tasks: list[asyncio.Task[Any]] = []
    if args.http_port is not None:
        config = uvicorn.Config(
            rest.create_app(store), host=args.host, port=args.http_port, log_level="warning"
        )
        http = _EmbeddedServer(config)
        tasks.append(asyncio.create_task(http.serve()))
    print(
        _t(
            "cli.idr_serving",
            role=args.role,
            prefixes=", ".join(prefixes),
            host=args.host,
            port=node.port,
            http=f"http://{args.host}:{args.http_port}" if args.http_port is not None else "-",
        ),
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        if http is not None:
            http.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        await node.stop()


class _EmbeddedServer(uvicorn.Server):
    """uvicorn beside the identifier node: the node's own signal handlers stop both."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def cmd_resolve(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.idr import client
    from indunet.idr.rest import value_json

    host, port = _server(args.server)
    try:
        values = asyncio.run(
            client.resolve(
                host, port, args.handle, types=tuple(args.type), indexes=tuple(args.index), tcp=args.tcp
            )
        )
    except client.ClientError as exc:
        print(f"indunet: {_t('cli.idr_failed', handle=args.handle, error=str(exc))}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {"handle": args.handle, "values": [value_json(v) for v in values]}, ensure_ascii=False, indent=2
        )
    )
    return 0


def cmd_idr_register(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.idr import client
    from indunet.idr.model import HS_ADMIN, HandleValue
    from indunet.idr.records import parse_admin_id
    from indunet.idr.wire import CreateHandleRequest
    from indunet.idr.wire.values import AdminPermission, AdminRecord, encode_admin

    host, port = _server(args.server)
    admin = parse_admin_id(args.admin)
    values: list[HandleValue] = []
    for index, text in enumerate(args.value, start=1):
        kind, eq, data = text.partition("=")
        if not eq or not kind:
            raise InvalidInput(_t("cli.idr_bad_value", value=text), key="cli.idr_bad_value", value=text)
        values.append(HandleValue(index, kind, data.encode()))
    values.append(HandleValue(100, HS_ADMIN, encode_admin(AdminRecord(AdminPermission.all(), *admin))))
    secret = _secret(args)
    try:
        asyncio.run(
            client.administer(host, port, CreateHandleRequest(args.handle, tuple(values)), admin, secret)
        )
    except client.ClientError as exc:
        print(f"indunet: {_t('cli.idr_failed', handle=args.handle, error=str(exc))}", file=sys.stderr)
        return 1
    print(_t("cli.idr_registered", handle=args.handle))
    return 0


def register(commands: Any, add: Any) -> None:
    """Add ``idr`` and ``resolve`` to the top-level sub-commands."""
    idr = commands.add_parser("idr", help=_t("cli.help.idr")).add_subparsers(dest="sub", required=True)
    serve = add("serve", cmd_idr_serve, "cli.help.idr_serve", idr)
    serve.add_argument("--role", choices=ROLES, default="enterprise")
    serve.add_argument("--prefix", action="append", required=True, help=_t("cli.help.idr_prefix"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--http-port", type=int, help=_t("cli.help.idr_http_port"))
    serve.add_argument("--admin-secret", help=_t("cli.help.idr_admin_secret"))
    serve.add_argument("--store", help=_t("cli.help.idr_store"))
    reg = add("register", cmd_idr_register, "cli.help.idr_register", idr)
    reg.add_argument("handle")
    reg.add_argument("--server", required=True, metavar="HOST:PORT")
    reg.add_argument("--admin", required=True, metavar="INDEX:HANDLE")
    reg.add_argument("--admin-secret", "--secret", dest="admin_secret", help=_t("cli.help.idr_admin_secret"))
    reg.add_argument("--value", action="append", default=[], metavar="TYPE=DATA")

    resolve = add("resolve", cmd_resolve, "cli.help.resolve")
    resolve.add_argument("handle")
    resolve.add_argument("--server", default=f"127.0.0.1:{DEFAULT_PORT}", metavar="HOST:PORT")
    resolve.add_argument("--type", action="append", default=[])
    resolve.add_argument("--index", action="append", default=[], type=int)
    resolve.add_argument("--tcp", action="store_true", help=_t("cli.help.resolve_tcp"))
