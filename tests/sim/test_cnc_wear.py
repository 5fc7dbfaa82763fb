"""The machine-tool simulator's spindle wear feeds PHM: a detector trained on a healthy hour of spindle
speed, load and power stays quiet on healthy running and raises an alarm once the bearing's friction
costs power the cut does not explain; wear changes nothing else of the simulation."""

from __future__ import annotations

import numpy as np

from indunet.apps.phm.anomaly import Budget, PcaDetector, alarms
from indunet.demo_phm import SPINDLE_POINTS
from indunet.sim.cnc import CncMachine

START_US = 1_767_225_600_000_000


def rows(machine: CncMachine, seconds: int, first_s: int) -> np.ndarray:
    return np.array(
        [
            [machine.step(START_US + (first_s + i) * 1_000_000)[p] for p in SPINDLE_POINTS]
            for i in range(seconds)
        ],
        dtype=float,
    )


def test_a_wearing_spindle_is_caught_and_a_healthy_one_is_not() -> None:
    machine = CncMachine(1)
    healthy = rows(machine, 7200, 0)
    detector = PcaDetector.fit(healthy[:3600], SPINDLE_POINTS, Budget(0.1, 5), period_s=1.0, variance=0.99)
    assert alarms(detector.score(healthy[3600:]), 5) == 0
    machine.accelerate_wear(1.0)
    worn = rows(machine, 3600, 7200)
    scores = detector.score(worn)
    assert alarms(scores, 5) >= 1
    onset = int(np.argmax(scores >= 1))
    assert onset < 3000 and machine.spindle_wear > 0.5
    top = max(detector.contributions(worn[-1]).items(), key=lambda kv: kv[1])
    assert top[0] in ("power_active", "spindle_load")


def test_wear_leaves_the_rest_of_the_simulation_as_it_was() -> None:
    new, worn = CncMachine(3), CncMachine(3)
    worn.accelerate_wear(0.5)
    for i in range(1800):
        a, b = new.step(START_US + i * 1_000_000), worn.step(START_US + i * 1_000_000)
        assert a["spindle_speed"] == b["spindle_speed"] and a["part_count"] == b["part_count"]
        assert b["power_active"] >= a["power_active"] - 1e-9
    assert worn.spindle_wear > 0.1 and new.spindle_wear < 0.01
