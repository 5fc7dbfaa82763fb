"""The console's predictive maintenance against a running server: a pump with a day and a half of
remaining-life predictions and an hour of anomaly scores, a work order its prediction opened, and an
anomaly detector trained on a healthy day of its telemetry.

The device page must show the health panel (the remaining life inside its interval band, the health
and the anomaly score, the open work order); the maintenance page must carry the work order through
assign, start and complete (its history showing each step) and promote the candidate model; and the
page must read in Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from tests.e2e.test_console import Watch, browser, catalog, console, log_in  # noqa: F401 - fixtures
from tests.helpers import PASSWORD, make_settings, served

from indunet.apps.phm import work_orders
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform import accounts, devices, tenants
from indunet.platform.runtime import open_platform
from indunet.security import Principal
from indunet.web.app import create_app

EMAIL = "engineer@maintenance-console.example.cn"
PUMP = "pump-e2e"
MODEL = "pump-e2e-health"
POINTS = ["flow", "discharge_pressure", "motor_current", "bearing_temperature", "vibration"]
MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
PREDICTIONS = 36  # hourly, the last one 20 h of remaining life
SCORES = 60  # a minute apart, over the last hour


@dataclass
class Site:
    base_url: str
    pump_id: str


def healthy_rows(n: int, seed: int) -> np.ndarray:
    """A pump's healthy minutes: flow, pressure, current and temperature follow one slow duty cycle."""
    rng = np.random.default_rng(seed)
    duty = np.sin(np.arange(n) * 2 * np.pi / 1440) + np.cumsum(rng.normal(0, 0.02, n))
    return np.column_stack(
        [
            200 + 40 * duty + rng.normal(0, 2, n),
            6 - 0.8 * duty + rng.normal(0, 0.05, n),
            80 + 12 * duty + rng.normal(0, 0.6, n),
            55 + 3 * duty + rng.normal(0, 0.3, n),
            rng.normal(2.0, 0.15, n).clip(0.1),
        ]
    )


def send(client: httpx.Client, records: list[dict[str, Any]]) -> None:
    for first in range(0, len(records), 500):
        response = client.post("/api/telemetry", json=records[first : first + 500])
        assert response.status_code == 200 and not response.json()["rejected"], response.text


def fill(client: httpx.Client, now: int) -> None:
    """A healthy day three days ago, the predictions of the last 36 hours and the last hour's scores."""
    start = now - 3 * 86_400_000_000
    start -= start % MINUTE_US
    healthy = healthy_rows(1440, seed=7)
    send(client, [
        {"device": PUMP, "ts": start + i * MINUTE_US, "values": dict(zip(POINTS, map(float, row), strict=True))}
        for i, row in enumerate(healthy)
    ])  # fmt: skip
    predictions = []
    for i in range(PREDICTIONS):
        rul = 20.0 + 2.0 * (PREDICTIONS - 1 - i)
        predictions.append({
            "device": PUMP, "ts": now - (PREDICTIONS - i) * HOUR_US,
            "values": {"rul": rul, "rul_lower": rul - 10, "rul_upper": rul + 12, "health": rul / 200},
        })  # fmt: skip
    send(client, predictions)
    send(client, [
        {"device": PUMP, "ts": now - (SCORES - i) * MINUTE_US, "values": {"phm_anomaly": 0.2 + i / SCORES}}
        for i in range(SCORES)
    ])  # fmt: skip
    trained = client.post("/api/phm/models", json={
        "name": MODEL, "device": PUMP, "points": POINTS,
        "start": to_rfc3339(start), "end": to_rfc3339(start + 1440 * MINUTE_US),
    })  # fmt: skip
    assert trained.status_code == 201, trained.text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir: Path = tmp_path_factory.mktemp("maintenance-console")
    platform = open_platform(make_settings("sqlite", data_dir))
    try:
        tenant = tenants.create_tenant(platform, "maintenance-console")
        system = Principal.system(tenant["id"])
        accounts.add_user(platform, system, EMAIL, PASSWORD, "engineer")
        pump = devices.create_device(platform, system, PUMP, "centrifugal_pump", {"line": "water"})
        with served(create_app(platform)) as base_url:
            token = httpx.post(
                f"{base_url}/api/auth/token", data={"username": EMAIL, "password": PASSWORD}
            ).json()["access_token"]
            with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as client:
                now = now_us()
                fill(client, now)
            order, new = work_orders.for_prediction(
                platform, tenant["id"], pump["id"], "pump-wear v1", 20.0, 10.0, 24.0, now - HOUR_US, 3600.0
            )
            assert new and order["reference"] == "WO-000001"
            yield Site(base_url, pump["id"])
    finally:
        platform.close()


@pytest.mark.browser
def test_health_panel_work_order_lifecycle_and_promotion(
    site: Site,
    console: tuple[Any, Watch],  # noqa: F811 - the fixture imported above
) -> None:
    from playwright.sync_api import expect

    page, watch = console
    en, zh = catalog("en"), catalog("zh-CN")
    missing: list[str] = []
    page.on("console", lambda msg: missing.append(msg.text) if "i18n: missing key" in msg.text else None)
    log_in(page, site.base_url, EMAIL, PASSWORD)

    # ---- the device page's health panel
    page.goto(f"{site.base_url}/console/#/devices/{site.pump_id}")
    panel = page.get_by_test_id("health-panel")
    expect(panel.locator("#health-title")).to_have_text(en["health.title"])
    rul = page.get_by_test_id("health-rul-chart")
    expect(rul).to_have_attribute("data-points", str(PREDICTIONS))
    expect(rul).to_have_attribute("data-band-points", str(PREDICTIONS))  # every prediction has its interval
    assert rul.locator("canvas").count() == 1
    expect(page.get_by_test_id("health-value")).to_have_text("10 %")  # health 0.1
    expect(page.get_by_test_id("health-rul")).to_have_text("20 h (10–32 h)")
    expect(page.get_by_test_id("health-anomaly-chart")).to_have_attribute("data-points", str(SCORES))
    expect(page.get_by_test_id("health-work-order-link")).to_have_text("WO-000001")
    # The interval's ends are in the band, not charted alone; the other points still are.
    expect(page.get_by_test_id("chart-flow")).to_be_visible()
    expect(page.locator('[data-testid="chart-rul_lower"], [data-testid="chart-rul_upper"]')).to_have_count(0)
    health_box = panel.bounding_box()
    charts_box = page.locator("#charts-title").bounding_box()
    assert health_box is not None and charts_box is not None and health_box["y"] < charts_box["y"]

    # ---- the work order, through its lifecycle
    page.get_by_role("link", name=en["nav.maintenance"]).click()
    page.wait_for_url(re.compile(r"#/maintenance"))
    expect(page.locator('a[data-nav="maintenance"]')).to_have_attribute("aria-current", "page")
    row = page.locator('[data-testid="wo-row"][data-number="1"]')
    expect(row).to_have_attribute("data-status", "open")
    expect(row).to_have_attribute("data-source", "prediction")
    expect(row.get_by_test_id("wo-reference")).to_have_text("WO-000001")
    expect(row.get_by_test_id("wo-device")).to_have_text(PUMP)
    expect(row.get_by_test_id("wo-device")).to_have_attribute("href", f"#/devices/{site.pump_id}")
    expect(row.get_by_test_id("wo-priority")).to_have_attribute("data-value", "high")
    expect(row.get_by_test_id("wo-start")).to_have_count(0)  # an open order is assigned first

    row.get_by_test_id("wo-toggle").click()
    detail = page.locator('[data-testid="wo-detail"][data-number="1"]')
    expect(detail.get_by_test_id("wo-reason")).to_contain_text("pump-wear v1")
    expect(detail.get_by_test_id("wo-event")).to_have_count(1)

    row.get_by_test_id("wo-assign").click()
    row.get_by_test_id("wo-assign-input").fill("Li Wei")
    row.get_by_test_id("wo-assign-confirm").click()
    expect(row).to_have_attribute("data-status", "assigned")
    expect(row.get_by_test_id("wo-assignee")).to_have_text("Li Wei")

    row.get_by_test_id("wo-start").click()
    expect(row).to_have_attribute("data-status", "in_progress")

    row.get_by_test_id("wo-complete").click()
    row.get_by_test_id("wo-complete-confirm").click()  # no resolution: the form does not send
    expect(row.get_by_test_id("wo-complete-input")).to_be_visible()
    expect(row).to_have_attribute("data-status", "in_progress")
    row.get_by_test_id("wo-complete-input").fill("Replaced the drive-end bearing")
    row.get_by_test_id("wo-complete-confirm").click()
    expect(row).to_have_count(0)  # done orders leave the default "not closed" view

    page.get_by_test_id("wo-status").select_option("done")
    expect(row).to_have_attribute("data-status", "done")
    events = detail.get_by_test_id("wo-event")  # the details stay open across the refresh
    expect(events).to_have_count(4)
    assert [events.nth(i).get_attribute("data-status") for i in range(4)] == [
        "open", "assigned", "in_progress", "done"
    ]  # fmt: skip
    expect(events.nth(3)).to_contain_text("Replaced the drive-end bearing")
    expect(detail.get_by_test_id("wo-reason")).to_contain_text("Replaced the drive-end bearing")
    expect(row.get_by_test_id("wo-actions").locator("button")).to_have_count(0)

    # ---- an order opened by hand, refused a second time, then cancelled with its reason
    page.get_by_test_id("wo-status").select_option("unclosed")
    page.get_by_test_id("wo-new").click()
    page.get_by_test_id("wo-new-device").fill(PUMP)
    page.get_by_test_id("wo-new-title").fill("Check the coupling alignment")
    page.get_by_test_id("wo-new-priority").select_option("low")
    page.get_by_test_id("wo-new-submit").click()
    expect(page.get_by_test_id("wo-new-form")).to_be_hidden()
    manual = page.locator('[data-testid="wo-row"][data-number="2"]')
    expect(manual).to_have_attribute("data-source", "manual")
    expect(manual.get_by_test_id("wo-title")).to_have_text("Check the coupling alignment")
    page.get_by_test_id("wo-new").click()
    page.get_by_test_id("wo-new-device").fill(PUMP)
    page.get_by_test_id("wo-new-title").fill("Again")
    page.get_by_test_id("wo-new-submit").click()
    expect(page.get_by_test_id("wo-new-form").get_by_role("alert")).to_contain_text(
        "unclosed manual work order"
    )
    page.get_by_test_id("wo-new").click()  # closes the form
    manual.get_by_test_id("wo-cancel").click()
    manual.get_by_test_id("wo-cancel-input").fill("Aligned during the bearing change")
    manual.get_by_test_id("wo-cancel-confirm").click()
    expect(manual).to_have_count(0)
    expect(page.get_by_test_id("wo-row")).to_have_count(0)

    # ---- the candidate model into production
    model = page.locator(f'[data-testid="model-row"][data-name="{MODEL}"][data-version="1"]')
    expect(model).to_have_attribute("data-stage", "candidate")
    expect(model.get_by_test_id("model-metrics")).to_contain_text("1,440")  # rows of its healthy day
    model.get_by_test_id("model-promote").click()
    expect(model).to_have_attribute("data-stage", "production")
    expect(model.get_by_test_id("model-stage")).to_have_text(en["maintenance.stage.production"])
    expect(model.get_by_test_id("model-promote")).to_have_count(0)
    expect(model.get_by_test_id("model-archive")).to_have_count(1)

    # ---- in Chinese
    page.get_by_test_id("lang-select").select_option("zh-CN")
    expect(page.locator("h1")).to_have_text(zh["maintenance.title"])
    expect(page.locator("#wo-heading")).to_have_text(zh["maintenance.workOrders"])
    expect(page.locator("#models-heading")).to_have_text(zh["maintenance.models.title"])
    expect(page.locator('a[data-nav="maintenance"]')).to_have_text(zh["nav.maintenance"])
    expect(page.get_by_test_id("wo-table").locator("thead")).to_contain_text(zh["maintenance.col.assignee"])
    expect(model.get_by_test_id("model-stage")).to_have_text(zh["maintenance.stage.production"])

    assert missing == []
    assert watch.foreign_requests == []
    # The browser logs the refused second order (409) as a failed load; nothing else may fail.
    assert [e for e in watch.console_errors if "409 (Conflict)" not in e] == []


def test_maintenance_text_is_in_both_catalogs() -> None:
    en, zh = catalog("en"), catalog("zh-CN")
    prefixes = ("maintenance.", "health.")
    keys = {k for k in en if k.startswith(prefixes)}
    assert keys == {k for k in zh if k.startswith(prefixes)}
    # Keys the pages build from API values (not found by the literal-key check in test_console.py).
    for status in (*work_orders.STATUSES, "unclosed", "all"):
        assert f"maintenance.status.{status}" in keys, status
    for action in work_orders.ACTIONS:
        assert f"maintenance.step.{action}" in keys, action
    for value in ("low", "medium", "high", "urgent"):
        assert f"maintenance.priority.{value}" in keys, value
    for value in ("prediction", "manual"):
        assert f"maintenance.source.{value}" in keys, value
    for value in ("pca", "stream", "rul"):
        assert f"maintenance.kind.{value}" in keys, value
    for value in ("candidate", "production", "archived"):
        assert f"maintenance.stage.{value}" in keys, value
    for key in ("ask.assignee", "ask.resolution", "ask.reason", "models.promote", "models.archive"):
        assert f"maintenance.{key}" in keys, key
    assert {"health.lower", "health.upper"} <= keys
    for key in keys:
        assert set(re.findall(r"{(\w+)}", en[key])) == set(re.findall(r"{(\w+)}", zh[key])), key
