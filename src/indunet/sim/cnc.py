"""A simulated 3-axis machining centre producing the points of the ``cnc_machine_tool`` model.

Theory of operation. The machine runs one NC program over and over, one part per cycle:

    idle (operator loads a part) -> [tool change -> cut] for each operation -> idle, part_count + 1
    any state while cutting -- rare alarm --> alarm (program Interrupted) -- operator reset --> cut

Physical values follow from the state: the spindle ramps to the operation's speed times the
override, feed starts once the spindle is up to speed, spindle load follows feed (material removal),
power follows load and speed, and the coolant and spindle bearings warm up under load and cool
down when idle. Axes trace the operation's toolpath around the workpiece and park for tool changes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from indunet.sim.signals import FirstOrderLag, Ramp, RandomWalk, clamp, noise

Value = bool | int | float | str

MAX_SPINDLE_RPM = 12000.0
RATED_SPINDLE_KW = 15.0
NATURAL_WEAR_PER_HOUR = 1.0 / 20_000.0
"""A spindle bearing lasts about 20,000 hours at full speed."""
WORN_FRICTION_KW = 8.0
WORN_HEAT_C = 25.0
AMBIENT_C = 22.0
WORKPIECE_CENTRE = (400.0, 250.0)
WORKPIECE_TOP_Z = -320.0
TOOL_CHANGE_POSITION = (780.0, 480.0, -20.0)
TOOL_CHANGE_S = 8.0
LOAD_PART_S = 25.0
# One alarm every ~3 hours of cutting: frequent enough to show up in a demo, rare enough to be news.
ALARM_RATE_PER_S = 1.0 / 10_000
ALARM_CODES = (20_170, 25_050, 300_500, 700_012, 700_103)
# Steps longer than this (a paused simulator) are not simulated in full; the machine just resumes.
MAX_STEP_S = 60.0


@dataclass(frozen=True)
class Operation:
    tool: int
    spindle_rpm: float
    feed_mm_min: float
    duration_s: float
    path: str  # "face", "pocket", "contour" or "drill"
    depth_mm: float


PROGRAMS: dict[str, tuple[Operation, ...]] = {
    "O1001_BRACKET": (
        Operation(tool=1, spindle_rpm=6000, feed_mm_min=2400, duration_s=90, path="face", depth_mm=1.5),
        Operation(tool=4, spindle_rpm=9000, feed_mm_min=1500, duration_s=180, path="pocket", depth_mm=12),
        Operation(tool=7, spindle_rpm=2500, feed_mm_min=250, duration_s=60, path="drill", depth_mm=25),
        Operation(tool=5, spindle_rpm=10000, feed_mm_min=1800, duration_s=120, path="contour", depth_mm=20),
    ),
    "O2040_HOUSING": (
        Operation(tool=2, spindle_rpm=4500, feed_mm_min=3000, duration_s=150, path="face", depth_mm=2),
        Operation(tool=12, spindle_rpm=7500, feed_mm_min=1200, duration_s=300, path="pocket", depth_mm=30),
        Operation(tool=8, spindle_rpm=1800, feed_mm_min=180, duration_s=90, path="drill", depth_mm=40),
    ),
}


class CncMachine:
    """Deterministic for a given seed and sequence of timestamps."""

    def __init__(self, seed: int, program: str | None = None) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible runs, not secrets
        self.program_name = program or self.rng.choice(sorted(PROGRAMS))
        self.operations = PROGRAMS[self.program_name]
        self.state = "idle"
        self.state_elapsed = 0.0
        self.op_index = 0
        self.op_elapsed = 0.0
        self.cycle_elapsed = 0.0
        self.part_count = self.rng.randint(0, 5000)
        self.cycle_time = 0.0
        self.alarm_code = 0
        self.alarm_duration = 0.0
        self.tool = 0
        self.tool_life = {op.tool: self.rng.uniform(30.0, 100.0) for op in self.operations}
        self.energy = self.rng.uniform(5_000.0, 80_000.0)
        self.feed_override = 100.0
        self.spindle_override = 100.0
        self.spindle = Ramp(rate_per_s=3000.0)
        self.feed = Ramp(rate_per_s=6000.0)
        self.axes = [FirstOrderLag(0.4, v) for v in TOOL_CHANGE_POSITION]
        self.coolant = FirstOrderLag(1800.0, AMBIENT_C + self.rng.uniform(0.0, 3.0))
        self.bearing = FirstOrderLag(900.0, AMBIENT_C + self.rng.uniform(0.0, 5.0))
        self.material = RandomWalk(self.rng, 1.0, 0.02, 0.8, 1.25, reversion_per_s=0.02)
        self.spindle_wear = 0.0
        """Spindle bearing wear, 0 (new) to 1 (worn out): friction that costs power and heat at speed."""
        self.wear_per_hour = NATURAL_WEAR_PER_HOUR
        """Wear added per hour at full speed; raise it to watch a spindle wear out (``accelerate_wear``)."""
        self.last_ts_us: int | None = None

    def step(self, ts_us: int) -> dict[str, Value]:
        dt = 0.0 if self.last_ts_us is None else clamp((ts_us - self.last_ts_us) / 1e6, 0.0, MAX_STEP_S)
        self.last_ts_us = ts_us
        self._advance(dt)
        return self._sample(dt)

    def accelerate_wear(self, hours_to_failure: float) -> None:
        """Make the spindle wear out within about ``hours_to_failure`` hours of cutting at full speed."""
        self.wear_per_hour = 1.0 / max(hours_to_failure, 1e-3)

    # --- state machine --------------------------------------------------------------------------

    def _advance(self, dt: float) -> None:
        self.state_elapsed += dt
        if self.state != "idle":
            self.cycle_elapsed += dt
        if self.state == "idle":
            if self.state_elapsed >= LOAD_PART_S:
                self.op_index = 0
                self.cycle_elapsed = 0.0
                self._enter("tool_change")
        elif self.state == "tool_change":
            if self.state_elapsed >= TOOL_CHANGE_S:
                self.tool = self._operation().tool
                if self.tool_life[self.tool] < 5.0:
                    self.tool_life[self.tool] = 100.0
                self.op_elapsed = 0.0
                self._enter("cutting")
        elif self.state == "cutting":
            self._cut(dt)
        elif self.state == "alarm" and self.state_elapsed >= self.alarm_duration:
            self.alarm_code = 0
            self._enter("cutting")
        self._maybe_change_overrides(dt)

    def _cut(self, dt: float) -> None:
        if self.rng.random() < ALARM_RATE_PER_S * dt:
            self.alarm_code = self.rng.choice(ALARM_CODES)
            self.alarm_duration = self.rng.uniform(60.0, 600.0)
            self._enter("alarm")
            return
        self.op_elapsed += dt * self.feed_override / 100.0
        op = self._operation()
        self.tool_life[op.tool] = max(0.0, self.tool_life[op.tool] - dt * 0.004 * self.material.value)
        if self.op_elapsed < op.duration_s:
            return
        self.op_index += 1
        if self.op_index < len(self.operations):
            self._enter("tool_change")
        else:
            self.part_count += 1
            self.cycle_time = round(self.cycle_elapsed, 1)
            self._enter("idle")

    def _enter(self, state: str) -> None:
        self.state = state
        self.state_elapsed = 0.0

    def _operation(self) -> Operation:
        return self.operations[min(self.op_index, len(self.operations) - 1)]

    def _maybe_change_overrides(self, dt: float) -> None:
        # Operators touch the override knobs a few times per shift.
        if self.rng.random() < dt / 3600.0:
            self.feed_override = self.rng.choice((70.0, 80.0, 90.0, 100.0, 100.0, 100.0, 110.0, 120.0))
        if self.rng.random() < dt / 7200.0:
            self.spindle_override = self.rng.choice((90.0, 100.0, 100.0, 100.0, 110.0))

    # --- physics --------------------------------------------------------------------------------

    def _sample(self, dt: float) -> dict[str, Value]:
        cutting = self.state == "cutting"
        op = self._operation()
        setpoint = op.spindle_rpm * self.spindle_override / 100.0 if cutting else 0.0
        setpoint = clamp(setpoint, 0.0, MAX_SPINDLE_RPM)
        speed = self.spindle.step(setpoint, dt)
        up_to_speed = cutting and speed >= 0.95 * setpoint
        feed = self.feed.step(op.feed_mm_min * self.feed_override / 100.0 if up_to_speed else 0.0, dt)
        material = self.material.step(dt)

        cut_load = (feed / 1000.0) * (4.0 + op.depth_mm * 0.9) * material if up_to_speed else 0.0
        accel_load = 25.0 if cutting and not up_to_speed else 0.0
        load = clamp(3.0 + cut_load + accel_load + noise(self.rng, 0.8) if speed > 0 else 0.0, 0.0, 200.0)
        power = clamp(
            1.8  # hydraulics, controls and chip conveyor
            + (0.9 if cutting else 0.0)  # coolant pump
            + RATED_SPINDLE_KW * (load / 100.0) * (0.3 + 0.7 * speed / MAX_SPINDLE_RPM)
            + noise(self.rng, 0.05),
            0.0,
            80.0,
        )
        # A worn spindle bearing rubs: friction power grows with speed and wear, whatever the cut
        # takes, and turns into heat at the bearing. Nothing about it is random, so the rest of the
        # simulation is the same with or without wear.
        relative_speed = speed / MAX_SPINDLE_RPM
        self.spindle_wear = min(1.0, self.spindle_wear + self.wear_per_hour * relative_speed * dt / 3600.0)
        friction_kw = WORN_FRICTION_KW * self.spindle_wear * relative_speed
        power = clamp(power + friction_kw, 0.0, 80.0)
        coolant = self.coolant.step(AMBIENT_C + 0.15 * load, dt)
        bearing = self.bearing.step(
            AMBIENT_C
            + 28.0 * relative_speed
            + 0.05 * load
            + WORN_HEAT_C * self.spindle_wear * relative_speed,
            dt,
        )
        self.energy += power * dt / 3600.0
        x, y, z = self._axes(cutting and up_to_speed, op, dt)

        return {
            "operation_mode": "MANUAL" if self.state == "alarm" else "AUTOMATIC",
            "program_name": self.program_name,
            "program_state": self._program_state(),
            "part_count": self.part_count,
            "cycle_time": self.cycle_time,
            "spindle_speed": round(
                clamp(speed + noise(self.rng, 2.0) if speed > 0 else 0.0, 0.0, 24000.0), 1
            ),
            "spindle_speed_setpoint": setpoint,
            "spindle_override": self.spindle_override,
            "spindle_load": round(load, 1),
            "spindle_temperature": round(clamp(bearing + noise(self.rng, 0.05), -20.0, 120.0), 2),
            "feed_rate": round(feed, 1),
            "feed_override": self.feed_override,
            "axis_x_position": round(clamp(x, 0.0, 800.0), 3),
            "axis_y_position": round(clamp(y, 0.0, 500.0), 3),
            "axis_z_position": round(clamp(z, -500.0, 0.0), 3),
            "tool_number": self.tool,
            "tool_life_remaining": round(self.tool_life.get(self.tool, 100.0), 2),
            "alarm_active": self.alarm_code != 0,
            "alarm_code": self.alarm_code,
            "power_active": round(power, 3),
            "energy_total": round(self.energy, 3),
            "coolant_temperature": round(clamp(coolant + noise(self.rng, 0.05), -20.0, 80.0), 2),
        }

    def _program_state(self) -> str:
        if self.state == "alarm":
            return "Interrupted"
        if self.state == "idle":
            return "Ended" if self.cycle_time else "Initializing"
        return "Running"

    def _axes(self, cutting: bool, op: Operation, dt: float) -> tuple[float, float, float]:
        if self.state == "tool_change":
            target = TOOL_CHANGE_POSITION
        elif cutting:
            target = _toolpath(op, self.op_elapsed)
        else:
            target = (self.axes[0].value, self.axes[1].value, TOOL_CHANGE_POSITION[2])
        x, y, z = (axis.step(t, dt) for axis, t in zip(self.axes, target, strict=True))
        return x, y, z


def _toolpath(op: Operation, t: float) -> tuple[float, float, float]:
    """Where the tool is ``t`` seconds into an operation: a simple parametric path per kind."""
    cx, cy = WORKPIECE_CENTRE
    progress = t / op.duration_s
    bottom = WORKPIECE_TOP_Z - op.depth_mm
    if op.path == "face":
        # Zig-zag passes across a 200 x 120 mm face.
        passes = 8
        lane = min(int(progress * passes), passes - 1)
        along = (progress * passes) % 1.0
        x = cx - 100.0 + 200.0 * (along if lane % 2 == 0 else 1.0 - along)
        return x, cy - 60.0 + 120.0 * lane / (passes - 1), bottom
    if op.path == "pocket":
        # Outward spiral, stepping down in three levels.
        angle = progress * 2.0 * math.pi * 12.0
        radius = 5.0 + 45.0 * ((progress * 3.0) % 1.0)
        level = WORKPIECE_TOP_Z - op.depth_mm * (min(int(progress * 3.0), 2) + 1) / 3.0
        return cx + radius * math.cos(angle), cy + radius * math.sin(angle), level
    if op.path == "drill":
        # Six holes on a bolt circle, each a peck cycle down and back.
        holes = 6
        hole = min(int(progress * holes), holes - 1)
        phase = (progress * holes) % 1.0
        angle = 2.0 * math.pi * hole / holes
        depth = op.depth_mm * (1.0 - abs(2.0 * phase - 1.0))
        return cx + 70.0 * math.cos(angle), cy + 70.0 * math.sin(angle), WORKPIECE_TOP_Z + 2.0 - depth
    # Contour: around a 180 x 100 mm rounded rectangle, approximated by a superellipse.
    angle = progress * 2.0 * math.pi * 2.0
    c, s = math.cos(angle), math.sin(angle)
    return cx + 90.0 * math.copysign(abs(c) ** 0.5, c), cy + 50.0 * math.copysign(abs(s) ** 0.5, s), bottom
