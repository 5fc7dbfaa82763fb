"""``indunet phm``: remaining-useful-life models on run-to-failure histories.

- ``indunet phm evaluate --format cmapss --train T --test X --truth R`` fits on T, predicts the last
  cycle of each unit of X and prints, as JSON, RMSE and the NASA score against R uncapped and capped
  at 125, with timings and the coverage of the prediction intervals;
- ``indunet phm cv --format cmapss --train T`` unit-grouped cross-validation on training data only
  (how configurations are chosen);
- ``indunet phm train --format cmapss --train T --out MODEL.json`` and
  ``indunet phm predict --model MODEL.json --format cmapss --test X [--level 0.9]``.

Files that are not what they claim exit 2 naming the file and line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from indunet.core.config import Settings
from indunet.core.errors import InvalidInput
from indunet.core.i18n import cli_language, translate


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
    from indunet.apps.phm.model import ModelError

    try:
        return run()
    except (FormatError, ModelError) as exc:
        raise InvalidInput(
            _t("cli.phm_bad_input", error=str(exc)), key="cli.phm_bad_input", error=str(exc)
        ) from None


def cmd_phm_evaluate(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.apps.phm.evaluate import evaluate_files

    report = _guarded(lambda: evaluate_files(args.train, args.test, args.truth))
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


def cmd_phm_cv(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.apps.phm import cmapss
    from indunet.apps.phm.evaluate import cross_validate

    report = _guarded(
        lambda: cross_validate(cmapss.read_runs(args.train), folds=args.folds, draws=args.draws)
    )
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


def cmd_phm_train(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.apps.phm import cmapss
    from indunet.apps.phm.model import RulModel

    started = time.perf_counter()
    model = _guarded(lambda: RulModel().fit(cmapss.read_runs(args.train)))
    model.save(args.out)
    print(_t("cli.phm_trained", path=str(args.out), seconds=round(time.perf_counter() - started, 1)))
    return 0


def cmd_phm_predict(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.apps.phm import cmapss
    from indunet.apps.phm.model import RulModel

    def run() -> list[dict[str, Any]]:
        model = RulModel.load(args.model)
        fleet = cmapss.read_runs(args.test)
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


def register(commands: Any, add: Any) -> None:
    phm = commands.add_parser("phm", help=_t("cli.help.phm")).add_subparsers(dest="sub", required=True)
    evaluate = add("evaluate", cmd_phm_evaluate, "cli.help.phm_evaluate", phm)
    cv = add("cv", cmd_phm_cv, "cli.help.phm_cv", phm)
    train = add("train", cmd_phm_train, "cli.help.phm_train", phm)
    predict = add("predict", cmd_phm_predict, "cli.help.phm_predict", phm)
    for sub in (evaluate, cv, train, predict):
        sub.add_argument("--format", choices=["cmapss"], default="cmapss", help=_t("cli.help.phm_format"))
    for sub in (evaluate, cv, train):
        sub.add_argument("--train", type=_existing, required=True, metavar="FILE")
    for sub in (evaluate, predict):
        sub.add_argument("--test", type=_existing, required=True, metavar="FILE")
    evaluate.add_argument("--truth", type=_existing, required=True, metavar="FILE")
    cv.add_argument("--folds", type=int, default=5, choices=range(2, 11), metavar="2..10")
    cv.add_argument("--draws", type=int, default=5, choices=range(1, 21), metavar="1..20")
    train.add_argument("--out", type=Path, required=True, metavar="MODEL.json")
    predict.add_argument("--model", type=_existing, required=True, metavar="MODEL.json")
    predict.add_argument("--level", type=float, default=0.9, help=_t("cli.help.phm_level"))
