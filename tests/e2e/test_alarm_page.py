"""The console's alarm page against a running demo: an alarm appears, is acknowledged and cleared.

The test adds a rule that always holds (``spindle_speed >= 0``) through the API, so the demo's
simulators raise it on their next sample; the page must show it within its 5 s refresh.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from tests.e2e.test_console import Watch, browser, catalog, console, log_in  # noqa: F401 - fixtures

RULE = {
    "name": "e2e always",
    "type": "cnc_machine_tool",
    "severity": "critical",
    "condition": {"kind": "expression", "expression": "spindle_speed >= 0"},
}


def _add_rule(base_url: str, email: str, password: str) -> None:
    token = httpx.post(f"{base_url}/api/auth/token", data={"username": email, "password": password}).json()[
        "access_token"
    ]
    response = httpx.post(f"{base_url}/api/rules", json=RULE, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (201, 409), response.text


@pytest.mark.browser
def test_alarm_appears_and_is_acknowledged_then_cleared(
    live_server: tuple[str, str, str, str],
    console: tuple[Any, Watch],  # noqa: F811 - the fixture imported above
) -> None:
    from playwright.sync_api import expect

    base_url, email, password, _device = live_server
    page, watch = console
    _add_rule(base_url, email, password)
    log_in(page, base_url, email, password)

    page.get_by_role("link", name="Alarms").click()
    page.wait_for_url(re.compile(r"#/alarms"))
    row = page.locator('[data-testid="alarm-row"][data-severity="critical"][data-status="active"]').first
    expect(row).to_be_visible(timeout=20_000)
    expect(row).to_contain_text("e2e always")
    expect(row.get_by_test_id("severity")).to_have_text("Critical")

    alarm_id = row.get_attribute("data-alarm-id")
    same = page.locator(f'[data-testid="alarm-row"][data-alarm-id="{alarm_id}"]')
    same.get_by_test_id("alarm-ack").click()
    expect(same).to_have_attribute("data-status", "acknowledged")
    same.get_by_test_id("alarm-clear").click()
    # Cleared alarms leave the default "open" view.
    expect(same).to_have_count(0)
    page.get_by_test_id("alarm-status").select_option("cleared")
    expect(page.locator(f'[data-testid="alarm-row"][data-alarm-id="{alarm_id}"]')).to_have_attribute(
        "data-status", "cleared"
    )
    assert watch.console_errors == []
    assert watch.foreign_requests == []


def test_alarm_page_text_is_in_both_catalogs() -> None:
    en, zh = catalog("en"), catalog("zh-CN")
    keys = {k for k in en if k.startswith("alarms.") or k == "nav.alarms"}
    assert keys and keys <= set(zh)
