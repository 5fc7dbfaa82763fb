"""Simulated run-to-failure fleets from NASA's prognostics models (progpy), for remaining-useful-life work.

Theory of operation. Each fleet is N units of one kind, each with its own wear rates (drawn from a
log-normal distribution around a nominal value, so that lives vary as they do in the field) and its
own operating conditions, run through progpy's physics until the model's first failure event. The
physics is progpy's own ``next_state`` and ``output``; this module only drives it (inputs per step),
resamples it into the rows a maintenance engineer would log, and adds measurement noise:

- ``pump`` (CentrifugalPumpWithWear, Daigle and Goebel 2013): one row per operating hour, the hour's
  mean of the measured outputs. Impeller wear and bearing friction grow with speed and flow; the ambient
  temperature has a daily cycle, the supply voltage and the plant's discharge pressure vary by hour.
  Fails at the first of impeller wear, thrust or radial bearing overheat, or oil overheat.
- ``valve`` (PneumaticValveWithWear, Daigle and Goebel 2011): one row per actuation cycle (open, hold,
  close, hold): stroke times and the chamber pressures a moment after each stroke. Spring weakening,
  friction and internal leak grow with piston travel; the external leaks grow with time in service.
  Fails at the first progpy event, or when a stroke does not complete in its allotted time (the valve
  sticks: what an operator would call the failure).
- ``battery`` (BatteryElectroChemEODEOL, Daigle 2013/2016): one row per discharge cycle at a duty
  current: delivered capacity, discharge time, voltages, peak temperature. Between discharges the cell
  is recharged (its charge states reset) and the ageing states wear by the same charge throughput
  again. Fails when its capacity falls below progpy's InsufficientCapacity threshold.

progpy's vectorised models (pump, battery) step every unit of the fleet at once, one array per state;
the valve's model is scalar and runs unit by unit. progpy is a development dependency: it is imported
inside the functions that simulate, never at module import. Everything is deterministic in ``seed``.
"""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

KELVIN = 273.15


@dataclass(frozen=True)
class SimulatedFleet:
    """One table: columns ``unit``, ``cycle``, the settings, then the sensors; one row per cycle."""

    name: str
    settings: tuple[str, ...]
    sensors: tuple[str, ...]
    rows: np.ndarray
    """Shape (rows, 2 + settings + sensors), units in order, cycles growing from 1 within a unit."""

    @property
    def columns(self) -> tuple[str, ...]:
        return ("unit", "cycle", *self.settings, *self.sensors)

    def lives(self) -> np.ndarray:
        """Cycles each unit ran until it failed (its last row), in unit order."""
        units = self.rows[:, 0]
        return np.asarray([int(self.rows[units == u, 1].max()) for u in np.unique(units)])

    def write_csv(self, path: Path) -> None:
        """CSV with a header; gzip-compressed when the name ends in ``.gz``. Compression without a
        timestamp or file name so that the same seed writes the same bytes wherever it writes them."""
        lines = [",".join(self.columns)]
        for row in self.rows:
            lines.append(",".join([str(int(row[0])), str(int(row[1])), *(f"{v:.6g}" for v in row[2:])]))
        data = ("\n".join(lines) + "\n").encode("ascii")
        if path.suffix == ".gz":
            with (
                path.open("wb") as raw,
                gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as handle,
            ):
                handle.write(data)
        else:
            path.write_bytes(data)


def _wear(
    rng: np.random.Generator, nominal: float, units: int, acceleration: float, spread: float = 0.35
) -> np.ndarray:
    """Per-unit wear rates: log-normal around ``nominal`` (units of one make differ by a factor), times
    ``acceleration`` (above 1: short lives, for tests)."""
    return acceleration * nominal * rng.lognormal(0.0, spread, units)


# -- pump -------------------------------------------------------------------------------------------

PUMP_SETTINGS = ("ambient_c", "voltage_v", "discharge_kpa")
PUMP_SENSORS = ("speed_rpm", "flow_m3h", "thrust_bearing_c", "radial_bearing_c", "oil_c")
PUMP_DT = 2.0
"""Seconds per step: the fastest dynamics (flow, time constant 5 s) stay stable and smooth."""
PUMP_SAMPLE = 30
"""Steps between the samples averaged into an hour's row."""
PUMP_MAX_HOURS = 2000


def simulate_pump(units: int, seed: int, acceleration: float = 1.0) -> SimulatedFleet:
    from progpy.models import CentrifugalPumpWithWear

    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        # The model warns that its wear rates live in the state: that is why it is used.
        warnings.simplefilter("ignore")
        model = CentrifugalPumpWithWear()
        steady = {"Tamb": 290.0, "V": 471.2389, "pdisch": 928654.0, "psuc": 239179.0, "wsync": 376.991}
        x0 = model.initialize(steady)
    state = {k: np.full(units, float(np.ravel(x0[k])[0])) for k in model.states}
    state["wA"] = _wear(rng, 3.0e-4, units, acceleration)
    state["wRadial"] = _wear(rng, 3.0e-13, units, acceleration)
    state["wThrust"] = _wear(rng, 2.0e-12, units, acceleration)
    x = model.StateContainer(state)
    ambient_mean = rng.uniform(283.0, 303.0, units)
    phase = rng.uniform(0.0, 2 * np.pi, units)
    volts = steady["V"] * rng.uniform(0.97, 1.03, units)
    steps_per_hour = int(3600 / PUMP_DT)
    alive = np.ones(units, dtype=bool)
    blocks: list[list[np.ndarray]] = [[] for _ in range(units)]
    for hour in range(PUMP_MAX_HOURS):
        # Inputs for the hour: daily ambient cycle per unit, supply voltage jitter per unit, and a
        # discharge pressure set by plant demand (progpy's leak term takes one pressure for all units).
        tamb = ambient_mean + 6.0 * np.sin(2 * np.pi * hour / 24.0 + phase) + rng.normal(0, 0.5, units)
        volt = volts * (1.0 + rng.normal(0.0, 0.005, units))
        pdisch = steady["pdisch"] * (1.0 + rng.uniform(-0.08, 0.08))
        u = {"Tamb": tamb, "V": volt, "pdisch": pdisch, "psuc": steady["psuc"], "wsync": steady["wsync"]}
        sums = np.zeros((units, len(PUMP_SENSORS)))
        counts = np.zeros(units)
        failed = np.zeros(units, dtype=bool)
        for step in range(steps_per_hour):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                x = model.next_state(x, u, PUMP_DT)
            if step % PUMP_SAMPLE == 0 or step == steps_per_hour - 1:
                z = model.output(x)
                take = alive & ~failed
                sample = np.stack(
                    [
                        np.ravel(z["w"]) * 60 / (2 * np.pi),
                        np.ravel(z["Qout"]) * 3600,
                        np.ravel(z["Tt"]) - KELVIN,
                        np.ravel(z["Tr"]) - KELVIN,
                        np.ravel(z["To"]) - KELVIN,
                    ],
                    axis=1,
                )
                sums[take] += sample[take]
                counts[take] += 1
                met = model.threshold_met(x)
                failed |= np.logical_or.reduce([np.ravel(v) for v in met.values()])
        for unit in np.flatnonzero(alive):
            means = sums[unit] / max(counts[unit], 1)
            settings = [tamb[unit] - KELVIN, volt[unit], pdisch / 1000]
            blocks[unit].append(np.array([unit + 1, hour + 1, *settings, *means]))
        alive &= ~failed
        if not alive.any():
            break
    if alive.any():
        raise RuntimeError(f"{int(alive.sum())} pumps still ran after {PUMP_MAX_HOURS} hours")
    sigma = np.array([0, 0, 0.3, 0.5, 2.0, 3.0, 0.4, 0.4, 0.4, 0.2])
    rows = np.concatenate([np.stack(b) for b in blocks])
    rows = rows + rng.normal(0.0, 1.0, rows.shape) * sigma
    return SimulatedFleet("pump", PUMP_SETTINGS, PUMP_SENSORS, rows)


# -- valve ------------------------------------------------------------------------------------------

VALVE_SETTINGS = ("upstream_kpa", "downstream_kpa")
VALVE_SENSORS = ("open_s", "close_s", "bottom_open_mpa", "top_closed_mpa")
VALVE_DT = 0.01
"""Seconds per step: at 0.02 the piston now and then bounces at its end stop."""
VALVE_PHASE_S = 2.5
"""A stroke (open or close) that has not completed this long after its command is a failure."""
VALVE_HOLD_S = 0.3
"""The chamber pressure is read this long after the end of a stroke."""
VALVE_IDLE_S = 3600.0
"""Time in service between actuations: the external seals age with time, not travel."""
VALVE_MAX_CYCLES = 2000


def _valve_unit(args: tuple[int, dict[str, float], np.random.Generator]) -> np.ndarray:
    from progpy.models import PneumaticValveWithWear

    number, wear, rng = args
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PneumaticValveWithWear()
        x = model.initialize({"pL": 3.5e5, "pR": 2.0e5, "uBot": False, "uTop": True})
    state = {k: float(np.ravel(x[k])[0]) for k in model.states}
    state.update(wear)
    x = model.StateContainer(state)
    ls = model.parameters["Ls"]
    tol = model.parameters["indicatorTol"]
    upstream = rng.uniform(290e3, 320e3)
    downstream = rng.uniform(190e3, 210e3)
    rows = []
    steps = int(VALVE_PHASE_S / VALVE_DT)
    for cycle in range(1, VALVE_MAX_CYCLES + 1):
        p_l = upstream * (1 + rng.normal(0, 0.01))
        p_r = downstream * (1 + rng.normal(0, 0.01))
        measured: list[float] = []
        stuck = False
        for bottom, top in ((True, False), (False, True)):
            u = {"pL": p_l, "pR": p_r, "uBot": bottom, "uTop": top}
            stroke = float("nan")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for step in range(1, steps + 1):
                    x = model.next_state(x, u, VALVE_DT)
                    position = float(np.ravel(x["x"])[0])
                    if np.isnan(stroke) and (position >= ls - tol if bottom else position <= tol):
                        stroke = step * VALVE_DT
                    if step * VALVE_DT >= stroke + VALVE_HOLD_S:
                        break
                z = model.output(x)
            stuck |= bool(np.isnan(stroke))
            pressure = float(np.ravel(z["pB"] if bottom else z["pT"])[0])
            measured.extend([stroke, pressure])
        aged = {"Aeb": x["Aeb"] + x["wb"] * VALVE_IDLE_S, "Aet": x["Aet"] + x["wt"] * VALVE_IDLE_S}
        x = model.StateContainer({k: float(np.ravel(aged.get(k, x[k]))[0]) for k in model.states})
        met = model.threshold_met(x)
        failed = stuck or any(bool(np.ravel(v)[0]) for v in met.values())
        if stuck:
            # The operator sees the stroke time out: log the allotted time, not a missing value.
            measured = [VALVE_PHASE_S if np.isnan(v) else v for v in measured]
        open_s, bottom_mpa, close_s, top_mpa = measured
        rows.append([number, cycle, p_l / 1000, p_r / 1000, open_s, close_s, bottom_mpa, top_mpa])
        if failed:
            return np.asarray(rows)
    raise RuntimeError(f"valve {number} still ran after {VALVE_MAX_CYCLES} cycles")


def simulate_valve(units: int, seed: int, acceleration: float = 1.0, workers: int = 1) -> SimulatedFleet:
    rng = np.random.default_rng(seed)
    wear = {
        "wb": _wear(rng, 7.0e-13, units, acceleration, 0.5),
        "wt": _wear(rng, 7.0e-13, units, acceleration, 0.5),
        "wi": _wear(rng, 2.5e-11, units, acceleration, 0.5),
        "wk": _wear(rng, 0.015, units, acceleration, 0.5),
        "wr": _wear(rng, 0.15, units, acceleration, 0.5),
    }
    jobs = [
        (u + 1, {k: float(v[u]) for k, v in wear.items()}, np.random.default_rng([seed, u + 1]))
        for u in range(units)
    ]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            blocks = list(pool.map(_valve_unit, jobs))
    else:
        blocks = [_valve_unit(job) for job in jobs]
    sigma = np.array([0, 0, 2.0, 2.0, 0.01, 0.01, 0.01, 0.01])
    rows = np.concatenate(blocks)
    rows = rows + rng.normal(0.0, 1.0, rows.shape) * sigma
    return SimulatedFleet("valve", VALVE_SETTINGS, VALVE_SENSORS, rows)


# -- battery ----------------------------------------------------------------------------------------

BATTERY_SETTINGS = ("current_a",)
BATTERY_SENSORS = ("capacity_ah", "discharge_min", "v_start", "v_mean", "temp_max_c")
BATTERY_DT = 5.0
BATTERY_MAX_CYCLES = 2000
BATTERY_MAX_STEPS = 4000
"""A discharge longer than this many steps means the model ran away (it does not at these currents)."""
AGEING_STATES = ("qMobile", "tDiffusion", "Ro")


def simulate_battery(units: int, seed: int, acceleration: float = 1.0) -> SimulatedFleet:
    from progpy.models import BatteryElectroChemEODEOL

    rng = np.random.default_rng(seed)
    model = BatteryElectroChemEODEOL()
    # Per-unit wear rates: progpy's parameters take arrays, as its equations are elementwise.
    model.parameters["wq"] = -_wear(rng, 6.0e-4, units, acceleration)
    model.parameters["wr"] = _wear(rng, 1.0e-8, units, acceleration)
    model.parameters["wd"] = _wear(rng, 5.0e-2, units, acceleration)
    params = model.parameters
    x0 = model.initialize()
    state = {k: np.full(units, float(np.ravel(x0[k])[0])) for k in model.states}
    duty = rng.uniform(1.5, 3.5, units)
    threshold = params["qMaxThreshold"]
    alive = np.ones(units, dtype=bool)
    blocks: list[list[np.ndarray]] = [[] for _ in range(units)]
    for cycle in range(1, BATTERY_MAX_CYCLES + 1):
        current = duty * (1 + rng.normal(0, 0.05, units))
        fresh = _charged(state, params)
        state.update(fresh)
        before = {k: state[k].copy() for k in AGEING_STATES}
        x = model.StateContainer(state)
        u = model.InputContainer({"i": current})
        running = alive.copy()
        seconds = np.zeros(units)
        v_start = np.full(units, np.nan)
        v_sum = np.zeros(units)
        t_max = np.full(units, -np.inf)
        for step in range(1, BATTERY_MAX_STEPS + 1):
            nxt = model.next_state(x, u, BATTERY_DT)
            # Units that have reached end of discharge rest: their state is kept as it was.
            keep = {k: np.where(running, np.ravel(nxt[k]), np.ravel(x[k])) for k in model.states}
            x = model.StateContainer(keep)
            volts = np.ravel(model.output(x)["v"])
            if step * BATTERY_DT == 60.0:
                v_start = volts.copy()
            v_sum += np.where(running, volts, 0.0)
            t_max = np.where(running, np.maximum(t_max, np.ravel(x["tb"]) - KELVIN), t_max)
            seconds += running * BATTERY_DT
            running &= volts >= params["VEOD"]
            if not running.any():
                break
        state = {k: np.ravel(x[k]).copy() for k in model.states}
        for k in AGEING_STATES:
            # The recharge puts back what the discharge took, and wears the cell as much again.
            state[k] = np.where(alive, state[k] + (state[k] - before[k]), state[k])
        capacity = current * seconds / 3600
        features = np.stack(
            [current, capacity, seconds / 60, v_start, v_sum / np.maximum(seconds / BATTERY_DT, 1), t_max],
            axis=1,
        )
        for unit in np.flatnonzero(alive):
            blocks[unit].append(np.array([unit + 1, cycle, *features[unit]]))
        alive &= state["qMobile"] >= threshold
        if not alive.any():
            break
    if alive.any():
        raise RuntimeError(f"{int(alive.sum())} cells still held capacity after {BATTERY_MAX_CYCLES} cycles")
    sigma = np.array([0, 0, 0.01, 0.005, 0.3, 0.005, 0.003, 0.2])
    rows = np.concatenate([np.stack(b) for b in blocks])
    rows = rows + rng.normal(0.0, 1.0, rows.shape) * sigma
    return SimulatedFleet("battery", BATTERY_SETTINGS, BATTERY_SENSORS, rows)


def _charged(state: dict[str, np.ndarray], params: Any) -> dict[str, np.ndarray]:
    """The charge states of a full cell of the (aged) capacity, as progpy's ``initialize`` sets them."""
    q_max = state["qMobile"] / (params["xnMax"] - params["xnMin"])
    surface = params["VolSFraction"]
    zeros = np.zeros_like(q_max)
    return {
        "Vo": zeros,
        "Vsn": zeros,
        "Vsp": zeros,
        "tb": np.full_like(q_max, params["x0"]["tb"]),
        "qpS": q_max * params["xpMin"] * surface,
        "qpB": q_max * params["xpMin"] * (1 - surface),
        "qnS": q_max * params["xnMax"] * surface,
        "qnB": q_max * params["xnMax"] * (1 - surface),
    }


FLEETS: dict[str, Callable[[int, int, float], SimulatedFleet]] = {
    "pump": simulate_pump,
    "valve": simulate_valve,
    "battery": simulate_battery,
}


def simulate(fleet: str, units: int, seed: int, acceleration: float = 1.0) -> SimulatedFleet:
    """Run ``units`` units of ``fleet`` (a key of FLEETS) to failure. Needs progpy (the dev extra)."""
    return FLEETS[fleet](units, seed, acceleration)
