"""The console's gateway pages against a running demo.

The test registers two edge gateways through the HTTP API and reports their telemetry with their own
device tokens (the ThingsBoard-style device API a real gateway uses), plus two field devices labelled
``gateway=<name>`` whose client attributes carry the connection state a gateway writes. The list must
show each gateway's queue and uplink, the gateway page its devices with their states and error counts
and a chart of the last hour, and the page must switch to Chinese.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx
import pytest
from tests.e2e.test_console import Watch, browser, catalog, console, log_in  # noqa: F401 - fixtures


class Api:
    def __init__(self, base_url: str, email: str, password: str) -> None:
        self.base_url = base_url
        token = httpx.post(
            f"{base_url}/api/auth/token", data={"username": email, "password": password}
        ).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def device(self, name: str, type_name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
        response = httpx.post(
            f"{self.base_url}/api/devices",
            json={"name": name, "type": type_name, "labels": labels or {}},
            headers=self.headers,
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def telemetry(self, token: str, records: list[dict[str, Any]]) -> None:
        response = httpx.post(f"{self.base_url}/api/v1/{token}/telemetry", json=records)
        assert response.status_code == 200, response.text
        assert response.json()["rejected_count"] == 0, response.text

    def attributes(self, token: str, values: dict[str, Any]) -> None:
        response = httpx.post(f"{self.base_url}/api/v1/{token}/attributes", json=values)
        assert response.status_code == 200, response.text


def _report(queue_depth: int, mode: str) -> dict[str, Any]:
    return {
        "queue_depth": queue_depth,
        "queue_bytes": queue_depth * 64,
        "queue_oldest_age": 75.0,
        "samples_dropped": 4,
        "samples_rejected": 2,
        "samples_sent": 900,
        "uplink_connected": mode == "mqtt",
        "uplink_mode": mode,
        "devices_total": 2,
        "devices_connected": 1,
        "device_errors": 3,
        "points_per_s": 12.5,
        "cpu_percent": 3.2,
        "rss_mb": 48.7,
    }


def _set_up(api: Api) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:6]
    name = f"gw-e2e-{suffix}"
    gateway = api.device(name, "edge_gateway")
    fallback = api.device(f"gw-e2e-http-{suffix}", "edge_gateway")
    now_ms = int(time.time() * 1000)
    # Three reports over the last 20 minutes: the chart of the last hour must hold all of them.
    api.telemetry(
        gateway["token"],
        [
            {"ts": now_ms - 20 * 60_000, "values": _report(10, "down")},
            {"ts": now_ms - 10 * 60_000, "values": _report(30, "http")},
            {"ts": now_ms, "values": _report(42, "mqtt")},
        ],
    )
    api.telemetry(fallback["token"], [{"ts": now_ms, "values": _report(7, "http")}])
    press = api.device(f"press-{suffix}", "cnc_machine_tool", {"gateway": name})
    lathe = api.device(f"lathe-{suffix}", "cnc_machine_tool", {"gateway": name})
    api.device(f"elsewhere-{suffix}", "cnc_machine_tool", {"gateway": f"other-{suffix}"})
    api.attributes(
        press["token"],
        {
            "gateway_state": "connected",
            "gateway_state_since": now_ms - 3_600_000,
            "gateway_driver": "modbus",
            "gateway_polls": 3600,
            "gateway_errors": 3,
            "gateway_transport_errors": 0,
            "gateway_reconnects": 1,
            "gateway_last_error": "exception code 2 (illegal data address)",
            "gateway_latency_ms": 4.2,
            "gateway_latency_p99_ms": 18.5,
        },
    )
    api.attributes(
        lathe["token"],
        {
            "gateway_state": "backoff",
            "gateway_state_since": now_ms - 30_000,
            "gateway_driver": "opcua",
            "gateway_polls": 120,
            "gateway_errors": 0,
            "gateway_transport_errors": 7,
            "gateway_reconnects": 5,
            "gateway_last_error": "connection refused",
        },
    )
    return {"gateway": gateway, "fallback": fallback, "press": press, "lathe": lathe}


@pytest.mark.browser
def test_gateway_list_devices_chart_and_chinese(
    live_server: tuple[str, str, str, str],
    console: tuple[Any, Watch],  # noqa: F811 - the fixture imported above
) -> None:
    from playwright.sync_api import expect

    base_url, email, password, _device = live_server
    page, watch = console
    en, zh = catalog("en"), catalog("zh-CN")
    made = _set_up(Api(base_url, email, password))
    gateway = made["gateway"]

    log_in(page, base_url, email, password)
    page.get_by_role("link", name=en["nav.gateways"]).click()
    page.wait_for_url(re.compile(r"#/gateways$"))
    expect(page.locator('a[data-nav="gateways"]')).to_have_attribute("aria-current", "page")

    row = page.locator(f'[data-testid="gateway-row"][data-gateway-id="{gateway["id"]}"]')
    expect(row.get_by_test_id("gw-queue")).to_have_text("42")
    expect(row.get_by_test_id("uplink")).to_have_text(en["gateways.uplink.mqtt"])
    expect(row.get_by_test_id("uplink")).to_have_attribute("data-uplink", "mqtt")
    expect(row.get_by_test_id("gw-oldest")).to_have_text("1 min 15 s")
    expect(row.get_by_test_id("gw-dropped")).to_have_text("4")
    expect(row.get_by_test_id("gw-rejected")).to_have_text("2")
    expect(row.get_by_test_id("gw-devices")).to_have_text("1 of 2")
    expect(row.get_by_test_id("gw-cpu")).to_have_text("3.2 %")
    fallback = page.locator(f'[data-testid="gateway-row"][data-gateway-id="{made["fallback"]["id"]}"]')
    expect(fallback.get_by_test_id("uplink")).to_have_text(en["gateways.uplink.http"])
    expect(fallback.get_by_test_id("gw-queue")).to_have_text("7")
    # Field devices are not gateways.
    expect(page.locator(f'[data-testid="gateway-row"][data-name="{made["press"]["name"]}"]')).to_have_count(0)

    row.get_by_role("link", name=gateway["name"]).click()
    page.wait_for_url(re.compile(rf"#/gateways/{re.escape(gateway['id'])}$"))
    expect(page.locator("h1")).to_have_text(gateway["name"])
    devices = page.get_by_test_id("gateway-device-row")
    expect(devices).to_have_count(2)  # the device of another gateway is not listed

    press = page.locator(f'[data-testid="gateway-device-row"][data-device-id="{made["press"]["id"]}"]')
    expect(press.get_by_test_id("device-state")).to_have_text(en["gateways.state.connected"])
    expect(press.get_by_test_id("dev-errors")).to_have_text("3")
    expect(press.get_by_test_id("dev-transport")).to_have_text("0")
    expect(press.get_by_test_id("dev-latency")).to_have_text("4.2 / 18.5")
    expect(press.get_by_test_id("dev-last-error")).to_have_text("exception code 2 (illegal data address)")
    expect(press).to_contain_text("modbus")
    lathe = page.locator(f'[data-testid="gateway-device-row"][data-device-id="{made["lathe"]["id"]}"]')
    expect(lathe.get_by_test_id("device-state")).to_have_text(en["gateways.state.backoff"])
    expect(lathe.get_by_test_id("device-state")).to_have_attribute("data-state", "backoff")
    expect(lathe.get_by_test_id("dev-errors")).to_have_text("0")
    expect(lathe.get_by_test_id("dev-transport")).to_have_text("7")
    expect(lathe.get_by_test_id("dev-reconnects")).to_have_text("5")
    expect(lathe.get_by_role("link", name=made["lathe"]["name"])).to_have_attribute(
        "href", f"#/devices/{made['lathe']['id']}"
    )

    chart = page.get_by_test_id("chart-queue_depth")
    expect(chart).to_have_attribute("data-points", "3")
    assert page.locator('[data-testid="chart-queue_depth"] canvas').count() == 1
    expect(page.get_by_test_id("chart-points_per_s")).to_have_attribute("data-points", "3")

    page.get_by_test_id("lang-select").select_option("zh-CN")
    expect(page.locator("#gw-devices-title")).to_have_text(zh["gateway.devices"])
    expect(page.locator('a[data-nav="gateways"]')).to_have_text(zh["nav.gateways"])
    expect(lathe.get_by_test_id("device-state")).to_have_text(zh["gateways.state.backoff"])

    assert watch.foreign_requests == []
    assert watch.console_errors == []


def test_gateway_page_text_is_in_both_catalogs() -> None:
    en, zh = catalog("en"), catalog("zh-CN")
    keys = {k for k in en if k.startswith(("gateways.", "gateway.")) or k == "nav.gateways"}
    assert keys and keys == {k for k in zh if k.startswith(("gateways.", "gateway.")) or k == "nav.gateways"}
    for key in keys:
        assert set(re.findall(r"{(\w+)}", en[key])) == set(re.findall(r"{(\w+)}", zh[key])), key
