"""The ``indunet`` command: serve, demo, database, tenants, users and devices (gateway and sim in
``cli_edge``, identifier nodes and resolution in ``cli_idr``, sealed credentials in ``cli_secrets``).

Errors from the platform end the command with the message from the catalog and the exit code that
``core.errors`` assigns (2 for bad input, 1 for failures of the system).
"""

from __future__ import annotations

import argparse
import gc
import getpass
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from indunet import __version__, cli_edge, cli_idr, cli_ledger, cli_phm, cli_safety, cli_secrets
from indunet.core.config import Settings, load_settings
from indunet.core.errors import ConfigurationError, IndunetError, InvalidInput, StorageError
from indunet.core.i18n import cli_language, localise_error, translate

Handler = Callable[[argparse.Namespace, Settings], int]


def _t(key: str, **params: Any) -> str:
    return translate(key, cli_language(), **params)


def _platform(settings: Settings) -> Any:
    from indunet.platform.runtime import Platform

    return Platform(settings)


def _upgrade(settings: Settings) -> None:
    from indunet.platform.runtime import open_platform

    open_platform(settings).close()


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    _upgrade(settings)
    print(_t("cli.db_upgraded", url=_redact(settings.metadata_url)))
    return 0


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':')[0]}:***@{host}" if ":" in credentials else url
    return url


def cmd_tenant_add(args: argparse.Namespace, settings: Settings) -> int:
    from indunet.platform.tenants import create_tenant

    platform = _platform(settings)
    try:
        tenant = create_tenant(platform, args.name, args.display_name, args.retention_days)
    finally:
        platform.close()
    print(_t("cli.tenant_added", name=tenant["name"], id=tenant["id"]))
    return 0


def cmd_tenant_list(_args: argparse.Namespace, settings: Settings) -> int:
    from indunet.platform.tenants import list_tenants

    platform = _platform(settings)
    try:
        for tenant in list_tenants(platform):
            print(f"{tenant['name']}\t{tenant['id']}\t{tenant['display_name']}\t{tenant['retention_days']}d")
    finally:
        platform.close()
    return 0


def _system_principal(platform: Any, tenant_name: str) -> Any:
    from indunet.platform.tenants import get_tenant_by_name
    from indunet.security import Principal

    tenant = get_tenant_by_name(platform, tenant_name)
    return Principal.system(tenant["id"], label=f"system:cli:{getpass.getuser()}")


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from indunet.platform.accounts import add_user

    password = args.password or os.environ.get("INDUNET_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise InvalidInput(_t("cli.password_required"), key="cli.password_required")
        password = getpass.getpass(_t("cli.password_prompt"))
    platform = _platform(settings)
    try:
        user = add_user(platform, _system_principal(platform, args.tenant), args.email, password, args.role)
    finally:
        platform.close()
    print(_t("cli.user_added", email=user["email"], role=user["role"], tenant=args.tenant))
    return 0


def cmd_device_add(args: argparse.Namespace, settings: Settings) -> int:
    from indunet.platform.devices import create_device

    platform = _platform(settings)
    try:
        device = create_device(platform, _system_principal(platform, args.tenant), args.name, args.type)
    finally:
        platform.close()
    print(device["token"])
    return 0


def cmd_alarms_list(args: argparse.Namespace, settings: Settings) -> int:
    from indunet.platform.alarms import AlarmQuery, list_alarms

    platform = _platform(settings)
    try:
        query = AlarmQuery(limit=args.limit, status=args.status, severity=args.severity, device=args.device)
        items, total = list_alarms(platform, _system_principal(platform, args.tenant), query)
    finally:
        platform.close()
    for alarm in items:
        print(
            f"{alarm['id']}\t{alarm['status']}\t{alarm['severity']}\t{alarm['device_name']}\t"
            f"{alarm['name']}\t{alarm['count']}\t{alarm['start_ts']}\t{alarm['message']}"
        )
    print(_t("cli.alarms_listed", shown=len(items), total=total))
    return 0


def _day(text: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_t("cli.bad_day", value=text)) from None


def cmd_indices_rollup(args: argparse.Namespace, settings: Settings) -> int:
    from indunet.apps.indices.rollup import roll_up

    platform = _platform(settings)
    try:
        written = roll_up(platform, _system_principal(platform, args.tenant), args.first, args.last)
    finally:
        platform.close()
    print(_t("cli.indices_rolled_up", count=written, first=args.first, last=args.last))
    return 0


def cmd_indices_show(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from indunet.apps.indices import export
    from indunet.apps.indices.rollup import indices

    last = args.last or datetime.now(ZoneInfo(settings.indices_timezone)).date()
    first = args.first or last - timedelta(days=365)
    platform = _platform(settings)
    try:
        rows = indices(
            platform,
            _system_principal(platform, args.tenant),
            measure=args.measure,
            by=args.by,
            period=args.period,
            first=first,
            last=last,
            base=args.base,
        )
    finally:
        platform.close()
    if args.format == "csv":
        sys.stdout.write(export.to_csv(rows, args.measure).decode("utf-8"))
    elif args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for row in rows:
            cells = [
                row["group"],
                row["period"],
                *("-" if row[c] is None else f"{row[c]:.2f}" for c in export.COLUMNS[2:]),
            ]
            print("\t".join(str(c) for c in cells))
        print(_t("cli.indices_shown", count=len(rows), measure=args.measure))
    return 0


def cmd_alarms_ack(args: argparse.Namespace, settings: Settings) -> int:
    from indunet.platform.alarms import acknowledge

    platform = _platform(settings)
    try:
        alarm = acknowledge(platform, _system_principal(platform, args.tenant), args.id)
    finally:
        platform.close()
    print(_t("cli.alarm_acknowledged", id=alarm["id"], status=alarm["status"]))
    return 0


def cmd_retention(_args: argparse.Namespace, settings: Settings) -> int:
    from indunet.platform.telemetry import apply_retention

    platform = _platform(settings)
    try:
        deleted = apply_retention(platform)
    finally:
        platform.close()
    for tenant, count in deleted.items():
        print(_t("cli.retention_done", tenant=tenant, count=count))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from indunet.platform.ingest_service import BusWorkers, close_sink, sink_for
    from indunet.web.app import create_app

    if args.role != "all" and not settings.bus_url:
        raise ConfigurationError("--role needs a NATS bus (bus_url)", key="error.bus_required")
    _upgrade(settings)
    platform = _platform(settings)
    _tune_gc()
    try:
        sink_for(platform)  # connects to the bus now, so that a wrong bus_url fails at start-up
        if args.role in ("writer", "rules"):
            return _run_workers(
                BusWorkers(platform, writer=args.role == "writer", rules=args.role == "rules")
            )
        workers = (
            BusWorkers(platform, writer=True, rules=True) if args.role == "all" and settings.bus_url else None
        )
        if workers is not None:
            workers.start()
        listens = settings.mqtt_port or settings.mqtt_tls_port
        mqtt = _start_mqtt(platform) if listens and args.role in ("all", "transport") else None
        external: list[Any] = []
        try:
            if args.role in ("all", "transport"):
                from indunet.platform.rpc import router_for
                from indunet.transport.sparkplug import SparkplugHost, start_configured

                external = start_configured(platform)  # Sparkplug host, MQTT JSON subscriptions
                for service in external:
                    if isinstance(service, SparkplugHost):
                        router_for(platform).add_writer(service)  # REST RPC to its devices goes out as DCMD
            print(_t("cli.serving", url=f"http://{settings.host}:{settings.port}/"), flush=True)
            uvicorn.run(
                create_app(platform),
                host=settings.host,
                port=settings.port,
                log_level=args.log_level,
                access_log=args.log_level == "debug",
            )
        finally:
            for service in external:
                if isinstance(service, SparkplugHost):
                    router_for(platform).remove_writer(service)
                service.stop()
            if mqtt is not None:
                mqtt.stop()
            if workers is not None:
                workers.stop()
    finally:
        close_sink(platform)
        platform.close()
    return 0


def _tune_gc() -> None:
    """Tune the cyclic garbage collector for a long-running server.

    Ingest allocates a few short-lived objects per message and makes almost no reference cycles. The
    default threshold (a young collection every 700 allocations, each older one sweeping the whole
    heap of connections and caches) cost more than the ingest itself with 5,000 devices connected;
    measured in bench/mqtt_ingest.py, it halved the throughput. So: what start-up built is moved out of
    the collector's sight, and young collections run every 100,000 allocations."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def _start_mqtt(platform: Any) -> Any:
    """The device MQTT endpoint on its own event loop thread beside the HTTP API."""
    from indunet.transport.mqtt import MqttThread

    mqtt = MqttThread(platform)
    try:
        mqtt.start()
    except OSError as exc:  # the port is taken (by a broker, say) or not ours to bind
        mqtt.stop()
        raise ConfigurationError(
            f"the device MQTT endpoint cannot listen: {exc.strerror or exc}",
            key="error.mqtt_listen",
            reason=exc.strerror or str(exc),
        ) from exc
    if mqtt.port:
        print(_t("cli.mqtt_serving", url=f"mqtt://{mqtt.server.host}:{mqtt.port}"), flush=True)
    if mqtt.tls_port:
        print(_t("cli.mqtt_tls_serving", url=f"mqtts://{mqtt.server.host}:{mqtt.tls_port}"), flush=True)
    return mqtt


def _run_workers(workers: Any) -> int:
    """Run bus workers until SIGTERM or SIGINT; the batch in hand is finished and acknowledged first."""
    workers.start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: workers.request_stop())
    print(_t("cli.worker_running", role=workers.role, bus=workers.bus_url), flush=True)
    workers.wait()
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from indunet.demo import run_demo

    _upgrade(settings)
    return run_demo(settings, log_level=args.log_level)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="indunet", description=_t("cli.description"))
    parser.add_argument("--version", action="version", version=f"indunet {__version__}")
    parser.add_argument("--config", type=Path, help=_t("cli.help.config"))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_key: str, into: Any = commands) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = into.add_parser(name, help=_t(help_key), description=_t(help_key))
        sub.set_defaults(handler=handler)
        return sub

    for name, handler, help_key in (
        ("serve", cmd_serve, "cli.help.serve"),
        ("demo", cmd_demo, "cli.help.demo"),
    ):
        sub = add(name, handler, help_key)
        sub.add_argument("--host", help=_t("cli.help.host"))
        sub.add_argument("--port", type=int, help=_t("cli.help.port"))
        sub.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
        if name == "serve":
            sub.add_argument(
                "--role",
                default="all",
                choices=["all", "transport", "writer", "rules"],
                help=_t("cli.help.role"),
            )
            sub.add_argument("--mqtt-port", type=int, help=_t("cli.help.mqtt_port"))
            sub.add_argument("--mqtt-tls-port", type=int, help=_t("cli.help.mqtt_tls_port"))

    db = commands.add_parser("db", help=_t("cli.help.db")).add_subparsers(dest="db_command", required=True)
    add("upgrade", cmd_db_upgrade, "cli.help.db_upgrade", db)

    tenant = commands.add_parser("tenant", help=_t("cli.help.tenant")).add_subparsers(
        dest="sub", required=True
    )
    tenant_add = add("add", cmd_tenant_add, "cli.help.tenant_add", tenant)
    tenant_add.add_argument("name")
    tenant_add.add_argument("--display-name")
    tenant_add.add_argument("--retention-days", type=int)
    add("list", cmd_tenant_list, "cli.help.tenant_list", tenant)

    user = commands.add_parser("user", help=_t("cli.help.user")).add_subparsers(dest="sub", required=True)
    user_add = add("add", cmd_user_add, "cli.help.user_add", user)
    user_add.add_argument("email")
    user_add.add_argument("--tenant", required=True)
    user_add.add_argument("--role", default="viewer", choices=["admin", "engineer", "viewer"])
    user_add.add_argument("--password", help=_t("cli.help.password"))

    device = commands.add_parser("device", help=_t("cli.help.device")).add_subparsers(
        dest="sub", required=True
    )
    device_add = add("add", cmd_device_add, "cli.help.device_add", device)
    device_add.add_argument("name")
    device_add.add_argument("--type", required=True)
    device_add.add_argument("--tenant", required=True)

    alarms = commands.add_parser("alarms", help=_t("cli.help.alarms")).add_subparsers(
        dest="sub", required=True
    )
    alarms_list = add("list", cmd_alarms_list, "cli.help.alarms_list", alarms)
    alarms_list.add_argument("--tenant", required=True)
    alarms_list.add_argument(
        "--status",
        choices=["active", "acknowledged", "cleared_unacknowledged", "cleared", "open", "unacknowledged"],
    )
    alarms_list.add_argument("--severity", choices=["critical", "major", "minor", "warning", "indeterminate"])
    alarms_list.add_argument("--device")
    alarms_list.add_argument("--limit", type=int, default=100, choices=range(1, 1001), metavar="1..1000")
    alarms_ack = add("ack", cmd_alarms_ack, "cli.help.alarms_ack", alarms)
    alarms_ack.add_argument("id")
    alarms_ack.add_argument("--tenant", required=True)

    from indunet.apps.indices.compute import MEASURES, PERIODS

    indices = commands.add_parser("indices", help=_t("cli.help.indices")).add_subparsers(
        dest="sub", required=True
    )
    rollup = add("rollup", cmd_indices_rollup, "cli.help.indices_rollup", indices)
    rollup.add_argument("--tenant", required=True)
    rollup.add_argument("--from", dest="first", type=_day, required=True, metavar="YYYY-MM-DD")
    rollup.add_argument("--to", dest="last", type=_day, required=True, metavar="YYYY-MM-DD")
    show = add("show", cmd_indices_show, "cli.help.indices_show", indices)
    show.add_argument("--tenant", required=True)
    show.add_argument("--measure", choices=MEASURES, default="operating_rate")
    show.add_argument("--by", default="all", help=_t("cli.help.indices_by"))
    show.add_argument("--period", choices=PERIODS, default="month")
    show.add_argument("--from", dest="first", type=_day, metavar="YYYY-MM-DD")
    show.add_argument("--to", dest="last", type=_day, metavar="YYYY-MM-DD")
    show.add_argument("--base", metavar="PERIOD", help=_t("cli.help.indices_base"))
    show.add_argument("--format", choices=["table", "csv", "json"], default="table")

    cli_edge.register(commands, add)
    cli_idr.register(commands, add)
    cli_ledger.register(commands, add)
    cli_secrets.register(commands, add)
    cli_phm.register(commands, add)
    cli_safety.register(commands, add)

    retention = commands.add_parser("retention", help=_t("cli.help.retention"))
    retention.add_subparsers(dest="sub", required=True).add_parser(
        "run", help=_t("cli.help.retention")
    ).set_defaults(handler=cmd_retention)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Per-request and per-migration-step chatter buries the lines an operator needs.
    for noisy in ("httpx", "alembic", "asyncua", "snap7", "pymodbus"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(
            args.config,
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            mqtt_port=getattr(args, "mqtt_port", None),
            mqtt_tls_port=getattr(args, "mqtt_tls_port", None),
        )
        code: int = args.handler(args, settings)
    except StorageError as exc:
        # From the command line this is almost always a database never set up, or one unreachable.
        print(f"indunet: {_t('cli.database_error', error=exc.message)}", file=sys.stderr)
        return exc.exit_code
    except IndunetError as exc:
        print(
            f"indunet: {localise_error(exc.key, exc.message, cli_language(), **exc.params)}", file=sys.stderr
        )
        return exc.exit_code
    except SQLAlchemyError as exc:
        print(f"indunet: {_t('cli.database_error', error=str(exc).splitlines()[0])}", file=sys.stderr)
        return StorageError.exit_code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
