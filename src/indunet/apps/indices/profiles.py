"""What "working" and "making" mean for a device type: the point whose value above a threshold means
the machine works, the counters of parts made and rejected, and the ideal cycle time.

Built-in for the library's machine types; ``indices_profiles`` in the settings adds or replaces them
per type. Types without a profile (instruments, gateways) take no part in the indices.
"""

from __future__ import annotations

from collections.abc import Mapping

from indunet.core.config import ActivityProfile

BUILTIN: Mapping[str, ActivityProfile] = {
    "cnc_machine_tool": ActivityProfile(
        working_point="spindle_speed",
        above=0.0,
        count_point="part_count",
        ideal_cycle_s=60.0,
        energy_point="energy_total",
    ),
    "centrifugal_pump": ActivityProfile(working_point="speed", above=0.0, energy_point="energy"),
    "industrial_robot": ActivityProfile(working_point="tcp_speed", above=0.0, energy_point="energy_total"),
}


def profiles(overrides: Mapping[str, ActivityProfile]) -> dict[str, ActivityProfile]:
    return {**BUILTIN, **overrides}
