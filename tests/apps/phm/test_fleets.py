"""Simulated fleets (sim/wear_fleets.py, progpy's physics): the generator runs units to failure,
repeatably, with lives that vary as the wear rates do; and on the committed fleets the RUL model beats
the naive baselines (mean life, linear extrapolation) by a wide margin on held-out units."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from indunet.apps.phm import metrics, tabular
from indunet.apps.phm.baselines import LinearExtrapolation, MeanLife
from indunet.apps.phm.features import FeatureSpec
from indunet.apps.phm.histories import Fleet, History
from indunet.apps.phm.model import RulConfig, RulModel
from indunet.apps.phm.truncation import cut_lengths
from indunet.sim import wear_fleets

DATA = Path(wear_fleets.__file__).parent / "data"
SETTINGS = {
    "pump": wear_fleets.PUMP_SETTINGS,
    "valve": wear_fleets.VALVE_SETTINGS,
    "battery": wear_fleets.BATTERY_SETTINGS,
}
CONFIG = RulConfig(
    max_rul=0.0,
    min_cycles=5,
    features=FeatureSpec(means=(5, 10, 20, 40), slopes=(10, 20, 40), stds=(10,), ewma=(0.05, 0.2)),
    folds=0,
    rounds=300,
    learning_rate=0.05,
    threads=2,
)
"""Quick (fixed rounds, no inner folds), on every row from the fifth cycle on: the shortest valves live
about 50 cycles. Chosen on the valve fleet, the hardest of the three (failure is a stroke that times
out, close to a threshold the noise of the line pressure crosses first)."""


def _load(name: str) -> Fleet:
    return tabular.read_table(DATA / f"{name}_fleet.csv.gz", settings=SETTINGS[name])


def _cut(histories: list[History], fleet: Fleet, seed: int) -> tuple[Fleet, np.ndarray]:
    rng = np.random.default_rng(seed)
    cut: list[History] = []
    true: list[float] = []
    for history in histories:
        for length in cut_lengths(history, rng, 5):
            cut.append(history.until(int(length)))
            true.append(float(history.rul()[length - 1]))
    return Fleet(cut, fleet.settings, fleet.sensors), np.asarray(true)


@pytest.mark.parametrize("name", ["pump", "valve", "battery"])
def test_model_beats_naive_baselines_on_held_out_units(name: str) -> None:
    fleet = _load(name)
    assert 60 <= len(fleet) <= 100
    held = [h for i, h in enumerate(fleet.histories) if i % 3 == 0]
    train = Fleet([h for i, h in enumerate(fleet.histories) if i % 3], fleet.settings, fleet.sensors)
    cut, true = _cut(held, fleet, seed=1)
    model = metrics.rmse(RulModel(CONFIG).fit(train).predict(cut), true)
    mean_life = metrics.rmse(MeanLife().fit(train).predict(cut), true)
    line = metrics.rmse(LinearExtrapolation().fit(train).predict(cut), true)
    print(f"{name}: model {model:.1f}, mean life {mean_life:.1f}, linear extrapolation {line:.1f}")
    assert model <= 0.6 * min(mean_life, line)


@pytest.mark.parametrize("name", ["pump", "valve", "battery"])
def test_generator_runs_units_to_failure_repeatably(name: str, tmp_path: Path) -> None:
    if os.environ.get("CI") != "true":  # a dev dependency: CI has it, and must fail without it
        pytest.importorskip("progpy")
    fast = 25.0  # wear 25 times faster than the committed fleets: lives of a few cycles
    first = wear_fleets.simulate(name, 4, seed=7, acceleration=fast)
    again = wear_fleets.simulate(name, 4, seed=7, acceleration=fast)
    np.testing.assert_array_equal(first.rows, again.rows)
    first.write_csv(tmp_path / "a.csv.gz")
    again.write_csv(tmp_path / "b.csv.gz")
    assert (tmp_path / "a.csv.gz").read_bytes() == (tmp_path / "b.csv.gz").read_bytes()
    assert first.columns[:2] == ("unit", "cycle") and len(first.columns) == first.rows.shape[1]
    lives = first.lives()
    assert len(lives) == 4 and lives.min() >= 2 and len(set(lives.tolist())) > 1
    other = wear_fleets.simulate(name, 4, seed=8, acceleration=fast)
    assert not np.array_equal(other.lives(), lives) or not np.array_equal(other.rows, first.rows)


def test_cli_simulates_a_fleet_or_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from indunet import cli_phm
    from indunet.cli import main

    out = tmp_path / "valve.csv.gz"
    real = wear_fleets.simulate
    monkeypatch.setattr(wear_fleets, "simulate", lambda f, n, s: real(f, n, s, acceleration=25.0))
    if cli_phm.importlib.util.find_spec("progpy") is not None:
        assert (
            main(["phm", "simulate", "--fleet", "valve", "--units", "3", "--seed", "1", "--out", str(out)])
            == 0
        )
        assert str(out) in capsys.readouterr().out
        fleet = tabular.read_table(out, settings=wear_fleets.VALVE_SETTINGS)
        assert len(fleet) == 3 and fleet.sensors == wear_fleets.VALVE_SENSORS
    monkeypatch.setattr(cli_phm.importlib.util, "find_spec", lambda name: None)
    assert main(["phm", "simulate", "--fleet", "pump", "--out", str(out)]) == 2
    assert "dev" in capsys.readouterr().err
