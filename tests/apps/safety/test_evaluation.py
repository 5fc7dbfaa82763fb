"""Evaluation over REST: the safety index with its components, the enterprise's monthly report and the
region's roll-up as JSON, HTML and PDF (read back page by page), and retention keeping monitoring
records at least 30 days."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from tests.helpers import Tenant, new_tenant

from indunet.apps.safety import evaluation
from indunet.core.timeutil import now_us
from indunet.demo_safety import ENTERPRISE, SECOND_ENTERPRISE, _history, load_site, site_document
from indunet.platform import devices, telemetry
from indunet.platform.runtime import Platform
from indunet.platform.series import series_ids
from indunet.platform.telemetry import apply_retention
from indunet.platform.tenants import update_tenant
from indunet.security import Principal
from indunet.sim.tank_farm import TankFarm

DAY_US = 86_400_000_000


@pytest.fixture(scope="module")
def site(platform: Platform, client: TestClient) -> dict[str, Any]:
    tenant = new_tenant(platform, client, "evaluation")
    principal = Principal.system(tenant.id)
    farm = TankFarm(seed=5, start_ts_us=now_us() - 600_000_000)
    for device in farm.devices():
        devices.create_device(
            platform, principal, device.name, device.type_name, attributes=device.attributes
        )
    load_site(platform, principal, site_document(farm))
    _history(platform, tenant.id)
    return {"tenant": tenant, "principal": principal, "farm": farm}


def get(client: TestClient, tenant: Tenant, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers=tenant.viewer)
    assert response.status_code == 200, response.text
    return response


def test_index_has_five_weighted_components(client: TestClient, site: dict[str, Any]) -> None:
    index = get(client, site["tenant"], f"/api/safety/index/{ENTERPRISE}").json()
    components = {c["key"]: c for c in index["components"]}
    assert set(components) == {"hazards", "warnings", "disposal", "monitoring", "failures"}
    assert sum(c["weight"] for c in components.values()) == pytest.approx(1.0)
    # Two major hazard sources, grade 3 (tank area A) and grade 2 (tank area B): 100 - 10 - 20.
    assert components["hazards"]["score"] == 70.0
    weighted = sum(c["weight"] * c["score"] for c in components.values())
    assert index["value"] == pytest.approx(weighted, abs=0.11)
    assert index["grade"] == evaluation.grade_of(index["value"])


def test_monthly_report_counts_the_months_incidents(client: TestClient, site: dict[str, Any]) -> None:
    end = (date.today() + timedelta(days=1)).isoformat()
    report = get(
        client, site["tenant"], f"/api/safety/reports/enterprises/{ENTERPRISE}", format="json", end=end
    ).json()
    assert len(report["index_history"]) == 30
    assert len(report["warnings_by_day"]) == 30
    # The demo's month of history at this enterprise: seven incidents, one in each of levels 1 and 2.
    assert sum(report["warnings_by_level"].values()) == len(report["incidents"]) == 7
    assert report["warnings_by_level"]["1"] == 1
    assert [h["unit"] for h in report["hazards"]][:2] == ["tank-area-B", "tank-area-A"]
    assert report["hazards"][0]["level"] == 2 and report["hazards"][0]["terms"]
    assert {f["mode"] for f in report["failures"]} >= {"FM-LEAK-FLANGE", "FM-COOLING-LOSS"}
    # The day of the red incident weighs most on the index.
    worst = min(report["index_history"], key=lambda d: d["value"])
    red_day = next(d["date"] for d in report["warnings_by_day"] if d["1"])
    assert worst["date"] == red_day


def test_reports_render_as_pdf_pages_and_html(client: TestClient, site: dict[str, Any]) -> None:
    tenant = site["tenant"]
    pdf = get(client, tenant, f"/api/safety/reports/enterprises/{ENTERPRISE}", format="pdf", lang="zh-CN")
    assert pdf.headers["content-type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    assert len(pages) >= 2
    first = pages[0].extract_text()
    assert "金山石化储运有限公司" in first
    html = get(client, tenant, f"/api/safety/reports/enterprises/{ENTERPRISE}", format="html").text
    assert html.count("<svg") >= 2 and "tank-area-B" in html


def test_region_roll_up_puts_the_worst_enterprise_first(client: TestClient, site: dict[str, Any]) -> None:
    tenant = site["tenant"]
    report = get(client, tenant, "/api/safety/reports/regions/3101", format="json").json()
    names = [e["name"] for e in report["enterprises"]]
    assert len(names) == 2
    indices = [e["index"] for e in report["enterprises"]]
    assert indices == sorted(indices)
    jinshan = next(e for e in report["enterprises"] if e["code"] == "91310116MA1FL00015")
    assert jinshan["major_hazards"] == {"1": 0, "2": 1, "3": 1, "4": 0}
    county = get(client, tenant, "/api/safety/reports/regions/310120", format="json").json()
    assert [e["name"] for e in county["enterprises"]] == [n for n in names if "Fengxian" in n]
    pdf = get(client, tenant, "/api/safety/reports/regions/31", format="pdf")
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) >= 2
    assert SECOND_ENTERPRISE  # the demo's second enterprise is what makes this a comparison


def test_bad_periods_and_regions_are_refused(client: TestClient, site: dict[str, Any]) -> None:
    tenant = site["tenant"]
    response = client.get("/api/safety/reports/regions/3x", headers=tenant.viewer)
    assert response.status_code == 422
    response = client.get(
        f"/api/safety/reports/enterprises/{ENTERPRISE}", params={"end": "2026-13-40"}, headers=tenant.viewer
    )
    assert response.status_code == 422


def test_monitoring_records_outlive_a_short_retention(platform: Platform, site: dict[str, Any]) -> None:
    tenant, principal = site["tenant"], site["principal"]
    update_tenant(platform, Principal.system(tenant.id), {"retention_days": 7})
    old = (now_us() - 20 * DAY_US) // 1000 * 1000  # telemetry timestamps are milliseconds
    ancient = (now_us() - 40 * DAY_US) // 1000 * 1000
    records = [
        {"device": name, "ts": ts // 1000, "values": {"concentration": 1.0}}
        for name in ("GD-A01",)
        for ts in (old, ancient)
    ]
    records += [{"device": "R-401", "ts": ts // 1000, "values": {"agitator_speed": 120.0}} for ts in (old,)]
    telemetry.ingest(platform, principal, records)
    apply_retention(platform)
    gas = devices.resolve(platform, tenant.id, "GD-A01")
    reactor = devices.resolve(platform, tenant.id, "R-401")
    sid = series_ids(platform, gas, ["concentration"], create=False)["concentration"]
    unwatched = series_ids(platform, reactor, ["agitator_speed"], create=False)["agitator_speed"]
    kept = [p[0] for p in platform.timeseries.raw(sid, ancient - 1, now_us())]
    assert old in kept and ancient not in kept  # the 30-day floor, not the tenant's 7 days
    assert platform.timeseries.raw(unwatched, old - 1, old + 1) == []  # not a monitoring point: 7 days
