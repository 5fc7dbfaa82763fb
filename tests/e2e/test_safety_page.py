"""The console's safety production pages against a running server: two chemical enterprises, a tank area
holding 500 t of LPG and 100 t of ammonia with 120 people exposed (GB 18218-2018: R = 70, grade 2), a
combustible gas detector and a tank level bound to it, an hour of quiet telemetry and then a gas reading
of 30 %LEL, which opens a yellow warning.

The hazard list must show the unit first with its grade and R; the site plan must fill its rectangle
with the warning's colour and the region map its enterprise's dot; the unit page must set out the
calculation, the points' set-points and their charts; the warning must go through assign and act, be
refused closing while the gas is there (the API's problem detail shown), and close with evidence and an
attachment once the reading drops; a viewer gets no workflow; and everything must read in Chinese.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.test_console import Watch, browser, catalog, console, log_in  # noqa: F401 - fixtures
from tests.helpers import PASSWORD, make_settings, served

from indunet.apps.safety import warnings
from indunet.core.timeutil import now_us
from indunet.platform import accounts, devices, tenants
from indunet.platform.runtime import open_platform
from indunet.security import Principal
from indunet.web.app import create_app

ENGINEER = "engineer@safety-console.example.cn"
VIEWER = "viewer@safety-console.example.cn"
MINUTE_US = 60_000_000
HISTORY = 60  # a minute apart, the last hour
YELLOW, GREY = "#fbc02d", "#bdbdbd"
ENTERPRISES = [
    {
        "name": "jinshan-chem",
        "title": "Jinshan Chemical Co.",
        "code": "91310116MA1FL00015",
        "region": "310116",
        "region_name": "金山区",
        "latitude": 30.72,
        "longitude": 121.34,
    },
    {
        "name": "fengxian-gas",
        "title": "Fengxian Gas Station",
        "code": "91310120MA1HK3R2XP",
        "region": "310120",
        "region_name": "奉贤区",
        "latitude": 30.92,
        "longitude": 121.47,
    },
]
UNITS = [
    {
        "name": "tank-area-b",
        "enterprise": "jinshan-chem",
        "title": "LPG and ammonia tank area",
        "kind": "storage",
        "unit_type": "pressurised_storage",
        "exposed_people": 120,
        "holdings": [{"substance": "lpg", "quantity_t": 500}, {"substance": "ammonia", "quantity_t": 100}],
        "plan": {"x": 10, "y": 20, "width": 60, "height": 40},
    },
    {
        "name": "reactor-1",
        "enterprise": "jinshan-chem",
        "title": "Ammonia reactor",
        "kind": "production",
        "unit_type": "reaction",
        "exposed_people": 120,
        "holdings": [{"substance": "ammonia", "quantity_t": 5}],
        "plan": {"x": 90, "y": 20, "width": 30, "height": 30},
    },
    {
        "name": "lpg-station",
        "enterprise": "fengxian-gas",
        "title": "LPG filling station",
        "kind": "storage",
        "unit_type": "pressurised_storage",
        "exposed_people": 40,
        "holdings": [{"substance": "lpg", "quantity_t": 10}],
        "plan": {"x": 0, "y": 0, "width": 20, "height": 15},
    },
]
POINTS = [
    {"unit": "tank-area-b", "device": "GD-B01", "point": "concentration", "kind": "combustible"},
    {
        "unit": "tank-area-b",
        "device": "T-201",
        "point": "level",
        "kind": "level",
        "measure_unit": "m",
        "low": 1.0,
        "high": 8.0,
        "high_high": 9.0,
    },
]


@dataclass
class Site:
    base_url: str
    tokens: dict[str, str] = field(default_factory=dict)


def send(base_url: str, token: str, device: str, samples: list[tuple[int, str, float]]) -> None:
    """Post `(ts_us, point, value)` samples of a device with the device's own token."""
    records = [{"device": device, "ts": ts // 1000, "values": {point: value}} for ts, point, value in samples]
    response = httpx.post(
        f"{base_url}/api/telemetry", json={"records": records}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and response.json()["accepted"] == len(records), response.text


def wait_for(client: httpx.Client, predicate: Any, what: str, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = predicate(client)
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir: Path = tmp_path_factory.mktemp("safety-console")
    platform = open_platform(make_settings("sqlite", data_dir))
    try:
        tenant = tenants.create_tenant(platform, "safety-console")
        system = Principal.system(tenant["id"])
        accounts.add_user(platform, system, ENGINEER, PASSWORD, "engineer")
        accounts.add_user(platform, system, VIEWER, PASSWORD, "viewer")
        tokens = {
            name: devices.create_device(platform, system, name, type_name)["token"]
            for name, type_name in (("GD-B01", "gas_detector"), ("T-201", "storage_tank"))
        }
        with served(create_app(platform)) as base_url:
            token = httpx.post(
                f"{base_url}/api/auth/token", data={"username": ENGINEER, "password": PASSWORD}
            ).json()["access_token"]
            with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as client:
                for enterprise in ENTERPRISES:
                    response = client.put("/api/safety/enterprises", json=enterprise)
                    assert response.status_code == 200, response.text
                for unit in UNITS:
                    response = client.put("/api/safety/units", json=unit)
                    assert response.status_code == 200, response.text
                for point in POINTS:
                    response = client.post("/api/safety/points", json=point)
                    assert response.status_code == 201, response.text
                now = now_us()
                start = now - HISTORY * MINUTE_US
                send(base_url, tokens["T-201"], "T-201", [
                    (start + i * MINUTE_US, "level", 5.0 + 0.02 * (i % 5)) for i in range(HISTORY + 1)
                ])  # fmt: skip
                send(base_url, tokens["GD-B01"], "GD-B01", [
                    (start + i * MINUTE_US, "concentration", 2.0 + 0.1 * (i % 3)) for i in range(HISTORY)
                ])  # fmt: skip
                send(base_url, tokens["GD-B01"], "GD-B01", [(now, "concentration", 30.0)])
                wait_for(
                    client,
                    lambda c: c.get("/api/safety/warnings", params={"status": "open"}).json()["total"] == 1,
                    "the warning to open",
                )
            yield Site(base_url, tokens)
    finally:
        platform.close()


@pytest.mark.browser
def test_a_viewer_sees_the_warning_but_no_workflow(
    site: Site,
    console: tuple[Any, Watch],  # noqa: F811 - the fixture imported above
) -> None:
    from playwright.sync_api import expect

    page, watch = console
    en = catalog("en")
    log_in(page, site.base_url, VIEWER, PASSWORD)
    page.get_by_role("link", name=en["nav.safety"]).click()
    page.wait_for_url(re.compile(r"#/safety$"))
    row = page.locator('[data-testid="hazard-row"][data-unit="tank-area-b"]')
    row.get_by_test_id("hazard-warning-link").click()
    page.wait_for_url(re.compile(r"#/safety/warnings/1$"))
    expect(page.get_by_test_id("incident-level")).to_have_attribute("data-level", "3")
    expect(page.get_by_test_id("incident-event")).to_have_count(1)
    expect(page.get_by_test_id("incident-actions")).to_be_hidden()
    expect(
        page.locator('[data-testid^="incident-"][data-testid$="-submit"], [data-testid="incident-assign"]')
    ).to_have_count(0)
    assert watch.foreign_requests == []
    assert watch.console_errors == []


@pytest.mark.browser
def test_hazards_map_unit_and_warning_disposal(
    site: Site,
    console: tuple[Any, Watch],  # noqa: F811 - the fixture imported above
) -> None:
    from playwright.sync_api import expect

    page, watch = console
    en, zh = catalog("en"), catalog("zh-CN")
    missing: list[str] = []
    page.on("console", lambda msg: missing.append(msg.text) if "i18n: missing key" in msg.text else None)
    log_in(page, site.base_url, ENGINEER, PASSWORD)

    # ---- the hazard list: the warned unit first, with its grade and R
    page.get_by_role("link", name=en["nav.safety"]).click()
    page.wait_for_url(re.compile(r"#/safety$"))
    expect(page.locator('a[data-nav="safety"]')).to_have_attribute("aria-current", "page")
    expect(page.locator("h1")).to_have_text(en["safety.title"])
    rows = page.get_by_test_id("hazard-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_have_attribute("data-unit", "tank-area-b")
    row = page.locator('[data-testid="hazard-row"][data-unit="tank-area-b"]')
    expect(row).to_have_attribute("data-grade", "2")
    expect(row.get_by_test_id("hazard-grade-label")).to_have_text(en["safety.grade.2"])
    expect(row.get_by_test_id("hazard-grade-r")).to_have_text("70")
    expect(row.get_by_test_id("warning-level")).to_have_attribute("data-level", "3")
    expect(row.get_by_test_id("warning-level")).to_have_text(en["safety.level.3"])
    expect(row.get_by_test_id("hazard-warning-link")).to_have_text("WRN-000001")
    expect(row.get_by_test_id("hazard-enterprise")).to_have_text("Jinshan Chemical Co.")
    quiet = page.locator('[data-testid="hazard-row"][data-unit="reactor-1"]')
    expect(quiet.get_by_test_id("hazard-grade")).to_contain_text(en["safety.grade.none"])

    # ---- the maps: the unit's rectangle and its enterprise's dot in the warning's colour
    rect = page.locator('[data-testid="plan-unit"][data-unit="tank-area-b"] rect')
    expect(rect).to_have_attribute("fill", YELLOW)
    expect(page.locator('[data-testid="plan-unit"][data-unit="reactor-1"] rect')).to_have_attribute(
        "fill", GREY
    )
    expect(page.get_by_test_id("site-plan")).to_have_count(2)
    expect(page.get_by_test_id("region-dot")).to_have_count(2)
    expect(
        page.locator('[data-testid="region-dot"][data-enterprise="jinshan-chem"] circle')
    ).to_have_attribute("fill", YELLOW)
    expect(
        page.locator('[data-testid="region-dot"][data-enterprise="fengxian-gas"] circle')
    ).to_have_attribute("fill", GREY)

    # ---- the safety index and the reports
    card = page.locator('[data-testid="enterprise-card"][data-enterprise="jinshan-chem"]')
    expect(card.get_by_test_id("index-value")).to_have_text(re.compile(r"^\d+(\.\d)?$"))
    expect(card.get_by_test_id("index-grade")).to_have_text(re.compile(r"^[ABCD]$"))
    with page.expect_popup() as opened:
        card.get_by_test_id("enterprise-report-html").click()
    report = opened.value
    expect(report.locator("body")).to_contain_text("Jinshan Chemical Co.")
    report.close()
    with page.expect_download() as downloading:
        card.get_by_test_id("enterprise-report-pdf").click()
    assert downloading.value.suggested_filename == "safety-jinshan-chem.pdf"

    # ---- the unit page: the calculation, the points and their charts, the warning
    page.locator('[data-testid="plan-unit"][data-unit="tank-area-b"]').click()
    page.wait_for_url(re.compile(r"#/safety/units/tank-area-b$"))
    expect(page.get_by_test_id("grading-term")).to_have_count(2)
    expect(
        page.locator('[data-testid="grading-term"][data-substance="lpg"] [data-testid="grading-ratio"]')
    ).to_have_text("10")
    expect(page.get_by_test_id("grading-sum-ratio")).to_have_text("20")
    expect(page.get_by_test_id("grading-sum-weighted")).to_have_text("35")
    expect(page.get_by_test_id("grading-alpha")).to_contain_text("α = 2")
    expect(page.get_by_test_id("grading-r")).to_contain_text("= 70")
    expect(page.get_by_test_id("grading-major")).to_have_attribute("data-major", "true")
    expect(page.get_by_test_id("grading-grade-label")).to_have_text(en["safety.grade.2"])
    gas = page.locator('[data-testid="point-row"][data-device="GD-B01"]')
    expect(gas.get_by_test_id("point-high")).to_have_text("25")
    expect(gas.get_by_test_id("point-high_high")).to_have_text("50")
    expect(gas.get_by_test_id("point-basis")).to_contain_text("GB/T 50493-2019")
    expect(
        page.locator('[data-testid="point-row"][data-device="T-201"] [data-testid="point-low"]')
    ).to_have_text("1")
    charts = page.get_by_test_id("unit-chart")
    expect(charts).to_have_count(2)
    gas_chart = page.locator('[data-testid="unit-chart"][data-device="GD-B01"]')
    expect(gas_chart).to_have_attribute("data-points", re.compile(r"^[1-9]\d*$"))
    # The last hour (from the newest sample) of an hour and a minute of samples; the oldest has left it.
    assert HISTORY - 5 <= int(gas_chart.get_attribute("data-points") or 0) <= HISTORY
    expect(gas_chart.get_by_test_id("chart-setpoints")).to_contain_text("25")
    assert gas_chart.locator("canvas").count() == 1
    warning_box = page.get_by_test_id("unit-warning")
    expect(warning_box.locator('[data-testid="warning-reason"][data-code="gas.first"]')).to_contain_text(
        "GD-B01/concentration"
    )

    # ---- the warning through assign and act; refused closing while the gas is there
    warning_box.get_by_test_id("unit-warning-link").click()
    page.wait_for_url(re.compile(r"#/safety/warnings/1$"))
    status = page.get_by_test_id("incident-status")
    expect(status).to_have_attribute("data-status", "open")
    expect(page.get_by_test_id("incident-close")).to_have_count(0)  # only from "acting"
    page.get_by_test_id("incident-assign").click()
    page.get_by_test_id("incident-assignee-input").fill("Shift lead Wang")
    page.get_by_test_id("incident-assign-submit").click()
    expect(status).to_have_attribute("data-status", "assigned")
    expect(page.get_by_test_id("incident-assignee")).to_have_text("Shift lead Wang")
    page.get_by_test_id("incident-act").click()
    page.get_by_test_id("incident-act-note").fill("Isolated the sphere's outlet valve")
    page.get_by_test_id("incident-act-submit").click()
    expect(status).to_have_attribute("data-status", "acting")

    page.get_by_test_id("incident-close").click()
    form = page.get_by_test_id("incident-close-form")
    expect(form.locator("[data-hold]")).to_be_visible()
    options = form.get_by_test_id("incident-mode-input").locator("option")
    expect(options.filter(has_text="FM-LEAK-FLANGE")).to_have_count(1)
    expect(options.filter(has_text="FM-RUNAWAY")).to_have_count(0)  # a reactor's, not a tank's
    form.get_by_test_id("incident-cause-input").fill("Flange gasket of the outlet line failed")
    form.get_by_test_id("incident-summary-input").fill("Gasket replaced, leak test passed")
    form.get_by_test_id("incident-close-submit").click()
    expect(form.get_by_role("alert")).to_contain_text("still hold")
    expect(status).to_have_attribute("data-status", "acting")

    # ---- the reading drops: the conditions clear on the page and the warning closes with evidence
    send(site.base_url, site.tokens["GD-B01"], "GD-B01", [(now_us(), "concentration", 1.0)])
    expect(page.get_by_test_id("incident-conditions")).to_have_text(en["safety.incident.conditionsCleared"])
    expect(form.locator("[data-hold]")).to_be_hidden()
    expect(form.get_by_test_id("incident-cause-input")).to_have_value(
        "Flange gasket of the outlet line failed"
    )
    form.get_by_test_id("incident-mode-input").select_option("FM-LEAK-FLANGE")
    form.get_by_test_id("incident-measures-input").fill("Isolated, purged, replaced the gasket")
    photo = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    form.get_by_test_id("incident-files-input").set_input_files(
        [{"name": "flange.png", "mimeType": "image/png", "buffer": photo}]
    )
    form.get_by_test_id("incident-close-submit").click()
    expect(status).to_have_attribute("data-status", "closed")
    expect(page.get_by_test_id("incident-failure-mode")).to_have_attribute("data-code", "FM-LEAK-FLANGE")
    expect(page.get_by_test_id("evidence-summary")).to_have_text("Gasket replaced, leak test passed")
    with page.expect_download() as downloading:
        page.get_by_test_id("incident-attachment").click()
    assert downloading.value.suggested_filename == "flange.png"
    assert Path(downloading.value.path()).read_bytes() == photo
    events = page.get_by_test_id("incident-event")
    expect(events).to_have_count(5)
    assert [events.nth(i).get_attribute("data-kind") for i in range(5)] == [
        "opened", "assign", "act", "cleared", "close"
    ]  # fmt: skip
    expect(events.nth(2)).to_contain_text("Isolated the sphere's outlet valve")
    expect(page.get_by_test_id("incident-assign")).to_have_count(0)

    # ---- the list of warnings with its filters
    page.get_by_test_id("safety-tab-warnings").click()
    page.wait_for_url(re.compile(r"#/safety/warnings"))
    expect(page.get_by_test_id("warning-table")).to_contain_text(en["safety.warnings.empty"])
    page.get_by_test_id("warning-status-filter").select_option("closed")
    closed = page.locator('[data-testid="warning-row"][data-number="1"]')
    expect(closed).to_have_attribute("data-status", "closed")
    expect(closed.get_by_test_id("warning-assignee")).to_have_text("Shift lead Wang")
    page.get_by_test_id("warning-enterprise-filter").select_option("fengxian-gas")
    expect(closed).to_have_count(0)

    # ---- in Chinese
    page.get_by_test_id("lang-select").select_option("zh-CN")
    expect(page.locator("h1")).to_have_text(zh["safety.warnings.title"])
    expect(page.locator('a[data-nav="safety"]')).to_have_text(zh["nav.safety"])
    page.get_by_test_id("safety-tab-hazards").click()
    page.wait_for_url(re.compile(r"#/safety$"))
    expect(page.locator("h1")).to_have_text(zh["safety.title"])
    expect(page.get_by_test_id("hazard-table").locator("thead")).to_contain_text(
        zh["safety.hazards.col.grade"]
    )
    expect(row.get_by_test_id("hazard-grade-label")).to_have_text("二级")
    expect(page.locator('[data-testid="plan-unit"][data-unit="tank-area-b"] rect')).to_have_attribute(
        "fill", GREY
    )
    expect(page.get_by_test_id("map-legend")).to_contain_text("黄色预警")
    row.get_by_test_id("hazard-unit").click()
    expect(page.locator("#grading-heading")).to_have_text(zh["safety.grading.title"])
    expect(page.get_by_test_id("grading-major")).to_have_text(zh["safety.grading.majorYes"])
    expect(page.locator('[data-testid="grading-term"][data-substance="lpg"]')).to_contain_text("液化石油气")
    expect(page.locator('[data-testid="unit-history-row"][data-number="1"]')).to_contain_text(
        zh["safety.status.closed"]
    )
    page.goto(f"{site.base_url}/console/#/safety/warnings/1")
    expect(page.locator('[data-testid="incident-event"][data-kind="opened"]')).to_contain_text(
        zh["safety.event.opened"]
    )
    expect(page.locator('[data-testid="incident-event"][data-kind="opened"]')).to_contain_text(
        "达到一级报警设定值"
    )
    expect(page.get_by_test_id("incident-level")).to_have_text(zh["safety.level.3"])

    assert missing == []
    assert watch.foreign_requests == []
    # The browser logs the refused close (409) as a failed load; nothing else may fail.
    assert [e for e in watch.console_errors if "409 (Conflict)" not in e] == []


def test_safety_text_is_in_both_catalogs() -> None:
    en, zh = catalog("en"), catalog("zh-CN")
    keys = {k for k in en if k.startswith("safety.")} | {"nav.safety"}
    assert keys == {k for k in zh if k.startswith("safety.")} | {"nav.safety"}
    # Keys the pages build from API values (not found by the literal-key check in test_console.py).
    for level in (1, 2, 3, 4):
        assert f"safety.level.{level}" in keys and f"safety.grade.{level}" in keys
    for status in warnings.STATUSES:
        assert f"safety.status.{status}" in keys, status
    for action in warnings.ACTIONS:
        assert {f"safety.action.{action}", f"safety.done.{action}", f"safety.event.{action}"} <= keys, action
    for kind in ("opened", "escalated", "cleared", "returned"):
        assert f"safety.event.{kind}" in keys, kind
    for cause in ("unattended", "conditions"):
        assert f"safety.cause.{cause}" in keys, cause
    for code in (
        "gas.first", "gas.second", "gas.trend", "gas.spreading", "process.first", "process.second",
        "process.trend", "combination.gas_heat", "combination.runaway",
    ):  # fmt: skip
        assert f"safety.reason.{code}" in keys, code
    for kind in ("combustible", "toxic", "level", "temperature", "pressure", "flow"):
        assert f"safety.pointKind.{kind}" in keys, kind
    for component in ("hazards", "warnings", "disposal", "monitoring", "failures"):
        assert f"safety.index.{component}" in keys, component
    # Hazard grades are 一级 … 四级 and warning levels 红/橙/黄/蓝色预警: two scales, never one word.
    assert [zh[f"safety.grade.{n}"] for n in (1, 2, 3, 4)] == ["一级", "二级", "三级", "四级"]
    assert [zh[f"safety.level.{n}"] for n in (1, 2, 3, 4)] == ["红色预警", "橙色预警", "黄色预警", "蓝色预警"]
    for key in keys:
        assert set(re.findall(r"{(\w+)}", en[key])) == set(re.findall(r"{(\w+)}", zh[key])), key
