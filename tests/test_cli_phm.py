"""``indunet phm``: train, predict and evaluate on files in C-MAPSS's format, and clear refusals of
files that are not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indunet.cli import main


def _write_fleet(path: Path, lives: list[int], cut: list[int] | None, rng: np.random.Generator) -> None:
    """Units whose sensors drift as they wear (exponentially, to failure at ``life``), in the
    whitespace format of C-MAPSS; ``cut`` stops each unit early as a test file does."""
    lines = []
    for unit, life in enumerate(lives, start=1):
        stop = life if cut is None else cut[unit - 1]
        offset = rng.normal(0, 0.5, 21)
        for cycle in range(1, stop + 1):
            wear = np.exp(3.0 * cycle / life) / np.exp(3.0)
            sensors = 100 + offset + np.linspace(-5, 5, 21) * wear + rng.normal(0, 0.2, 21)
            sensors[[0, 4, 5]] = 1.0  # constant channels, as C-MAPSS has
            row = [unit, cycle, 0.0, 0.0, 100.0, *sensors]
            lines.append(" ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    rng = np.random.default_rng(3)
    where = tmp_path_factory.mktemp("cmapss")
    lives = [int(v) for v in rng.integers(120, 220, 40)]
    _write_fleet(where / "train.txt", lives, None, rng)
    test_lives = [int(v) for v in rng.integers(120, 220, 15)]
    cuts = [int(rng.integers(40, life - 5)) for life in test_lives]
    _write_fleet(where / "test.txt", test_lives, cuts, rng)
    (where / "truth.txt").write_text(
        "\n".join(str(life - c) for life, c in zip(test_lives, cuts, strict=True)) + "\n"
    )
    return {
        "train": where / "train.txt",
        "test": where / "test.txt",
        "truth": where / "truth.txt",
        "dir": where,
    }


def test_train_predict_and_evaluate(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    model = files["dir"] / "model.json"
    assert (
        main(["phm", "train", "--format", "cmapss", "--train", str(files["train"]), "--out", str(model)]) == 0
    )
    capsys.readouterr()
    assert main(["phm", "predict", "--model", str(model), "--test", str(files["test"])]) == 0
    predicted = json.loads(capsys.readouterr().out)["units"]
    assert [p["unit"] for p in predicted] == [str(n) for n in range(1, 16)]
    assert all(p["lower"] <= p["rul"] <= p["upper"] for p in predicted if "lower" in p)
    assert main(["phm", "evaluate", "--format", "cmapss", "--train", str(files["train"]),
                 "--test", str(files["test"]), "--truth", str(files["truth"])]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    truth = np.loadtxt(files["truth"])
    baseline = float(np.sqrt(np.mean((truth - truth.mean()) ** 2)))  # predicting the mean life left
    assert report["units"] == 15 and report["rmse"] < baseline
    assert {"score", "rmse_capped", "score_capped", "fit_seconds"} <= set(report)


def test_files_that_are_not_cmapss_exit_2_naming_the_line(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = files["dir"] / "broken.txt"
    broken.write_text(files["train"].read_text().splitlines()[0] + "\n1 2 3\n")
    assert main(["phm", "cv", "--train", str(broken)]) == 2
    assert f"{broken}:2" in capsys.readouterr().err
    with pytest.raises(SystemExit) as missing:
        main(["phm", "train", "--train", str(files["dir"] / "nowhere.txt"), "--out", "m.json"])
    assert missing.value.code == 2
    assert main(["phm", "predict", "--model", str(broken), "--test", str(files["test"])]) == 2
