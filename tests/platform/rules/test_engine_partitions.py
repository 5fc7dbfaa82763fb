"""A rule engine that holds only some devices (a rule worker's partitions) keeps no clocks for the others.

Otherwise every rule worker would raise "no data" for the devices whose samples go to another worker.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from indunet.core.timeutil import now_us
from indunet.platform import alarms, devices, rules, tenants
from indunet.platform.runtime import Platform
from indunet.security import Principal

HOUR_US = 3_600_000_000


def _nobody(_device_id: str) -> bool:
    return False


def _everybody(_device_id: str) -> bool:
    return True


@pytest.fixture
def silent_device(platform: Platform) -> Principal:
    """A tenant whose one device has a no-data rule of one hour, and never sends anything."""
    tenant = tenants.create_tenant(platform, f"parts-{secrets.token_hex(3)}")
    admin = Principal.system(tenant["id"])
    device = devices.create_device(platform, admin, "cnc-01", "cnc_machine_tool")
    spec = {
        "name": "silent",
        "type": "cnc_machine_tool",
        "device": device["id"],
        "condition": {"kind": "no_data", "point": "spindle_load", "timeout_s": 3600},
    }
    rules.create_rule(platform, admin, rules.parse_spec(spec))
    return admin


@pytest.fixture
def engine_for(platform: Platform) -> Iterator[Callable[[Callable[[str], bool]], rules.RuleEngine]]:
    started: list[rules.RuleEngine] = []

    def make(owns: Callable[[str], bool]) -> rules.RuleEngine:
        engine = rules.RuleEngine(platform, owns=owns)
        engine.start()
        started.append(engine)
        return engine

    yield make
    for engine in started:
        engine.stop()


def _raised(platform: Platform, admin: Principal) -> list[str]:
    items, _ = alarms.list_alarms(platform, admin, alarms.AlarmQuery(limit=10, status="active"))
    return [item["name"] for item in items]


def test_no_data_is_raised_only_for_a_device_held(
    platform: Platform,
    silent_device: Principal,
    engine_for: Callable[[Callable[[str], bool]], rules.RuleEngine],
) -> None:
    engine = engine_for(_nobody)
    later = now_us() + 2 * HOUR_US
    engine.tick(later)
    assert engine.wait_idle()
    assert _raised(platform, silent_device) == []

    engine.assign(_everybody)  # the worker won the device's partition: its clock starts now
    engine.tick(later)
    engine.tick(later + 2 * HOUR_US)
    assert engine.wait_idle()
    assert _raised(platform, silent_device) == ["silent"]


def test_a_device_given_up_is_forgotten(
    platform: Platform,
    silent_device: Principal,
    engine_for: Callable[[Callable[[str], bool]], rules.RuleEngine],
) -> None:
    engine = engine_for(_everybody)
    engine.tick(now_us())
    assert engine.wait_idle()

    engine.assign(_nobody)  # another worker has the device's samples now
    engine.tick(now_us() + 2 * HOUR_US)
    assert engine.wait_idle()
    assert _raised(platform, silent_device) == []
