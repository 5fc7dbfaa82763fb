"""Which simulator produces which built-in device type."""

from __future__ import annotations

from collections.abc import Callable

from indunet.core.errors import InvalidInput
from indunet.sim.cnc import CncMachine
from indunet.sim.flowmeter import FlowMeter
from indunet.sim.modbus_plc import CentrifugalPump
from indunet.sim.runner import Simulator

SIMULATORS: dict[str, Callable[[int], Simulator]] = {
    "cnc_machine_tool": CncMachine,
    "flow_pressure_instrument": FlowMeter,
    "centrifugal_pump": CentrifugalPump,
}


def simulator_for(type_name: str, seed: int) -> Simulator:
    try:
        factory = SIMULATORS[type_name]
    except KeyError:
        known = ", ".join(sorted(SIMULATORS))
        raise InvalidInput(f"no simulator for device type {type_name!r} (have: {known})") from None
    return factory(seed)
