"""Device simulators for the demo and tests, and a runner that feeds them to the HTTP telemetry API."""

from indunet.sim.cnc import CncMachine
from indunet.sim.flowmeter import FlowMeter
from indunet.sim.registry import SIMULATORS, simulator_for
from indunet.sim.runner import SimulatedDevice, Simulator, run_simulators
from indunet.sim.tank_farm import TankFarm

__all__ = [
    "SIMULATORS",
    "CncMachine",
    "FlowMeter",
    "SimulatedDevice",
    "Simulator",
    "TankFarm",
    "run_simulators",
    "simulator_for",
]
