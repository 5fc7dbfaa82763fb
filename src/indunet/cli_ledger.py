"""``indunet ledger``: audit, dump and witness an allocation ledger.

- ``indunet ledger verify --server URL | --file DUMP [--log BID]`` audits a whole log (every entry,
  every signed head, every cosignature) and exits 0 only when it is intact, 1 when it is not;
- ``indunet ledger dump --server URL --out FILE`` writes a log to a file that ``verify --file`` reads;
- ``indunet ledger witness --server URL --key FILE --state FILE [--log BID] [--every S] [--entries]
  [--report PLATFORM --token-file FILE]`` checks the log's latest head against the last one it saw
  and cosigns it; a split view exits 3 with the evidence written next to the state file, after
  telling the platform (as a ``ledger_witness`` device) when ``--report`` names one.

``URL`` is the ledger's API, e.g. ``http://127.0.0.1:8081/api/v1/ledger``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

from indunet.core.config import Settings
from indunet.core.errors import InvalidInput
from indunet.core.i18n import cli_language, translate

SPLIT_VIEW_EXIT = 3


def _t(key: str, **params: Any) -> str:
    return translate(key, cli_language(), **params)


def _source(args: argparse.Namespace) -> Any:
    from indunet.ledger.audit import ApiSource, DumpSource

    if bool(args.server) == bool(getattr(args, "file", None)):
        raise InvalidInput(_t("cli.ledger_source"), key="cli.ledger_source")
    if args.server:
        return ApiSource(args.server)
    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(_t("cli.ledger_no_file", path=str(path)), key="cli.ledger_no_file", path=str(path))
    return DumpSource(path)


def cmd_ledger_verify(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.ledger.audit import audit
    from indunet.security.documents import BadDocument

    try:
        report = audit(_source(args), args.log)
    except (httpx.HTTPError, BadDocument) as exc:
        print(f"indunet: {_t('cli.ledger_unreadable', error=str(exc))}", file=sys.stderr)
        return 1
    for line in report.checked:
        print(_t("cli.ledger_checked", what=line))
    for problem in report.problems:
        print(_t("cli.ledger_problem", problem=problem), file=sys.stderr)
    if report.intact:
        print(_t("cli.ledger_intact", log=report.log, entries=report.entries, heads=report.heads))
        return 0
    print(_t("cli.ledger_not_intact", count=len(report.problems)), file=sys.stderr)
    return 1


def cmd_ledger_dump(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.ledger.audit import ApiSource

    source = ApiSource(args.server)
    count = 0
    try:
        with Path(args.out).open("w") as out:
            for raw in source.heads():
                out.write(json.dumps({"head": raw.decode()}) + "\n")
            for seq, body in source.entries():
                out.write(json.dumps({"seq": seq, "body": base64.b64encode(body).decode()}) + "\n")
                count += 1
            for raw in source.cosignatures():
                out.write(json.dumps({"cosignature": raw.decode()}) + "\n")
    except httpx.HTTPError as exc:
        print(f"indunet: {_t('cli.ledger_unreadable', error=str(exc))}", file=sys.stderr)
        return 1
    print(_t("cli.ledger_dumped", entries=count, path=args.out))
    return 0


def cmd_ledger_witness(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.ledger.watch import PlatformReport, Watch
    from indunet.ledger.witness import SplitView, Witness
    from indunet.security.crypto import keys

    try:
        key = keys.load_private_key(Path(args.key).read_bytes())
    except (OSError, keys.UnsupportedKey) as exc:
        raise InvalidInput(
            _t("cli.ledger_bad_key", error=str(exc)), key="cli.ledger_bad_key", error=str(exc)
        ) from None
    token = _report_token(args)
    with httpx.Client(timeout=30) as client:
        watch = Watch(
            Witness(key, Path(args.state)),
            args.server,
            client,
            args.log,
            report=None if token is None else PlatformReport(args.report, token, client),
            audit_entries=args.entries,
            on_cosigned=lambda c: print(_t("cli.ledger_cosigned", log=c.log, size=c.size), flush=True),
            on_error=lambda e: print(
                f"indunet: {_t('cli.ledger_unreadable', error=str(e))}", file=sys.stderr
            ),
        )
        try:
            if not args.every:
                return 0 if watch.once() else 1
            watch.run(args.every, threading.Event())
        except SplitView as alarm:
            print(
                f"indunet: {_t('cli.ledger_split_view', reason=alarm.reason, path=str(alarm.evidence_path))}",
                file=sys.stderr,
            )
            return SPLIT_VIEW_EXIT
    return 0


def _report_token(args: argparse.Namespace) -> str | None:
    """The witness device's token for ``--report``: from ``--token-file`` or INDUNET_WITNESS_TOKEN
    (never an argument: other users can read a process's arguments)."""
    if not args.report:
        return None
    token = os.environ.get("INDUNET_WITNESS_TOKEN", "")
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InvalidInput(
                _t("cli.ledger_no_token", error=str(exc)), key="cli.ledger_no_token", error=str(exc)
            ) from None
    if not token or len(token) > 512:
        raise InvalidInput(
            _t("cli.ledger_no_token", error="--token-file or INDUNET_WITNESS_TOKEN"),
            key="cli.ledger_no_token",
            error="--token-file",
        )
    return token


def register(commands: Any, add: Any) -> None:
    ledger = commands.add_parser("ledger", help=_t("cli.help.ledger")).add_subparsers(
        dest="sub", required=True
    )
    verify = add("verify", cmd_ledger_verify, "cli.help.ledger_verify", ledger)
    verify.add_argument("--server", metavar="URL", help=_t("cli.help.ledger_server"))
    verify.add_argument("--file", metavar="DUMP", help=_t("cli.help.ledger_file"))
    verify.add_argument("--log", metavar="BID", help=_t("cli.help.ledger_log"))
    dump = add("dump", cmd_ledger_dump, "cli.help.ledger_dump", ledger)
    dump.add_argument("--server", required=True, metavar="URL", help=_t("cli.help.ledger_server"))
    dump.add_argument("--out", required=True, metavar="FILE")
    witness = add("witness", cmd_ledger_witness, "cli.help.ledger_witness", ledger)
    witness.add_argument("--server", required=True, metavar="URL", help=_t("cli.help.ledger_server"))
    witness.add_argument("--key", required=True, metavar="FILE", help=_t("cli.help.ledger_key"))
    witness.add_argument("--state", required=True, metavar="FILE", help=_t("cli.help.ledger_state"))
    witness.add_argument("--log", metavar="BID", help=_t("cli.help.ledger_log"))
    witness.add_argument("--every", type=float, default=0.0, metavar="S", help=_t("cli.help.ledger_every"))
    witness.add_argument("--entries", action="store_true", help=_t("cli.help.ledger_entries"))
    witness.add_argument("--report", metavar="URL", help=_t("cli.help.ledger_report"))
    witness.add_argument("--token-file", metavar="FILE", help=_t("cli.help.ledger_token_file"))
