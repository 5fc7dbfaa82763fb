"""Six hours (two seeds) of the simulated farm running normally, through the evaluator with the demo's monitoring
points and the shipped risk features: not one reason to warn. Sensor noise, filling and emptying, the
daily temperature swing and the reactor's controller are all normal life, not precursors."""

from __future__ import annotations

import pytest

from indunet.apps.safety import registry
from indunet.apps.safety.assess import Evaluator, UnitInfo, WatchedPoint
from indunet.apps.safety.features import FeatureSet, default_library
from indunet.demo_safety import UNIT_TYPES, site_document
from indunet.platform.runtime import StoredSample
from indunet.sim.tank_farm import TankFarm

S = 1_000_000
HOURS = 6


@pytest.mark.parametrize("seed", [11, 23])
def test_a_normal_day_raises_no_reason(seed: int) -> None:
    start = 1_790_000_000_000_000
    farm = TankFarm(seed=seed, start_ts_us=start)
    document = site_document(farm)
    points = []
    for n, item in enumerate(document["points"]):
        spec = registry.parse(registry.PointSpec, item, "monitoring point")
        limits, _unit, _basis = registry.limits_of(spec)
        points.append(
            WatchedPoint(
                str(n), spec.unit, spec.device, spec.point, spec.kind, limits, f"{spec.device}/{spec.point}"
            )
        )
    units = [UnitInfo(name, unit_type) for name, unit_type in UNIT_TYPES.items()]
    evaluator = Evaluator(FeatureSet(default_library()))
    evaluator.load(units, points)
    raised: dict[tuple[str, str], int] = {}
    for second in range(HOURS * 3600):
        ts = start + second * S
        farm.advance(ts)
        readings = farm.readings()
        evaluator.on_samples(
            [
                StoredSample("t", p.device_id, "", p.point, ts, float(readings[p.device_id][p.point]), None)
                for p in points
            ]
        )
        for unit in units:
            for reason in evaluator.assess(unit.id, ts).reasons:
                key = (unit.id, reason.code)
                raised[key] = raised.get(key, 0) + 1
    assert raised == {}
