"""``indunet safety``: grading, set-points, a site file loaded, features checked, failures imported and a
report written; bad input exits 2 with a message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader
from tests.test_cli import acme, data_dir, run  # noqa: F401 - fixtures

from indunet.core.config import load_settings
from indunet.demo_safety import ENTERPRISE, site_document
from indunet.platform import devices, tenants
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.sim.tank_farm import TankFarm


def test_grade_prints_the_calculation(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    code, out, _ = run(capsys, "safety", "grade", "--holding", "lpg=500", "--holding", "ammonia=100", "--people", "120")
    assert code == 0
    assert "R = α·Σ(β·q/Q) = 70.00" in out
    assert "grade 2" in out
    code, out, _ = run(capsys, "safety", "grade", "--holding", "methanol=100", "--people", "5", "--json")
    document = json.loads(out)
    assert document["major"] is False and document["level"] is None


def test_grade_refuses_what_the_standard_does_not_list(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    code, _, err = run(capsys, "safety", "grade", "--holding", "unobtainium=5", "--people", "1")
    assert code == 2 and "unobtainium" in err
    code, _, err = run(capsys, "safety", "grade", "--holding", "lpg", "--people", "1")
    assert code == 2


def test_setpoints_in_chinese(data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("INDUNET_LANGUAGE", "zh-CN")
    code, out, _ = run(capsys, "safety", "setpoints", "--kind", "combustible")
    assert code == 0 and "一级报警 25 %LEL" in out and "二级报警 50 %LEL" in out


def test_site_file_report_and_records(acme: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    farm = TankFarm(seed=1)
    platform = Platform(load_settings())
    try:
        tenant = tenants.get_tenant_by_name(platform, "acme")
        principal = Principal.system(tenant["id"])
        for device in farm.devices():
            devices.create_device(platform, principal, device.name, device.type_name, attributes=device.attributes)
    finally:
        platform.close()
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(site_document(farm), allow_unicode=True), encoding="utf-8")
    code, out, err = run(capsys, "safety", "load", "--tenant", "acme", str(site))
    assert code == 0, err
    assert "2 enterprises, 4 units, 29 new monitoring points" in out
    code, out, _ = run(capsys, "safety", "load", "--tenant", "acme", str(site))
    assert "0 new monitoring points" in out  # loading again changes nothing

    records = tmp_path / "failures.json"
    earlier = {
        "unit": "tank-area-B",
        "mode": "FM-LEAK-VALVE",
        "title": "Ammonia valve packing leak",
        "occurred_at": "2026-03-02T10:00:00+08:00",
        "ref": "EHS-2026-031",
    }
    records.write_text(json.dumps([earlier]), encoding="utf-8")
    assert "1 failure records added" in run(capsys, "safety", "failures", "import", "--tenant", "acme", str(records))[1]
    assert "0 failure records added, 1 already known" in run(
        capsys, "safety", "failures", "import", "--tenant", "acme", str(records)
    )[1]
    records.write_text(json.dumps([{**earlier, "unit": "nowhere", "ref": "x"}]), encoding="utf-8")
    assert run(capsys, "safety", "failures", "import", "--tenant", "acme", str(records))[0] == 2

    pdf = tmp_path / "report.pdf"
    code, _, err = run(
        capsys, "safety", "report", "--tenant", "acme", "--enterprise", ENTERPRISE, "--format", "pdf", "--out", str(pdf)
    )
    assert code == 0, err
    assert len(PdfReader(pdf).pages) >= 1


def test_feature_library_check(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    good = tmp_path / "library.yaml"
    good.write_text(
        "version: '1.0'\nfeatures:\n  - id: hot\n    unit_types: ['*']\n    title: {en: Hot}\n"
        "    when: temperature > 80\n    level: 3\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "safety", "features", "check", str(good))
    assert code == 0 and "1 features" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("temperature > 80", "__import__('os')"), encoding="utf-8")
    code, _, err = run(capsys, "safety", "features", "check", str(bad))
    assert code == 2 and "hot" in err
