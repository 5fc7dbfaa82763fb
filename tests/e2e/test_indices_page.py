"""The console's Indices page against a running server: three months of device days for two lines,
the chart and the table with fixed-base index and changes, another measure and grouping, and a CSV
download of what is shown."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from tests.e2e.test_console import Watch, browser, console, log_in  # noqa: F401 - fixtures
from tests.helpers import PASSWORD, make_settings, served

from indunet.platform import accounts, devices, tenants
from indunet.platform.runtime import open_platform
from indunet.security import Principal
from indunet.store.device_days import device_days
from indunet.web.app import create_app

EMAIL = "viewer@indices-console.example.cn"
# Working hours per day of each machine, per month: line A works more in February, line B less.
HOURS = {
    "cnc-a": {"2026-01": 10, "2026-02": 12, "2026-03": 11},
    "cnc-b": {"2026-01": 4, "2026-02": 2, "2026-03": 0.5},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("indices-console")
    platform = open_platform(make_settings("sqlite", data_dir))
    try:
        tenant = tenants.create_tenant(platform, "indices-console")
        system = Principal.system(tenant["id"])
        accounts.add_user(platform, system, EMAIL, PASSWORD, "viewer")
        rows = []
        for name, line in (("cnc-a", "A"), ("cnc-b", "B")):
            device = devices.create_device(platform, system, name, "cnc_machine_tool", {"line": line})
            for month, hours in HOURS[name].items():
                for day in range(1, 11):
                    rows.append({
                        "device_id": device["id"], "tenant_id": tenant["id"], "day": f"{month}-{day:02d}",
                        "connected_s": 86_400.0, "working_s": hours * 3600.0, "planned_s": 57_600.0,
                        "produced": hours * 60, "rejected": 0.0, "ideal_s": hours * 3600.0, "energy_kwh": hours * 10,
                        "updated_at": int(time.time() * 1e6),
                    })  # fmt: skip
        with platform.engine.begin() as conn:
            conn.execute(insert(device_days), rows)
        with served(create_app(platform)) as base_url:
            yield base_url
    finally:
        platform.close()


@pytest.mark.browser
def test_indices_page_shows_series_changes_and_downloads_them(
    site: str,
    console: tuple[Any, Watch],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    page, watch = console
    missing: list[str] = []
    page.on("console", lambda msg: missing.append(msg.text) if "i18n: missing key" in msg.text else None)
    log_in(page, site, EMAIL, PASSWORD)
    page.goto(
        f"{site}/console/#/indices?measure=working_hours&by=label:line&period=month&from=2026-01-01&to=2026-03-31"
    )
    rows = page.get_by_test_id("indices-row")
    expect(rows).to_have_count(6)
    february = page.locator('[data-testid="indices-row"][data-group="A"][data-period="2026-02"]')
    expect(february).to_contain_text("12")  # hours per machine
    expect(february).to_contain_text("120")  # index against January (10 h) = 120
    expect(february).to_contain_text("20")  # +20 % on January
    expect(page.get_by_test_id("indices-chart").locator("canvas")).to_have_count(1)

    page.get_by_test_id("measure").select_option("operating_rate")
    page.get_by_test_id("by").select_option("all")
    march = page.locator('[data-testid="indices-row"][data-group="all"][data-period="2026-03"]')
    expect(march.get_by_test_id("indices-value")).to_have_text("50")  # line B under an hour a day
    assert "measure=operating_rate" in page.url

    with page.expect_download() as waiting:
        page.get_by_test_id("indices-csv").click()
    saved = tmp_path / "indices.csv"
    waiting.value.save_as(saved)
    lines = saved.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "measure,group,period,value,index,change,change_yoy"
    assert "operating_rate,all,2026-03,50.0,50.0,-50.0," in lines
    assert missing == [] and watch.foreign_requests == []
