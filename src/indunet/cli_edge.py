"""``indunet gateway`` and ``indunet sim``: the edge side of the command line.

- ``indunet gateway --config FILE`` runs a gateway until SIGINT/SIGTERM;
- ``indunet gateway check --config FILE`` checks a configuration against the data dictionary and the
  drivers without connecting to anything;
- ``indunet gateway scan HOST[:PORT]...`` probes Modbus, OPC UA and S7 endpoints and prints a draft
  configuration (YAML) to complete and check;
- ``indunet sim modbus|opcua|s7 --port P`` runs one simulated field device as a real protocol server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from indunet.core.config import Settings
from indunet.core.errors import InvalidInput
from indunet.core.i18n import cli_language, translate

DEFAULT_PORTS = {"modbus": 502, "opcua": 4840, "s7": 102}
SIMULATORS = {
    "modbus": "indunet.sim.modbus_plc",
    "opcua": "indunet.sim.opcua_cnc",
    "s7": "indunet.sim.s7_plc",
}
MAX_SCAN_TARGETS = 256


def _t(key: str, **params: Any) -> str:
    return translate(key, cli_language(), **params)


def cmd_gateway(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.edge import config as gateway_config
    from indunet.edge.gateway import run_gateway

    config = gateway_config.load(_config_path(args))
    logging.getLogger().setLevel(config.log_level.upper())
    print(_t("cli.gateway_running", name=config.name, devices=len(config.devices)), flush=True)
    return run_gateway(config)


def cmd_gateway_check(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.edge import config as gateway_config

    config = gateway_config.load(_config_path(args))
    points = sum(len(d.bindings) for d in config.devices)
    print(_t("cli.gateway_config_ok", name=config.name, devices=len(config.devices), points=points))
    return 0


def _config_path(args: argparse.Namespace) -> Path:
    if args.gateway_config is None:
        raise InvalidInput(_t("cli.gateway_config_required"), key="cli.gateway_config_required")
    path: Path = args.gateway_config
    return path


def parse_target(text: str, protocol: str) -> tuple[str, int | None]:
    """``host``, ``host:port`` or ``[v6]:port``; the port is None when the protocol's default applies."""
    host, port = text, None
    if text.startswith("["):
        end = text.find("]")
        host, rest = text[1:end], text[end + 1 :]
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    elif text.count(":") == 1:
        host, _, tail = text.partition(":")
        if not tail.isdigit() or not 0 < int(tail) < 65536:
            raise InvalidInput(_t("cli.scan_bad_target", target=text), key="cli.scan_bad_target", target=text)
        port = int(tail)
    if not host:
        raise InvalidInput(_t("cli.scan_bad_target", target=text), key="cli.scan_bad_target", target=text)
    if port is None and protocol != "auto":
        port = DEFAULT_PORTS[protocol]
    return host, port


async def scan_targets(
    targets: list[tuple[str, int | None]], protocol: str, timeout_s: float
) -> list[dict[str, Any]]:
    """Draft device entries for every target that answered; each target probed with each candidate."""
    from indunet.edge import drivers

    async def one(host: str, port: int | None) -> list[dict[str, Any]]:
        candidates = [protocol] if protocol != "auto" else _guess(port)
        for name in candidates:
            probe_port = port if port is not None else DEFAULT_PORTS[name]
            try:
                found: list[dict[str, Any]] = await asyncio.wait_for(
                    drivers.module(name).scan(host, probe_port, timeout_s), timeout_s * 40
                )
            except Exception as exc:  # a probe that fails says "not this protocol"
                logging.getLogger(__name__).debug("%s %s:%s: %s", name, host, probe_port, exc)
                continue
            if found:
                return found
        return []

    results = await asyncio.gather(*(one(h, p) for h, p in targets))
    return [entry for found in results for entry in found]


def _guess(port: int | None) -> list[str]:
    by_port = {v: k for k, v in DEFAULT_PORTS.items()}
    first = by_port.get(port or 0)
    # Wrong guesses cost least in this order: an OPC UA hello and an S7 connection request are refused
    # at once by other servers, while Modbus probing waits out a timeout per unit id.
    order = ["opcua", "s7", "modbus"]
    return [first, *[p for p in order if p != first]] if first else order


def cmd_gateway_scan(args: argparse.Namespace, _settings: Settings) -> int:
    if len(args.targets) > MAX_SCAN_TARGETS:
        raise InvalidInput(_t("cli.scan_too_many", limit=MAX_SCAN_TARGETS), key="cli.scan_too_many")
    targets = [parse_target(t, args.protocol) for t in args.targets]
    # Probing with the wrong protocol is the point of a scan: the libraries' complaints are expected.
    for library in ("pymodbus", "asyncua", "snap7"):
        logging.getLogger(library).setLevel(logging.CRITICAL)
    devices = asyncio.run(scan_targets(targets, args.protocol, args.timeout))
    if not devices:
        print(_t("cli.scan_nothing"), file=sys.stderr)
        return 1
    models = [_tidy(entry, args.models) for entry in devices]
    draft: dict[str, Any] = {
        "name": "gateway",
        "uplink": {"mqtt": "mqtt://127.0.0.1:1883", "http": "http://127.0.0.1:8000", "token": "REPLACE_ME"},
        **({"models": [str(m) for m in models if m is not None]} if any(models) else {}),
        "devices": devices,
    }
    text = f"# {_t('cli.scan_draft_header')}\n" + yaml.safe_dump(draft, sort_keys=False, allow_unicode=True)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(_t("cli.scan_written", path=str(args.out), devices=len(devices)), file=sys.stderr)
    else:
        print(text, end="")
    return 0


ENTRY_KEYS = frozenset(
    {"name", "type", "driver", "connection", "poll_ms", "points", "commands", "enabled", "info"}
)


def _tidy(entry: dict[str, Any], models: Path | None) -> Path | None:
    """Make a probe's entry a valid configuration entry: what it found beyond that goes to ``info``;
    a device type proposed from an OPC UA address space is written to ``models`` (YAML and AAS JSON)
    and named as the entry's type. The model file written, if any."""
    from indunet.platform.models import load_device_type, to_aas_json

    # Probes may share one connection dict between entries; YAML would write it as an alias.
    entry["connection"] = dict(entry.get("connection", {}))
    proposed = entry.pop("proposed_type", None)
    extra = {k: entry.pop(k) for k in list(entry) if k not in ENTRY_KEYS}
    if extra:
        entry["info"] = {**entry.get("info", {}), **extra}
    if entry.get("type") in (None, "TODO"):
        entry["type"] = "TODO"
    if not proposed:
        return None
    device_type = load_device_type(yaml.safe_dump(proposed, allow_unicode=True), "yaml")
    if models is None:
        entry.setdefault("info", {})["proposed_type"] = f"{device_type.name} (write it with --models DIR)"
        return None
    models.mkdir(parents=True, exist_ok=True)
    path = models / f"{device_type.name}.yaml"
    path.write_text(yaml.safe_dump(proposed, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (models / f"{device_type.name}.aas.json").write_text(to_aas_json(device_type), encoding="utf-8")
    entry["type"] = device_type.name
    return path.resolve()


def cmd_sim(args: argparse.Namespace, _settings: Settings) -> int:
    import importlib

    module = importlib.import_module(SIMULATORS[args.protocol])
    port = args.port if args.port is not None else DEFAULT_PORTS[args.protocol]

    async def main() -> None:
        stop = asyncio.Event()
        ready = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = asyncio.create_task(
            module.serve(
                args.host, port, seed=args.seed, faults=args.fault, ready=ready, stop=stop, **_extra(args)
            )
        )
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({server, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            print(_t("cli.sim_listening", protocol=args.protocol, host=args.host, port=port), flush=True)
        waiter.cancel()
        await server

    try:
        asyncio.run(main())
    except OSError as exc:
        raise InvalidInput(
            _t("cli.sim_listen", port=port, reason=str(exc)), key="cli.sim_listen", port=port, reason=str(exc)
        ) from None
    return 0


def _extra(args: argparse.Namespace) -> dict[str, Any]:
    """The options only some simulators take, checked against the protocol."""
    extra: dict[str, Any] = {}
    if args.count is not None:
        if not 1 <= args.count <= 247:
            raise InvalidInput(_t("cli.sim_count"), key="cli.sim_count")
        extra["units" if args.protocol == "modbus" else "machines"] = args.count
    if args.protocol == "opcua":
        if args.cert_dir is not None:
            extra["cert_dir"] = args.cert_dir
        users = dict(user.partition(":")[::2] for user in args.user)
        if any(not name or not password for name, password in users.items()):
            raise InvalidInput(_t("cli.sim_user"), key="cli.sim_user")
        if users:
            extra["users"] = users
    elif args.cert_dir is not None or args.user:
        raise InvalidInput(_t("cli.sim_opcua_only"), key="cli.sim_opcua_only")
    return extra


def register(commands: Any, add: Any) -> None:
    """Add ``gateway`` and ``sim`` to the top-level sub-commands (``add`` as in ``cli.build_parser``)."""
    gateway = add("gateway", cmd_gateway, "cli.help.gateway")
    gateway.add_argument("--config", dest="gateway_config", type=Path, help=_t("cli.help.gateway_config"))
    sub = gateway.add_subparsers(dest="sub", required=False, metavar="SUBCOMMAND")
    check = add("check", cmd_gateway_check, "cli.help.gateway_check", sub)
    check.add_argument(
        "--config",
        dest="gateway_config",
        type=Path,
        default=argparse.SUPPRESS,
        help=_t("cli.help.gateway_config"),
    )
    scan = add("scan", cmd_gateway_scan, "cli.help.gateway_scan", sub)
    scan.add_argument("targets", nargs="+", metavar="HOST[:PORT]")
    scan.add_argument("--protocol", default="auto", choices=["auto", "modbus", "opcua", "s7"])
    scan.add_argument("--timeout", type=float, default=1.0, help=_t("cli.help.scan_timeout"))
    scan.add_argument("--out", type=Path, help=_t("cli.help.scan_out"))
    scan.add_argument("--models", type=Path, metavar="DIR", help=_t("cli.help.scan_models"))

    sim = add("sim", cmd_sim, "cli.help.sim")
    sim.add_argument("protocol", choices=sorted(SIMULATORS))
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, help=_t("cli.help.sim_port"))
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--count", type=int, help=_t("cli.help.sim_count"))
    sim.add_argument("--cert-dir", type=Path, help=_t("cli.help.sim_cert_dir"))
    sim.add_argument(
        "--user", action="append", default=[], metavar="NAME:PASSWORD", help=_t("cli.help.sim_user")
    )
    sim.add_argument(
        "--fault", action="append", default=[], metavar="NAME[=VALUE]", help=_t("cli.help.sim_fault")
    )
