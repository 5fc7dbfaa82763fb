"""``indunet phm``: remaining-useful-life models on run-to-failure histories.

- ``indunet phm evaluate --format cmapss --train T --test X --truth R`` fits on T, predicts the last
  cycle of each unit of X and prints, as JSON, RMSE and the NASA score against R uncapped and capped
  at 125, with timings and the coverage of the prediction intervals;
- ``indunet phm cv --format cmapss --train T`` unit-grouped cross-validation on training data only
  (how configurations are chosen);
- ``indunet phm train --format cmapss --train T --out MODEL.json`` and
  ``indunet phm predict --model MODEL.json --format cmapss --test X [--level 0.9]``;
- ``indunet phm simulate --fleet pump|valve|battery --units N --seed S --out FILE.csv.gz`` runs NASA
  progpy's physics models to failure (sim/wear_fleets.py; progpy comes with the dev extra).

``--format csv|parquet`` reads tables with a header (apps/phm/tabular.py): ``--unit`` and ``--cycle`` name
those columns, ``--settings`` and ``--sensors`` (comma-separated) choose the rest. ``evaluate`` on tables
may leave out ``--truth`` when the test file holds complete runs: each unit is then cut once as a test
set cuts it (truncation.py, ``--seed``) and judged at the cut.

Files that are not what they claim exit 2 naming the file and line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indunet.core.config import Settings
from indunet.core.errors import InvalidInput
from indunet.core.i18n import cli_language, translate

if TYPE_CHECKING:
    from indunet.apps.phm.histories import Fleet


def _t(key: str, **params: Any) -> str:
    return translate(key, cli_language(), **params)


def _existing(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(_t("cli.phm_no_file", path=text))
    return path


def _guarded(run: Any) -> Any:
    """Bad data and bad model files are the user's to fix: exit 2 with the file and line."""
    from indunet.apps.phm.cmapss import FormatError
    from indunet.apps.phm.histories import ModelError

    try:
        return run()
    except (FormatError, ModelError) as exc:
        raise InvalidInput(
            _t("cli.phm_bad_input", error=str(exc)), key="cli.phm_bad_input", error=str(exc)
        ) from None


def _names(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(n.strip() for n in text.split(",") if n.strip())


def _read(args: argparse.Namespace, path: Path) -> Fleet:
    """Histories in the chosen format (raises cmapss.FormatError, which _guarded turns into exit 2)."""
    from indunet.apps.phm import cmapss, tabular

    if args.format == "cmapss":
        return cmapss.read_runs(path)
    return tabular.read_table(path, args.unit, args.cycle, _names(args.settings) or (), _names(args.sensors))


def _model(args: argparse.Namespace) -> Any:
    """An unfitted model of ``--kind`` with ``--model-config`` JSON over its defaults (chosen on
    C-MAPSS)."""
    from indunet.apps.phm import saved

    try:
        changes = json.loads(args.model_config) if args.model_config else {}
        if not isinstance(changes, dict):
            raise TypeError("not a JSON object")
        return saved.new(args.kind, changes)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(_t("cli.phm_bad_config", error=str(exc)), key="cli.phm_bad_config") from None


def cmd_phm_register(args: argparse.Namespace, settings: Settings) -> int:
    """A trained model file into the platform's registry, bound to a device type's points."""
    import hashlib

    from indunet.apps.phm import registry, saved
    from indunet.apps.phm.lifetimes import bind, parse_feeds
    from indunet.cli import _platform, _system_principal
    from indunet.platform.devicetypes import load_type

    model = _guarded(lambda: saved.load(args.model))
    platform = _platform(settings)
    try:
        principal = _system_principal(platform, args.tenant)
        device_type = load_type(platform, principal.tenant_id, args.type)
        binding = bind(
            model,
            _names(args.settings) or (),
            model.sensors,
            parse_feeds(args.feeds),
            device_type,
            args.cycle_point,
            args.level,
            args.work_order_below,
        )
        lineage = {
            "source": str(args.model),
            "sha256": hashlib.sha256(args.model.read_bytes()).hexdigest(),
        }
        metrics = {"rounds": model.rounds, "cap": model.config.cap}
        created = registry.register_rul(
            platform, principal, args.name, args.type, model, binding, lineage, metrics
        )
        if args.promote:
            created = registry.promote(platform, principal, args.name, created["version"])
    finally:
        platform.close()
    print(_t("cli.phm_registered", name=args.name, version=created["version"], stage=created["stage"]))
    return 0


def _evaluate_tables(args: argparse.Namespace) -> dict[str, Any]:
    """Fit on the training table and judge the test table: at its last rows against ``--truth`` (one
    number per line, unit order), or, without one, each complete run cut once as a test set would."""
    import numpy as np

    from indunet.apps.phm import cmapss, metrics
    from indunet.apps.phm.histories import Fleet
    from indunet.apps.phm.truncation import cut_lengths

    started = time.perf_counter()
    model = _model(args).fit(_read(args, args.train))
    fitted = time.perf_counter()
    tests = _read(args, args.test)
    if args.truth is not None:
        true = cmapss.read_truth(args.truth, len(tests))
    else:
        rng = np.random.default_rng(args.seed)
        lengths = [int(cut_lengths(h, rng, 1)[0]) for h in tests.histories]
        true = np.asarray([h.rul()[n - 1] for h, n in zip(tests.histories, lengths, strict=True)])
        tests = Fleet(
            [h.until(n) for h, n in zip(tests.histories, lengths, strict=True)], tests.settings, tests.sensors
        )
    report = metrics.report(model.predict(tests), true)
    report.update(
        {
            "train": str(args.train),
            "test": str(args.test),
            "cut_seed": None if args.truth is not None else args.seed,
            "rounds": model.rounds,
            "fit_seconds": round(fitted - started, 2),
        }
    )
    return report


def cmd_phm_evaluate(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.apps.phm.evaluate import evaluate_files

    if args.format == "cmapss":
        if args.truth is None:
            raise InvalidInput(_t("cli.phm_truth_needed"), key="cli.phm_truth_needed")
        report = _guarded(
            lambda: evaluate_files(args.train, args.test, args.truth, make=lambda: _model(args))
        )
    else:
        report = _guarded(lambda: _evaluate_tables(args))
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


def cmd_phm_cv(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.apps.phm.evaluate import cross_validate

    report = _guarded(
        lambda: cross_validate(
            _read(args, args.train), folds=args.folds, draws=args.draws, make=lambda: _model(args)
        )
    )
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


def cmd_phm_train(args: argparse.Namespace, _settings: Settings) -> int:

    started = time.perf_counter()
    model = _guarded(lambda: _model(args).fit(_read(args, args.train)))
    model.save(args.out)
    print(_t("cli.phm_trained", path=str(args.out), seconds=round(time.perf_counter() - started, 1)))
    return 0


def cmd_phm_predict(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.apps.phm import saved

    def run() -> list[dict[str, Any]]:
        model = saved.load(args.model)
        fleet = _read(args, args.test)
        if model.calibration is None:
            predicted = model.predict(fleet)
            return [
                {"unit": h.unit, "rul": round(float(p), 1)}
                for h, p in zip(fleet.histories, predicted, strict=True)
            ]
        predicted, lower, upper = model.predict_interval(fleet, args.level)
        return [
            {
                "unit": h.unit,
                "rul": round(float(p), 1),
                "lower": round(float(lo), 1),
                "upper": round(float(hi), 1),
            }
            for h, p, lo, hi in zip(fleet.histories, predicted, lower, upper, strict=True)
        ]

    print(json.dumps({"level": args.level, "units": _guarded(run)}, ensure_ascii=False, indent=1))
    return 0


def cmd_phm_simulate(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.sim.wear_fleets import simulate

    if importlib.util.find_spec("progpy") is None:
        raise InvalidInput(_t("cli.phm_needs_progpy"), key="cli.phm_needs_progpy")
    started = time.perf_counter()
    fleet = simulate(args.fleet, args.units, args.seed)
    fleet.write_csv(args.out)
    lives = fleet.lives()
    print(
        _t(
            "cli.phm_simulated",
            path=str(args.out),
            units=len(lives),
            rows=len(fleet.rows),
            shortest=int(lives.min()),
            longest=int(lives.max()),
            seconds=round(time.perf_counter() - started, 1),
        )
    )
    return 0


def register(commands: Any, add: Any) -> None:
    phm = commands.add_parser("phm", help=_t("cli.help.phm")).add_subparsers(dest="sub", required=True)
    evaluate = add("evaluate", cmd_phm_evaluate, "cli.help.phm_evaluate", phm)
    cv = add("cv", cmd_phm_cv, "cli.help.phm_cv", phm)
    train = add("train", cmd_phm_train, "cli.help.phm_train", phm)
    predict = add("predict", cmd_phm_predict, "cli.help.phm_predict", phm)
    for sub in (evaluate, cv, train, predict):
        sub.add_argument(
            "--format",
            choices=["cmapss", "csv", "parquet"],
            default="cmapss",
            help=_t("cli.help.phm_formats"),
        )
        sub.add_argument("--unit", default="unit", metavar="COLUMN", help=_t("cli.help.phm_unit"))
        sub.add_argument("--cycle", default="cycle", metavar="COLUMN", help=_t("cli.help.phm_cycle"))
        sub.add_argument("--settings", metavar="A,B", help=_t("cli.help.phm_settings"))
        sub.add_argument("--sensors", metavar="A,B", help=_t("cli.help.phm_sensors"))
    for sub in (evaluate, cv, train):
        sub.add_argument("--train", type=_existing, required=True, metavar="FILE")
        sub.add_argument("--model-config", metavar="JSON", help=_t("cli.help.phm_config"))
        sub.add_argument("--kind", choices=["gbm", "sequence"], default="gbm", help=_t("cli.help.phm_kind"))
    for sub in (evaluate, predict):
        sub.add_argument("--test", type=_existing, required=True, metavar="FILE")
    evaluate.add_argument("--truth", type=_existing, metavar="FILE", help=_t("cli.help.phm_truth"))
    evaluate.add_argument("--seed", type=int, default=0, help=_t("cli.help.phm_cut_seed"))
    cv.add_argument("--folds", type=int, default=5, choices=range(2, 11), metavar="2..10")
    cv.add_argument("--draws", type=int, default=5, choices=range(1, 21), metavar="1..20")
    train.add_argument("--out", type=Path, required=True, metavar="MODEL.json")
    predict.add_argument("--model", type=_existing, required=True, metavar="MODEL.json")
    predict.add_argument("--level", type=float, default=0.9, help=_t("cli.help.phm_level"))
    enrol = add("register", cmd_phm_register, "cli.help.phm_register", phm)
    enrol.add_argument("--tenant", required=True)
    enrol.add_argument("--name", required=True, help=_t("cli.help.phm_name"))
    enrol.add_argument("--model", type=_existing, required=True, metavar="MODEL.json")
    enrol.add_argument("--type", required=True, metavar="DEVICE_TYPE")
    enrol.add_argument("--settings", metavar="A,B", help=_t("cli.help.phm_settings"))
    enrol.add_argument(
        "--feeds", required=True, metavar="COLUMN=POINT[*FACTOR],...", help=_t("cli.help.phm_feeds")
    )
    enrol.add_argument("--cycle-point", required=True, metavar="POINT", help=_t("cli.help.phm_cycle_point"))
    enrol.add_argument("--level", type=float, default=0.9, help=_t("cli.help.phm_level"))
    enrol.add_argument(
        "--work-order-below", type=float, default=0.0, metavar="CYCLES", help=_t("cli.help.phm_wo")
    )
    enrol.add_argument("--promote", action="store_true", help=_t("cli.help.phm_promote"))
    simulate = add("simulate", cmd_phm_simulate, "cli.help.phm_simulate", phm)
    simulate.add_argument("--fleet", choices=["pump", "valve", "battery"], required=True)
    simulate.add_argument("--units", type=int, default=80, choices=range(1, 1001), metavar="1..1000")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--out", type=Path, required=True, metavar="FILE.csv.gz")
