"""``indunet safety``: major hazard sources, gas set-points, site files, risk features, failures, reports.

- ``indunet safety grade --holding lpg=500 --holding ammonia=100 --people 120`` identifies and grades a
  unit by GB 18218-2018 and prints the calculation (``--json`` for the document);
- ``indunet safety substances [--search TEXT]`` lists the standard's chemicals and critical quantities;
- ``indunet safety setpoints --kind combustible|toxic [--substance S] [--unit mg/m3|ppm]`` prints the
  GB/T 50493-2019 alarm set-points;
- ``indunet safety load --tenant T SITE.yaml`` creates or replaces the enterprises, units and monitoring
  points a site file describes (the way a plant's hazard register is brought in);
- ``indunet safety features check FILE`` validates a risk feature library offline, ``features import
  --tenant T FILE`` stores it as the tenant's newest version;
- ``indunet safety failures import --tenant T FILE.json`` adds earlier failure records;
- ``indunet safety warnings --tenant T [--status open]`` lists warnings;
- ``indunet safety report --tenant T --enterprise E | --region CODE [--period monthly] [--end DAY]
  --format html|pdf|json --out FILE`` writes a periodic report.

Bad files exit 2 naming what is wrong.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from indunet.core.config import Settings
from indunet.core.errors import InvalidInput
from indunet.core.i18n import cli_language, translate

PERIOD_DAYS = {"daily": 1, "weekly": 7, "monthly": 30}


def _t(key: str, **params: Any) -> str:
    return translate(key, cli_language(), **params)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            _t("cli.safety_bad_file", path=str(path), error=str(exc)), key="cli.safety_bad_file"
        ) from None


def _document(path: Path) -> Any:
    try:
        return yaml.safe_load(_read(path))
    except yaml.YAMLError as exc:
        raise InvalidInput(
            _t("cli.safety_bad_file", path=str(path), error=str(exc)), key="cli.safety_bad_file"
        ) from None


def _holding(text: str) -> tuple[str, float]:
    substance, _, quantity = text.rpartition("=")
    try:
        return substance.strip(), float(quantity)
    except ValueError:
        raise argparse.ArgumentTypeError(_t("cli.safety_bad_holding", text=text)) from None


def cmd_grade(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.apps.safety.gb18218 import Holding, grade

    grading = grade([Holding(s, q) for s, q in args.holding], args.people)
    if args.json:
        print(json.dumps(grading.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print(f"{'substance':24} {'q (t)':>10} {'Q (t)':>10} {'q/Q':>8} {'β':>5} {'β·q/Q':>9}")
    for term in grading.terms:
        name = term.name_zh if cli_language() == "zh-CN" else term.name_en
        print(
            f"{name[:24]:24} {term.quantity_t:>10g} {term.critical_t:>10g} {term.ratio:>8.3f} "
            f"{term.beta:>5g} {term.weighted:>9.3f}"
        )
    print(
        _t(
            "cli.safety_grading",
            sum_ratio=f"{grading.sum_ratio:.3f}",
            alpha=grading.alpha,
            r=f"{grading.r:.2f}",
        )
    )
    if grading.major:
        print(_t("cli.safety_major", level=grading.level))
    else:
        print(_t("cli.safety_not_major"))
    return 0


def cmd_substances(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.apps.safety.gb18218 import catalogue

    needle = (args.search or "").lower()
    for s in catalogue().substances():
        if needle and needle not in s.key and needle not in s.name_en.lower() and needle not in s.name_zh:
            continue
        print(
            f"{s.key}\t{s.name_zh}\t{s.name_en}\t{s.cas or '-'}\tQ={s.critical_t:g} t\tβ={s.beta:g}\t{s.category}"
        )
    return 0


def cmd_setpoints(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.apps.safety import gbt50493

    if args.kind == "combustible":
        points = gbt50493.combustible_setpoints()
    else:
        if not args.substance:
            raise InvalidInput(_t("cli.safety_needs_substance"), key="cli.safety_needs_substance")
        points = gbt50493.toxic_setpoints(args.substance, args.unit)
    print(
        _t(
            "cli.safety_setpoints",
            first=f"{points.first:g}",
            second=f"{points.second:g}",
            unit=points.unit,
            basis=points.basis,
        )
    )
    return 0


def _session(settings: Settings, tenant: str) -> tuple[Any, Any]:
    from indunet.cli import _platform, _system_principal

    platform = _platform(settings)
    try:
        return platform, _system_principal(platform, tenant)
    except Exception:
        platform.close()
        raise


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    """A site file: ``enterprises``, ``units`` and ``points`` lists, as the API takes them."""
    from indunet.apps.safety import registry
    from indunet.core.errors import Conflict

    document = _document(args.file)
    if not isinstance(document, dict):
        raise InvalidInput(_t("cli.safety_bad_site", path=str(args.file)), key="cli.safety_bad_site")
    platform, principal = _session(settings, args.tenant)
    counts = {"enterprises": 0, "units": 0, "points": 0}
    try:
        for item in document.get("enterprises") or []:
            registry.save_enterprise(
                platform, principal, registry.parse(registry.EnterpriseSpec, item, "enterprise")
            )
            counts["enterprises"] += 1
        for item in document.get("units") or []:
            registry.save_unit(platform, principal, registry.parse(registry.UnitSpec, item, "unit"))
            counts["units"] += 1
        for item in document.get("points") or []:
            try:
                registry.bind(
                    platform, principal, registry.parse(registry.PointSpec, item, "monitoring point")
                )
                counts["points"] += 1
            except Conflict:
                continue  # bound by an earlier load: loading a site file again changes nothing
    finally:
        platform.close()
    print(_t("cli.safety_loaded", **counts))
    return 0


def cmd_features_check(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.apps.safety.features import parse_library

    library = parse_library(_read(args.file))
    print(
        _t(
            "cli.safety_library_ok",
            version=library.version,
            features=len(library.features),
            modes=len(library.failure_modes),
        )
    )
    return 0


def cmd_features_import(args: argparse.Namespace, settings: Settings) -> int:
    from indunet.apps.safety import library

    platform, principal = _session(settings, args.tenant)
    try:
        summary = library.import_library(platform, principal, _read(args.file))
    finally:
        platform.close()
    print(_t("cli.safety_library_imported", version=summary["version"], sha=summary["sha256"][:12]))
    return 0


def cmd_failures_import(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from indunet.apps.safety import failures

    document = _document(args.file)
    rows = document.get("records") if isinstance(document, dict) else document
    if not isinstance(rows, list):
        raise InvalidInput(_t("cli.safety_bad_site", path=str(args.file)), key="cli.safety_bad_site")
    records = []
    for index, row in enumerate(rows, start=1):
        try:
            records.append(failures.FailureRecord.model_validate(row))
        except ValidationError as exc:
            raise InvalidInput(
                _t("cli.safety_bad_record", index=index, error=exc.errors(include_url=False)[0]["msg"]),
                key="cli.safety_bad_record",
            ) from None
    platform, principal = _session(settings, args.tenant)
    try:
        result = failures.import_records(platform, principal, records)
    finally:
        platform.close()
    print(_t("cli.safety_failures_imported", **result))
    return 0


def cmd_warnings(args: argparse.Namespace, settings: Settings) -> int:
    from indunet.apps.safety import warnings

    platform, principal = _session(settings, args.tenant)
    try:
        items, total = warnings.list_warnings(platform, principal, args.status, limit=args.limit)
    finally:
        platform.close()
    for w in items:
        print(f"{w['label']}\t{w['level']}\t{w['status']}\t{w['enterprise']}/{w['unit']}\t{w['opened_at']}")
    print(_t("cli.safety_warnings_total", shown=len(items), total=total))
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from indunet.apps.safety import evaluation

    end = args.end or _today(settings) + timedelta(days=1)
    start = end - timedelta(days=PERIOD_DAYS[args.period])
    platform, principal = _session(settings, args.tenant)
    try:
        if args.region:
            report = evaluation.region_report(platform, principal, args.region, start, end, args.period)
        else:
            report = evaluation.enterprise_report(
                platform, principal, args.enterprise, start, end, args.period
            )
    finally:
        platform.close()
    language = args.lang or cli_language()
    if args.format == "json":
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    elif args.format == "html":
        from indunet.apps.safety.report_html import render_html

        args.out.write_text(render_html(report, language), encoding="utf-8")
    else:
        from indunet.apps.safety.report_pdf import render_pdf

        args.out.write_bytes(render_pdf(report, language))
    print(_t("cli.safety_report_written", path=str(args.out)))
    return 0


def _today(settings: Settings) -> date:
    """Today where the installation counts its days (reports are by those days)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(settings.indices_timezone)).date()


def _existing(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(_t("cli.phm_no_file", path=text))
    return path


def register(commands: Any, add: Any) -> None:
    safety = commands.add_parser("safety", help=_t("cli.help.safety")).add_subparsers(
        dest="sub", required=True
    )
    grade = add("grade", cmd_grade, "cli.help.safety_grade", safety)
    grade.add_argument("--holding", type=_holding, action="append", required=True, metavar="SUBSTANCE=TONNES")
    grade.add_argument("--people", type=int, required=True, help=_t("cli.help.safety_people"))
    grade.add_argument("--json", action="store_true")
    substances = add("substances", cmd_substances, "cli.help.safety_substances", safety)
    substances.add_argument("--search", metavar="TEXT")
    setpoints = add("setpoints", cmd_setpoints, "cli.help.safety_setpoints", safety)
    setpoints.add_argument("--kind", choices=["combustible", "toxic"], required=True)
    setpoints.add_argument("--substance")
    setpoints.add_argument("--unit", choices=["mg/m3", "ppm"], default="mg/m3")
    load = add("load", cmd_load, "cli.help.safety_load", safety)
    load.add_argument("--tenant", required=True)
    load.add_argument("file", type=_existing, metavar="SITE.yaml")
    features = add("features", cmd_features_check, "cli.help.safety_features", safety).add_subparsers(
        dest="features_sub", required=True
    )
    check = add("check", cmd_features_check, "cli.help.safety_features_check", features)
    check.add_argument("file", type=_existing, metavar="LIBRARY.yaml")
    stored = add("import", cmd_features_import, "cli.help.safety_features_import", features)
    stored.add_argument("--tenant", required=True)
    stored.add_argument("file", type=_existing, metavar="LIBRARY.yaml")
    failed = add("failures", cmd_failures_import, "cli.help.safety_failures", safety).add_subparsers(
        dest="failures_sub", required=True
    )
    taken = add("import", cmd_failures_import, "cli.help.safety_failures_import", failed)
    taken.add_argument("--tenant", required=True)
    taken.add_argument("file", type=_existing, metavar="RECORDS.json")
    listed = add("warnings", cmd_warnings, "cli.help.safety_warnings", safety)
    listed.add_argument("--tenant", required=True)
    listed.add_argument("--status", choices=["open", "assigned", "acting", "closed"])
    listed.add_argument("--limit", type=int, default=100, choices=range(1, 1001), metavar="1..1000")
    report = add("report", cmd_report, "cli.help.safety_report", safety)
    report.add_argument("--tenant", required=True)
    subject = report.add_mutually_exclusive_group(required=True)
    subject.add_argument("--enterprise")
    subject.add_argument("--region", metavar="CODE")
    report.add_argument("--period", choices=list(PERIOD_DAYS), default="monthly")
    report.add_argument(
        "--end", type=date.fromisoformat, metavar="YYYY-MM-DD", help=_t("cli.help.safety_end")
    )
    report.add_argument("--format", choices=["html", "pdf", "json"], default="html")
    report.add_argument("--lang", choices=["en", "zh-CN"])
    report.add_argument("--out", type=Path, required=True, metavar="FILE")
