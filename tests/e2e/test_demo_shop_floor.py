"""``indunet demo``'s shop floor: Modbus, OPC UA and S7 devices live behind the demo's edge gateway."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from tests.e2e.test_console import Watch, browser, catalog, console, log_in  # noqa: F401 - fixtures

from indunet.core.timeutil import parse_timestamp

FIELD = {"pump-01": "flow", "pump-02": "flow", "cnc-03": "power_active", "flow-03": "volume_flow"}


def _latest(base_url: str, headers: dict[str, str], name: str, point: str) -> Any:
    listed = httpx.get(f"{base_url}/api/devices", params={"q": name}, headers=headers).json()["items"]
    device = next(d for d in listed if d["name"] == name)
    values = httpx.get(f"{base_url}/api/telemetry/{device['id']}/latest", headers=headers).json()["values"]
    return device, values.get(point)


@pytest.mark.browser
def test_the_demo_gateway_brings_all_three_protocols_live_into_the_console(
    live_server: tuple[str, str, str, str],
    console: tuple[Any, Watch],  # noqa: F811 - the fixture imported above
) -> None:
    from playwright.sync_api import expect

    base_url, email, password, _device = live_server
    token = httpx.post(f"{base_url}/api/auth/token", data={"username": email, "password": password}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    deadline = time.monotonic() + 60
    while True:
        found = {name: _latest(base_url, headers, name, point) for name, point in FIELD.items()}
        fresh = {
            name: latest is not None and time.time() - parse_timestamp(latest["ts"]) / 1e6 < 30
            for name, (_, latest) in found.items()
        }
        if all(fresh.values()):
            break
        assert time.monotonic() < deadline, f"no fresh values from {[n for n, ok in fresh.items() if not ok]}"
        time.sleep(1)
    for name, (device, _) in found.items():
        assert device["labels"]["gateway"] == "edge-gw-01", name

    page, watch = console
    en = catalog("en")
    log_in(page, base_url, email, password)
    page.get_by_role("link", name=en["nav.gateways"]).click()
    page.wait_for_url(re.compile(r"#/gateways$"))
    row = page.locator('[data-testid="gateway-row"][data-name="edge-gw-01"]')
    expect(row.get_by_test_id("gw-devices")).to_have_text("4 of 4", timeout=40_000)
    expect(row.get_by_test_id("uplink")).to_have_attribute("data-uplink", "mqtt")
    row.get_by_role("link", name="edge-gw-01").click()
    rows = page.get_by_test_id("gateway-device-row")
    expect(rows).to_have_count(4)
    for name, driver in (("pump-01", "modbus"), ("cnc-03", "opcua"), ("flow-03", "s7")):
        device_row = page.locator('[data-testid="gateway-device-row"]', has_text=name)
        expect(device_row.get_by_test_id("device-state")).to_have_attribute("data-state", "connected")
        expect(device_row).to_contain_text(driver)
    assert watch.foreign_requests == []
    assert watch.console_errors == []
