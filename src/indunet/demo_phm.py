"""The demo's predictive maintenance: six cooling-water pumps wearing out, one operating hour every few
seconds, predicted by a remaining-useful-life model trained at start-up on NASA progpy pump runs to
failure (``indunet/sim/data/pump_fleet.csv.gz``); and machine tool cnc-01, whose spindle bearing wears
out within the hour while an anomaly detector trained on its first, healthy hour watches.

The pumps replay runs the model did not learn from. Each starts part way through its life with its
earlier hours written as history (so the console has a life to show at once), then adds an hour every
``HOUR_S`` seconds; the monitor predicts after every hour, opens a work order when the interval's
lower end falls below a day, and a pump that reaches its end is replaced by a new one (its counter
starts again at 1), as the maintenance team would.
"""

from __future__ import annotations

import logging
import random
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from indunet.apps.phm import registry
from indunet.apps.phm.histories import Fleet, History
from indunet.apps.phm.lifetimes import bind, parse_feeds
from indunet.apps.phm.model import RulConfig, RulModel
from indunet.apps.phm.tabular import read_table
from indunet.core.errors import IndunetError, NotFound
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform import devices, telemetry
from indunet.platform.devicetypes import load_type
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.sim import CncMachine, SimulatedDevice
from indunet.sim.wear_fleets import PUMP_SENSORS, PUMP_SETTINGS

log = logging.getLogger(__name__)

MODEL = "pump-wear"
PUMPS = 6
TRAINING_UNITS = 70
"""Units 1..70 train the model; the rest are the demo's pumps."""
HOUR_S = 5.0
"""Seconds of demo time per operating hour."""
WORK_ORDER_BELOW = 24.0
FEEDS = (
    "ambient_c=ambient_temperature, voltage_v=supply_voltage, discharge_kpa=discharge_pressure*100, "
    "speed_rpm=speed, flow_m3h=flow, thrust_bearing_c=thrust_bearing_temperature, "
    "radial_bearing_c=bearing_temperature, oil_c=oil_temperature"
)
CONFIG = RulConfig(cap=250.0, max_rul=0.0, folds=3, draws=3, learning_rate=0.1, max_rounds=500)
"""Pumps live 100 to 500 hours: a cap of 250 hours and every row of their lives (C-MAPSS's cut at
175 cycles before failure is for engines); a faster learning rate, so the demo's model is ready in
about a minute."""


SPINDLE_MODEL = "cnc-01-spindle"
SPINDLE_POINTS = ["spindle_speed", "spindle_load", "power_active"]
SPINDLE_HOURS_TO_FAILURE = 1.0


def watch_spindle(platform: Platform, principal: Principal, simulated: list[SimulatedDevice]) -> None:
    """Train the spindle detector on cnc-01's backfilled hour, promote it, and let the spindle wear.

    Friction of a worn bearing shows as power the cut does not explain, a relation between points
    rather than a value out of range: PCA keeping 99 % of the variance leaves that relation as the
    residual its Q statistic watches.
    """
    machine = next((d.model for d in simulated if d.name == "cnc-01"), None)
    if not isinstance(machine, CncMachine):
        return
    end = now_us()
    spec = registry.DetectorSpec(
        name=SPINDLE_MODEL,
        device="cnc-01",
        points=SPINDLE_POINTS,
        start=to_rfc3339(end - 3_600_000_000),
        end=to_rfc3339(end),
        variance=0.99,
        false_alarms_per_day=0.1,
        persistence=5,
    )
    try:
        created = registry.train(platform, principal, spec)
        registry.promote(platform, principal, SPINDLE_MODEL, created["version"])
    except IndunetError:
        log.exception("demo spindle detector not deployed")
        return
    machine.accelerate_wear(SPINDLE_HOURS_TO_FAILURE)


def pump_fleet() -> Fleet:
    path = Path(str(resources.files("indunet.sim") / "data" / "pump_fleet.csv.gz"))
    return read_table(path, settings=PUMP_SETTINGS, sensors=PUMP_SENSORS)


def _values(history: History, i: int) -> dict[str, Any]:
    feeds = parse_feeds(FEEDS)
    columns = [*PUMP_SETTINGS, *PUMP_SENSORS]
    row = [*history.settings[i], *history.sensors[i]]
    values: dict[str, Any] = {
        feeds[c].point: round(float(v) / feeds[c].factor, 4) for c, v in zip(columns, row, strict=True)
    }
    values["operating_hours"] = float(history.time[i])
    values["running"] = True
    return values


def deploy_model(platform: Platform, principal: Principal, fleet: Fleet) -> None:
    """Train on the training units and put the model in production, unless one is there already."""
    if any(
        m["name"] == MODEL and m["stage"] == registry.PRODUCTION
        for m in registry.list_models(platform, principal, MODEL)
    ):
        return
    training = Fleet(fleet.histories[:TRAINING_UNITS], fleet.settings, fleet.sensors)
    model = RulModel(CONFIG).fit(training)
    device_type = load_type(platform, principal.tenant_id, "centrifugal_pump")
    binding = bind(
        model,
        fleet.settings,
        model.sensors,
        parse_feeds(FEEDS),
        device_type,
        "operating_hours",
        0.9,
        WORK_ORDER_BELOW,
    )
    lineage = {
        "source": "indunet/sim/data/pump_fleet.csv.gz (NASA progpy CentrifugalPumpWithWear)",
        "units": f"1-{TRAINING_UNITS}",
        "cycles": int(sum(len(h) for h in training.histories)),
    }
    created = registry.register_rul(
        platform,
        principal,
        MODEL,
        "centrifugal_pump",
        model,
        binding,
        lineage,
        {"rounds": model.rounds, "cap": CONFIG.cap},
    )
    registry.promote(platform, principal, MODEL, created["version"])


class PumpFleet:
    """The replaying pumps; ``start`` runs them in a thread until ``stop`` is set."""

    def __init__(self, platform: Platform, principal: Principal, stop: threading.Event) -> None:
        self.platform = platform
        self.principal = principal
        self.stop = stop
        self.rng = random.Random(7)  # noqa: S311 - a reproducible demo, not a secret
        self.fleet = pump_fleet()
        self.spare = list(range(TRAINING_UNITS, len(self.fleet)))
        self.running: dict[str, tuple[History, int]] = {}

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="demo-pumps", daemon=True)
        thread.start()
        return thread

    def _names(self) -> list[str]:
        return [f"cw-pump-{n:02d}" for n in range(1, PUMPS + 1)]

    def _install(self) -> None:
        for name in self._names():
            try:
                devices.resolve(self.platform, self.principal.tenant_id, name)
            except NotFound:
                devices.create_device(
                    self.platform,
                    self.principal,
                    name,
                    "centrifugal_pump",
                    {"line": "cooling-water", "industry": "chemicals"},
                    {"site": "Suzhou plant", "area": "Hall 2 pump room"},
                )

    def _next_unit(self) -> History:
        unit = self.spare.pop(0)
        self.spare.append(unit)
        return self.fleet.histories[unit]

    def _history(self) -> None:
        """Each pump's life so far, an hour per ``HOUR_S`` back from now."""
        now = now_us()
        for name in self._names():
            history = self._next_unit()
            # Pumps at different ages: the console shows young, middle-aged and worn ones at once.
            done = max(2, int(len(history) * self.rng.uniform(0.35, 0.85)))
            records = [
                {"device": name, "ts": now - int((done - i) * HOUR_S * 1e6), "values": _values(history, i)}
                for i in range(done)
            ]
            for first in range(0, len(records), 500):
                telemetry.ingest(self.platform, self.principal, records[first : first + 500])
            self.running[name] = (history, done)

    def _tick(self) -> None:
        records = []
        for name, (history, i) in list(self.running.items()):
            if i >= len(history):
                # Failed: replaced by a new pump, whose counter starts at 1 again.
                history, i = self._next_unit(), 0
            records.append({"device": name, "ts": now_us(), "values": _values(history, i)})
            self.running[name] = (history, i + 1)
        telemetry.ingest(self.platform, self.principal, records)

    def _run(self) -> None:
        try:
            self._install()
            self._history()
            # Training takes a minute: the pumps run meanwhile, and the monitor picks their lives up
            # from the store once the model is in production.
            trainer = threading.Thread(
                target=deploy_model,
                args=(self.platform, self.principal, self.fleet),
                name="demo-pump-model",
                daemon=True,
            )
            trainer.start()
            while not self.stop.wait(HOUR_S):
                self._tick()
        except Exception:
            # The rest of the demo goes on without the pump fleet.
            log.exception("demo pump fleet stopped")
