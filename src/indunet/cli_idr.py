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
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from indunet import cli_idr_trust
from indunet.core.config import Settings
from indunet.core.errors import InvalidInput
from indunet.core.i18n import cli_language, translate

ROLES = ("top", "secondary", "enterprise", "recursive")
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


def _endpoint(text: str) -> Any:
    from indunet.idr.sites import parse_endpoint

    try:
        return parse_endpoint(text)
    except ValueError:
        raise InvalidInput(
            _t("cli.idr_bad_server", server=text), key="cli.idr_bad_server", server=text
        ) from None


def _quotas(texts: list[str]) -> dict[str, int]:
    from indunet.idr.model import InvalidHandle, check_prefix

    out: dict[str, int] = {}
    for text in texts:
        prefix, eq, number = text.partition("=")
        try:
            if not eq or not number.isdigit():
                raise InvalidHandle(text)
            out[check_prefix(prefix)] = int(number)
        except InvalidHandle:
            raise InvalidInput(
                _t("cli.idr_bad_quota", quota=text), key="cli.idr_bad_quota", quota=text
            ) from None
    return out


def _own_site(host: str, port: int, http_port: int | None) -> Any:
    """The site record of this node, when it listens on one concrete address (a wildcard address says
    nothing a resolver elsewhere could use)."""
    import ipaddress

    from indunet.idr.sites import Endpoint, site

    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_unspecified or not port:
        return None
    return site([Endpoint(host, port)], http_ports=[http_port])


def _proof(args: argparse.Namespace) -> dict[str, Any]:
    """How an administrator proves itself: ``--key FILE`` (a private key from ``idr keygen``) or the
    secret key."""
    if not getattr(args, "key", None):
        return {"secret": _secret(args)}
    from indunet.idr.pubkey import PublicKeyError, load_private

    try:
        return {"private_key": load_private(Path(args.key).read_bytes())}
    except (OSError, PublicKeyError) as exc:
        raise InvalidInput(
            _t("cli.idr_bad_key", path=args.key, error=str(exc)), key="cli.idr_bad_key"
        ) from None


def _public_key(path: str | None) -> bytes | None:
    if not path:
        return None
    from indunet.idr.pubkey import PublicKeyError, decode_public

    try:
        data = bytes.fromhex(Path(path).read_text().strip())
        decode_public(data)
    except (OSError, ValueError, PublicKeyError) as exc:
        raise InvalidInput(_t("cli.idr_bad_key", path=path, error=str(exc)), key="cli.idr_bad_key") from None
    return data


def cmd_idr_keygen(args: argparse.Namespace, _settings: Settings) -> int:
    """A key pair for an administrator: FILE (the private key, readable by its owner only) and
    FILE.pub (the HS_PUBKEY value, hex) for ``idr serve --admin-pubkey``."""
    from indunet.idr import pubkey

    kind = {"rsa": pubkey.RSA, "dsa": pubkey.DSA, "sm2": pubkey.SM2}[args.type]
    key = pubkey.generate(kind)
    out = Path(args.out)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.to_pem())
    Path(f"{out}.pub").write_text(pubkey.encode_public(key.public()).hex() + "\n")
    print(_t("cli.idr_keygen", private=str(out), public=f"{out}.pub"))
    return 0


def cmd_idr_serve(args: argparse.Namespace, settings: Settings) -> int:
    from indunet.idr import records
    from indunet.idr.bootstrap import ensure_prefix
    from indunet.idr.model import InvalidHandle, check_prefix
    from indunet.idr.store import open_store

    if args.cache_size < 0:
        raise InvalidInput(_t("cli.idr_bad_cache"), key="cli.idr_bad_cache")
    if args.workers < 1 or (args.workers > 1 and not args.port):
        raise InvalidInput(_t("cli.idr_bad_workers"), key="cli.idr_bad_workers")
    if args.role == "recursive":
        roots = [_endpoint(r) for r in args.root]
        if not roots:
            raise InvalidInput(_t("cli.idr_root_required"), key="cli.idr_root_required")
        with _workers(args, None):
            asyncio.run(_serve_recursive(roots, args))
        return 0
    if not args.prefix:
        raise InvalidInput(_t("cli.idr_prefix_required"), key="cli.idr_prefix_required")
    try:
        prefixes = tuple(check_prefix(p) for p in args.prefix)
    except InvalidHandle as exc:
        raise InvalidInput(str(exc), key="cli.idr_bad_prefix", error=str(exc)) from None
    quotas = _quotas(args.quota)
    secret = _secret(args)
    public_key = _public_key(args.admin_pubkey)
    location = args.store or (settings.data_dir / f"idr-{prefixes[0]}.db")
    if isinstance(location, Path):
        location.parent.mkdir(parents=True, exist_ok=True)
    # Several processes on one store tell each other what they changed through the store's log.
    store = open_store(
        location, change_log=args.workers > 1 or _is_worker(), keyring=_keyring(args, location)
    )
    if args.redis:
        from indunet.idr.hotcache import RedisRecords

        store.hot = RedisRecords(args.redis, str(location))
    try:
        if not _is_worker():
            own = _own_site(args.host, args.port, args.http_port)
            for prefix in prefixes:
                ensure_prefix(store, prefix, secret, own, public_key)
            for prefix, limit in quotas.items():
                records.set_quota(store, prefix, limit)
        ledger = _ledger(args, store, location) if args.ledger else None
        carriers = _carriers(args, store, prefixes[0]) if args.signing_key else None
        if args.sign_records:
            store.signer = _record_signer(args, prefixes[0])
        with _workers(args, str(location)):
            asyncio.run(_serve(store, prefixes, args, ledger, carriers))
    finally:
        store.close()
    return 0


def _keyring(args: argparse.Namespace, location: str | Path) -> Any:
    from indunet.idr.store import default_keyring
    from indunet.security.keyring import Keyring, KeyringError

    try:
        return Keyring.load_or_new(Path(args.keyring)) if args.keyring else default_keyring(location)
    except KeyringError as exc:
        raise InvalidInput(str(exc), key="cli.idr_bad_keyring", error=str(exc)) from None


def cmd_idr_rekey(args: argparse.Namespace, settings: Settings) -> int:
    """Rotate the store's keyring and seal every secret key under the new key."""
    from indunet.idr.store import KEYRING_ENV, open_store
    from indunet.security.keyring import Keyring, KeyringError

    location: str | Path = args.store
    named = (
        args.keyring
        or os.environ.get(KEYRING_ENV)
        or ("" if "://" in args.store else f"{args.store}.keyring.json")
    )
    if not named or not Path(named).exists():
        raise InvalidInput(
            _t("cli.idr_no_keyring", path=named or "-"), key="cli.idr_no_keyring", path=named or "-"
        )
    try:
        keyring = Keyring.load(Path(named))
    except KeyringError as exc:
        raise InvalidInput(str(exc), key="cli.idr_bad_keyring", error=str(exc)) from None
    key_id = keyring.rotate()
    store = open_store(location, keyring=keyring)
    try:
        count = store.reseal()
    finally:
        store.close()
    print(_t("cli.idr_rekeyed", key_id=key_id, count=count))
    return 0


def _carriers(args: argparse.Namespace, store: Any, prefix: str) -> Any:
    """The carrier registry of the node's first prefix, certifying with ``--signing-key``."""
    from indunet.cli_idr_trust import signing_key
    from indunet.idr.carriers import CarrierRegistry

    return CarrierRegistry(store, prefix, signing_key(args.signing_key))


def _record_signer(args: argparse.Namespace, prefix: str) -> Any:
    """``--sign-records``: every record of the node's first prefix signed as it is written."""
    from indunet.cli_idr_trust import signing_key
    from indunet.idr.signed import RecordSigner

    if not args.signing_key:
        raise InvalidInput(_t("cli.idr_sign_records_key"), key="cli.idr_sign_records_key")
    return RecordSigner(signing_key(args.signing_key), prefix)


def _ledger(args: argparse.Namespace, store: Any, location: str | Path) -> Any:
    """The node's ledger in its store's database, recording allocations (and with
    ``--ledger-registrations`` identifiers) from here on, and any made while it was not running;
    signed with ``--ledger-key``, or a key made next to the store."""
    from indunet.ledger.recorder import LedgerRecorder
    from indunet.ledger.service import Ledger
    from indunet.ledger.store import open_log
    from indunet.security.crypto import keys

    if args.workers > 1 or _is_worker():
        raise InvalidInput(_t("cli.idr_ledger_workers"), key="cli.idr_ledger_workers")
    key_path = Path(args.ledger_key) if args.ledger_key else Path(f"{location}.ledger-key.pem")
    if not key_path.exists() and (args.ledger_key or not isinstance(location, Path)):
        raise InvalidInput(
            _t("cli.ledger_bad_key", error=f"no {key_path}"),
            key="cli.ledger_bad_key",
            error=str(key_path),
        )
    try:
        key = keys.own_key(key_path)
    except keys.UnsupportedKey as exc:
        raise InvalidInput(
            _t("cli.ledger_bad_key", error=str(exc)), key="cli.ledger_bad_key", error=str(exc)
        ) from None
    ledger = Ledger(open_log(location), key)
    LedgerRecorder(ledger, store, registrations=args.ledger_registrations)
    print(_t("cli.ledger_serving", log=ledger.did, size=ledger.store.size()), flush=True)
    return ledger


_WORKER_ENV = "INDUNET_IDR_WORKER"


def _is_worker() -> bool:
    return os.environ.get(_WORKER_ENV) == "1"


@contextlib.contextmanager
def _workers(args: argparse.Namespace, store: str | None) -> Iterator[None]:
    """``--workers N``: N-1 more processes serving the same ports (SO_REUSEPORT: the kernel spreads
    clients over them) and the same store; stopped with this one."""
    if args.workers <= 1 or _is_worker():
        yield
        return
    command = [sys.executable, "-m", "indunet", "idr", "serve", "--role", args.role, "--host", args.host,
               "--port", str(args.port), "--rate-limit", str(args.rate_limit),
               "--negative-ttl", str(args.negative_ttl), "--workers", "1", "--cache-size", str(args.cache_size)]  # fmt: skip
    command += [f"--prefix={p}" for p in args.prefix] + [f"--root={r}" for r in args.root]
    if store is not None:
        command += ["--store", store]
    if getattr(args, "redis", None):
        command += ["--redis", args.redis]
    if args.http_port is not None:
        command += ["--http-port", str(args.http_port)]
    # Every worker answers writes, carriers and recursive questions: each needs the same keys.
    for option, value in (
        ("--keyring", args.keyring),
        ("--signing-key", args.signing_key),
        ("--anchor", args.anchor),
    ):
        if value:
            command += [option, value]
    if args.sign_records:
        command.append("--sign-records")
    # The secret goes by environment, not argument: other users can read a process's arguments.
    env = {**os.environ, _WORKER_ENV: "1"}
    secret = args.admin_secret or os.environ.get("INDUNET_IDR_ADMIN_SECRET")
    if secret:
        env["INDUNET_IDR_ADMIN_SECRET"] = secret
    children = [
        # This interpreter running indunet with the options already parsed: nothing from outside.
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)  # noqa: S603
        for _ in range(args.workers - 1)
    ]
    # Each worker says when it listens; this process announces the node only when all of them do,
    # so that whoever waits for the announcement finds every worker answering.
    for child in children:
        assert child.stdout is not None
        if not child.stdout.readline():
            raise InvalidInput(_t("cli.idr_worker_failed"), key="cli.idr_worker_failed")
    try:
        yield
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _cannot_listen(port: int, exc: OSError) -> InvalidInput:
    reason = exc.strerror or str(exc)
    return InvalidInput(
        _t("cli.idr_listen", port=port, reason=reason), key="cli.idr_listen", port=port, reason=reason
    )


async def _listen(handler: Any, args: argparse.Namespace) -> Any:
    from indunet.idr.limits import RateLimiter
    from indunet.idr.server import IdrServer

    try:
        server = IdrServer(
            handler,
            args.host,
            args.port,
            limiter=RateLimiter(args.rate_limit),
            reuse_port=args.workers > 1 or _is_worker(),
        )
        return await server.start()
    except OSError as exc:
        raise _cannot_listen(args.port, exc) from None


async def _run(node: Any, app: Any, args: argparse.Namespace, served: str) -> None:
    http: uvicorn.Server | None = None
    tasks: list[asyncio.Task[Any]] = []
    if args.http_port is not None:
        http = _EmbeddedServer(uvicorn.Config(app, host=args.host, port=args.http_port, log_level="warning"))
        tasks.append(asyncio.create_task(http.serve(sockets=[_http_socket(args.host, args.http_port)])))
    if _is_worker():
        print("listening", flush=True)  # read by the first process (``_workers``), not by people
        await _until_stopped()
        if http is not None:
            http.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        await node.stop()
        return
    print(
        _t(
            "cli.idr_serving",
            role=args.role,
            prefixes=served,
            host=args.host,
            port=node.port,
            http=f"http://{args.host}:{args.http_port}" if args.http_port is not None else "-",
        ),
        flush=True,
    )
    try:
        await _until_stopped()
    finally:
        if http is not None:
            http.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        await node.stop()


async def _serve(
    store: Any, prefixes: tuple[str, ...], args: argparse.Namespace, ledger: Any = None, carriers: Any = None
) -> None:
    from indunet.idr.app import create_node_app
    from indunet.idr.service import Service

    service = Service(store, prefixes, cache_size=args.cache_size)
    node = await _listen(service, args)
    app = create_node_app(store, handler=service, ledger=ledger, carriers=carriers)
    await _run(node, app, args, ", ".join(prefixes))


async def _serve_recursive(roots: list[Any], args: argparse.Namespace) -> None:
    from indunet.idr import rest
    from indunet.idr.recursive import Recursor

    anchor = args.anchor or os.environ.get(cli_idr_trust.ANCHOR_ENV)
    recursor = Recursor(roots, negative_ttl_s=args.negative_ttl, anchor=anchor)
    node = await _listen(recursor, args)
    try:
        await _run(node, rest.create_recursive_app(recursor), args, "*")
    finally:
        recursor.close()


def _http_socket(host: str, port: int) -> socket.socket:
    """The REST API's listening socket, shareable by worker processes (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio turns Nagle off on accepted connections only when the listener
    # says TCP, and with Nagle on, uvicorn's separate header and body writes wait for a delayed ACK
    # (40 ms per keep-alive response).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise _cannot_listen(port, exc) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


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
    shown: dict[str, Any] = {"handle": args.handle, "values": [value_json(v) for v in values]}
    if args.verify:
        from indunet.cli_idr_trust import verify_resolved
        from indunet.idr.signed import NotTrusted

        try:
            verdict = verify_resolved(host, port, args.handle, values, args.anchor, args.tcp)
        except NotTrusted as exc:
            print(json.dumps(shown, ensure_ascii=False, indent=2))
            print(
                f"indunet: {_t('cli.idr_not_trusted', handle=args.handle, reason=str(exc))}", file=sys.stderr
            )
            return 1
        shown["verified"] = {
            "signer": verdict.signer,
            "chain": verdict.chain,
            "anchor": verdict.anchor,
            "pinned": verdict.pinned,
        }
        if not verdict.pinned:
            print(f"indunet: {_t('cli.idr_anchor_unpinned', anchor=verdict.anchor)}", file=sys.stderr)
    print(json.dumps(shown, ensure_ascii=False, indent=2))
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
    proof = _proof(args)
    try:
        asyncio.run(
            client.administer(host, port, CreateHandleRequest(args.handle, tuple(values)), admin, **proof)
        )
    except client.ClientError as exc:
        print(f"indunet: {_t('cli.idr_failed', handle=args.handle, error=str(exc))}", file=sys.stderr)
        return 1
    print(_t("cli.idr_registered", handle=args.handle))
    return 0


def cmd_idr_allocate(args: argparse.Namespace, _settings: Settings) -> int:
    """Allocate a prefix to the sites serving it, at the node holding the parent prefix: creates (or,
    when it exists, updates the sites of) ``0.NA/<prefix>`` there."""
    from indunet.idr import client
    from indunet.idr.bootstrap import delegation_record
    from indunet.idr.model import HS_SITE, InvalidHandle, check_prefix
    from indunet.idr.records import parse_admin_id
    from indunet.idr.sites import site
    from indunet.idr.wire import CreateHandleRequest, ModifyValueRequest, ResponseCode

    try:
        prefix = check_prefix(args.prefix)
    except InvalidHandle as exc:
        raise InvalidInput(str(exc), key="cli.idr_bad_prefix", error=str(exc)) from None
    host, port = _server(args.server)
    admin = parse_admin_id(args.admin)
    proof = _proof(args)
    # Each --site is one replica site; servers of one site are separated by commas.
    sites = [site([_endpoint(e) for e in text.split(",")], serial=1) for text in args.site]
    na, values = delegation_record(prefix, sites)

    async def allocate() -> None:
        try:
            await client.administer(host, port, CreateHandleRequest(na, tuple(values)), admin, **proof)
        except client.ClientError as exc:
            if exc.code != ResponseCode.RC_HANDLE_ALREADY_EXIST:
                raise
            site_values = tuple(v for v in values if v.type == HS_SITE)
            await client.administer(host, port, ModifyValueRequest(na, site_values), admin, **proof)

    try:
        asyncio.run(allocate())
    except client.ClientError as exc:
        print(f"indunet: {_t('cli.idr_failed', handle=na, error=str(exc))}", file=sys.stderr)
        return 1
    print(_t("cli.idr_allocated", prefix=prefix, sites=len(sites)))
    return 0


def register(commands: Any, add: Any) -> None:
    """Add ``idr`` and ``resolve`` to the top-level sub-commands."""
    idr = commands.add_parser("idr", help=_t("cli.help.idr")).add_subparsers(dest="sub", required=True)
    serve = add("serve", cmd_idr_serve, "cli.help.idr_serve", idr)
    serve.add_argument("--role", choices=ROLES, default="enterprise")
    serve.add_argument("--prefix", action="append", default=[], help=_t("cli.help.idr_prefix"))
    serve.add_argument(
        "--root", action="append", default=[], metavar="HOST:PORT", help=_t("cli.help.idr_root")
    )
    serve.add_argument(
        "--quota", action="append", default=[], metavar="PREFIX=N", help=_t("cli.help.idr_quota")
    )
    serve.add_argument(
        "--rate-limit", type=float, default=0.0, metavar="N", help=_t("cli.help.idr_rate_limit")
    )
    serve.add_argument(
        "--negative-ttl", type=float, default=60.0, metavar="S", help=_t("cli.help.idr_negative_ttl")
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--http-port", type=int, help=_t("cli.help.idr_http_port"))
    serve.add_argument("--admin-secret", help=_t("cli.help.idr_admin_secret"))
    serve.add_argument("--store", help=_t("cli.help.idr_store"))
    serve.add_argument("--admin-pubkey", metavar="FILE.pub", help=_t("cli.help.idr_admin_pubkey"))
    serve.add_argument("--redis", metavar="URL", help=_t("cli.help.idr_redis"))
    serve.add_argument("--workers", type=int, default=1, metavar="N", help=_t("cli.help.idr_workers"))
    serve.add_argument(
        "--cache-size", type=int, default=100_000, metavar="N", help=_t("cli.help.idr_cache_size")
    )
    serve.add_argument("--keyring", metavar="FILE", help=_t("cli.help.idr_keyring"))
    serve.add_argument("--ledger", action="store_true", help=_t("cli.help.idr_ledger"))
    serve.add_argument("--anchor", metavar="BID", help=_t("cli.help.idr_serve_anchor"))
    serve.add_argument("--signing-key", metavar="FILE", help=_t("cli.help.idr_serve_signing_key"))
    serve.add_argument("--sign-records", action="store_true", help=_t("cli.help.idr_sign_records"))
    serve.add_argument("--ledger-key", metavar="FILE", help=_t("cli.help.idr_ledger_key"))
    serve.add_argument(
        "--ledger-registrations", action="store_true", help=_t("cli.help.idr_ledger_registrations")
    )
    reg = add("register", cmd_idr_register, "cli.help.idr_register", idr)
    reg.add_argument("handle")
    reg.add_argument("--server", required=True, metavar="HOST:PORT")
    reg.add_argument("--admin", required=True, metavar="INDEX:HANDLE")
    reg.add_argument("--admin-secret", "--secret", dest="admin_secret", help=_t("cli.help.idr_admin_secret"))
    reg.add_argument("--value", action="append", default=[], metavar="TYPE=DATA")
    reg.add_argument("--key", metavar="FILE", help=_t("cli.help.idr_key"))

    allocate = add("allocate", cmd_idr_allocate, "cli.help.idr_allocate", idr)
    allocate.add_argument("prefix")
    allocate.add_argument("--server", required=True, metavar="HOST:PORT")
    allocate.add_argument("--admin", required=True, metavar="INDEX:HANDLE")
    allocate.add_argument(
        "--admin-secret", "--secret", dest="admin_secret", help=_t("cli.help.idr_admin_secret")
    )
    allocate.add_argument(
        "--site", action="append", default=[], metavar="HOST:PORT[,HOST:PORT]", help=_t("cli.help.idr_site")
    )

    rekey = add("rekey", cmd_idr_rekey, "cli.help.idr_rekey", idr)
    rekey.add_argument("--store", required=True, help=_t("cli.help.idr_store"))
    rekey.add_argument("--keyring", metavar="FILE", help=_t("cli.help.idr_keyring"))

    keygen = add("keygen", cmd_idr_keygen, "cli.help.idr_keygen", idr)
    keygen.add_argument("--type", choices=("rsa", "dsa", "sm2"), default="sm2")
    keygen.add_argument("--out", required=True, metavar="FILE")

    resolve = add("resolve", cmd_resolve, "cli.help.resolve")
    resolve.add_argument("handle")
    resolve.add_argument("--server", default=f"127.0.0.1:{DEFAULT_PORT}", metavar="HOST:PORT")
    resolve.add_argument("--type", action="append", default=[])
    resolve.add_argument("--index", action="append", default=[], type=int)
    resolve.add_argument("--tcp", action="store_true", help=_t("cli.help.resolve_tcp"))
    resolve.add_argument("--verify", action="store_true", help=_t("cli.help.resolve_verify"))
    resolve.add_argument("--anchor", metavar="BID", help=_t("cli.help.resolve_anchor"))
    cli_idr_trust.register(idr, add)
