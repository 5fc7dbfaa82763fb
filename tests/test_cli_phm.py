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


def _as_csv(source: Path, target: Path) -> Path:
    """The C-MAPSS text as a table with a header, as a plant historian would export it."""
    table = np.loadtxt(source)
    header = "unit,cycle,setting_1,setting_2,setting_3," + ",".join(f"s{n}" for n in range(1, 22))
    np.savetxt(target, table, delimiter=",", header=header, comments="", fmt="%.6g")
    return target


def test_csv_tables_train_predict_and_evaluate_without_truth(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train = _as_csv(files["train"], files["dir"] / "train.csv")
    test = _as_csv(files["test"], files["dir"] / "test.csv")
    columns = ["--format", "csv", "--settings", "setting_1,setting_2,setting_3"]
    model = files["dir"] / "model_csv.json"
    assert main(["phm", "train", *columns, "--train", str(train), "--out", str(model)]) == 0
    capsys.readouterr()
    assert main(["phm", "predict", "--model", str(model), *columns, "--test", str(test)]) == 0
    assert [p["unit"] for p in json.loads(capsys.readouterr().out)["units"]] == [str(n) for n in range(1, 16)]
    # Complete runs as the test file: each is cut as a test set would cut it, and judged there.
    assert (
        main(["phm", "evaluate", *columns, "--train", str(train), "--test", str(train), "--seed", "4"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["units"] == 40 and report["cut_seed"] == 4 and report["rmse"] < 40
    broken = files["dir"] / "broken.csv"
    broken.write_text("unit,cycle,s1\n1,1,5\n1,1,6\n")
    assert main(["phm", "cv", "--format", "csv", "--train", str(broken)]) == 2
    assert f"{broken}:3" in capsys.readouterr().err
    assert main(["phm", "evaluate", "--train", str(train), "--test", str(test)]) == 2


def test_a_trained_table_model_is_registered_for_a_device_type_and_promoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """train --format csv --config, then register with feeds onto centrifugal_pump points; bad feeds and
    a bad --config exit 2 with the reason."""
    from importlib import resources

    from indunet.sim.wear_fleets import PUMP_SETTINGS

    for key in [k for k in __import__("os").environ if k.startswith("INDUNET_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INDUNET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INDUNET_LANGUAGE", "en")
    assert main(["db", "upgrade"]) == 0
    assert main(["tenant", "add", "plant"]) == 0
    fleet = Path(str(resources.files("indunet.sim") / "data" / "pump_fleet.csv.gz"))
    model = tmp_path / "pump.json"
    config = '{"cap": 250, "max_rul": 0, "folds": 2, "draws": 2, "max_rounds": 100, "learning_rate": 0.2}'
    settings = ",".join(PUMP_SETTINGS)
    assert main(["phm", "train", "--format", "csv", "--train", str(fleet), "--settings", settings,
                 "--model-config", config, "--out", str(model)]) == 0  # fmt: skip
    capsys.readouterr()
    feeds = (
        "ambient_c=ambient_temperature,voltage_v=supply_voltage,discharge_kpa=discharge_pressure*100,"
        "speed_rpm=speed,flow_m3h=flow,thrust_bearing_c=thrust_bearing_temperature,"
        "radial_bearing_c=bearing_temperature,oil_c=oil_temperature"
    )
    base = ["phm", "register", "--tenant", "plant", "--name", "pump-wear", "--model", str(model),
            "--type", "centrifugal_pump", "--settings", settings, "--cycle-point", "operating_hours"]  # fmt: skip
    assert main([*base, "--feeds", feeds, "--work-order-below", "24", "--promote"]) == 0
    assert "pump-wear version 1 registered (production)" in capsys.readouterr().out
    assert main([*base, "--feeds", feeds.replace("oil_c=oil_temperature", "oil_c=no_such")]) == 2
    assert "no numeric point 'no_such'" in capsys.readouterr().err
    assert main(["phm", "train", "--format", "csv", "--train", str(fleet), "--model-config", '{"caps": 1}',
                 "--out", str(model)]) == 2  # fmt: skip
    assert "--model-config" in capsys.readouterr().err


def test_the_sequence_model_trains_predicts_and_evaluates_from_the_cli(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    if __import__("os").environ.get("CI") != "true":
        pytest.importorskip("torch")
    model = files["dir"] / "sequence.json"
    config = '{"window": 15, "epochs": 30, "threads": 1}'
    assert main(["phm", "train", "--kind", "sequence", "--model-config", config, "--train", str(files["train"]),
                 "--out", str(model)]) == 0  # fmt: skip
    assert json.loads(model.read_text())["format"] == "indunet.phm.sequence/1"
    capsys.readouterr()
    assert main(["phm", "predict", "--model", str(model), "--test", str(files["test"])]) == 0
    predicted = json.loads(capsys.readouterr().out)["units"]
    assert len(predicted) == 15 and all(p["lower"] <= p["rul"] <= p["upper"] for p in predicted)
    assert main(["phm", "evaluate", "--kind", "sequence", "--model-config", config, "--train", str(files["train"]),
                 "--test", str(files["test"]), "--truth", str(files["truth"])]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    truth = np.loadtxt(files["truth"])
    assert report["rmse"] < float(np.sqrt(np.mean((truth - truth.mean()) ** 2)))
    assert main(["phm", "train", "--kind", "sequence", "--model-config", '{"layers": 9}', "--train",
                 str(files["train"]), "--out", str(model)]) == 2  # fmt: skip
