"""Equipment indices through the API: telemetry posted as devices would, rolled up into device days,
read back per group and period, and exported; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from tests.helpers import Tenant, new_tenant

from indunet.platform import devices
from indunet.platform.runtime import Platform
from indunet.security import Principal

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def plant(platform: Platform, client: TestClient) -> Tenant:
    tenant = new_tenant(platform, client, "indices")
    devices.create_device(platform, Principal.system(tenant.id), "cnc-02", "cnc_machine_tool", {"line": "B"})
    return tenant


def _ms(day: datetime, hour: float) -> int:
    return int((day + timedelta(hours=hour)).timestamp() * 1000)


def test_a_days_work_becomes_operating_rate_hours_and_oee(client: TestClient, plant: Tenant) -> None:
    day = datetime.now(ZONE).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    records = []
    # cnc-01 (line A) cuts from 08:00 to 12:00, one part a minute, then idles an hour.
    for minute in range(300):
        cutting = minute < 240
        values = {
            "spindle_speed": 1200.0 if cutting else 0.0,
            "part_count": float(min(minute, 240)),
            "energy_total": 5000.0 + 0.2 * min(minute, 240) + 0.05 * max(minute - 240, 0),
        }
        records.append({"device": "cnc-01", "ts": _ms(day, 8 + minute / 60), "values": values})
    # cnc-02 (line B) cuts for half an hour only: under the hour a day that makes a machine operating.
    for minute in range(40):
        values = {"spindle_speed": 900.0 if minute < 30 else 0.0}
        records.append({"device": "cnc-02", "ts": _ms(day, 14 + minute / 60), "values": values})
    posted = client.post("/api/telemetry", json={"records": records}, headers=plant.engineer)
    assert posted.json()["rejected_count"] == 0, posted.text  # accepted counts points
    span = {"first": day.date().isoformat(), "last": day.date().isoformat()}
    assert client.post("/api/indices/rollup", json=span, headers=plant.viewer).status_code == 403
    rolled = client.post("/api/indices/rollup", json=span, headers=plant.engineer)
    assert rolled.status_code == 200 and rolled.json()["device_days"] == 2, rolled.text

    def ask(**params: str) -> list[dict[str, object]]:
        query = {"from": span["first"], "to": span["last"], "period": "day", **params}
        answer = client.get("/api/indices", params=query, headers=plant.viewer)
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]  # type: ignore[no-any-return]

    assert [r["value"] for r in ask(measure="operating_rate")] == [50.0]
    assert {r["group"]: r["value"] for r in ask(measure="operating_rate", by="label:line")} == {
        "A": 100.0,
        "B": 0.0,
    }
    assert {r["group"]: r["value"] for r in ask(measure="working_hours", by="device")} == {
        "cnc-01": 4.0,
        "cnc-02": 0.5,
    }
    # cnc-01: 4 of 16 planned hours, 240 parts of 60 s ideal in 4 h, none rejected.
    oee = {
        m: ask(measure=m, by="device")[0]["value"] for m in ("availability", "performance", "quality", "oee")
    }
    assert oee == {"availability": 25.0, "performance": 100.0, "quality": 100.0, "oee": 25.0}
    # Its meter counted 48 kWh cutting and about 3 idling: a fifth of a kWh per part, as made.
    per_part = ask(measure="energy_per_part", by="device")[0]["value"]
    assert per_part == pytest.approx((48 + 0.05 * 59) / 240, abs=1e-4)  # rounded to 4 places

    csv = client.get("/api/indices", params={**span, "from": span["first"], "to": span["last"], "period": "day",
                                              "by": "device", "measure": "working_hours", "format": "csv"},
                     headers=plant.viewer)  # fmt: skip
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "measure,group,period,value,index,change,change_yoy"
    assert f"working_hours,cnc-01,{span['first']},4.0,100.0,," in csv.text
    parquet = client.get("/api/indices", params={"from": span["first"], "to": span["last"], "format": "parquet"},
                         headers=plant.viewer)  # fmt: skip
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column("value").to_pylist() == [50.0]

    bad = client.get("/api/indices", params={"by": "colour"}, headers=plant.viewer)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    too_long = client.get(
        "/api/indices", params={"from": "2020-01-01", "to": "2026-01-01"}, headers=plant.viewer
    )
    assert too_long.status_code == 422


def test_the_command_line_rolls_up_and_shows(
    platform: Platform,
    client: TestClient,
    plant: Tenant,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from indunet.cli import main

    day = datetime.now(ZONE).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    records = [
        {
            "device": "cnc-01",
            "ts": _ms(day, 9 + m / 60),
            "values": {"spindle_speed": 800.0 if m < 90 else 0.0},
        }
        for m in range(100)
    ]
    assert client.post("/api/telemetry", json={"records": records}, headers=plant.engineer).status_code == 200
    settings = platform.settings
    for name, value in (("DATA_DIR", str(settings.data_dir)), ("DATABASE_URL", settings.database_url),
                        ("DATABASE_SCHEMA", settings.database_schema)):  # fmt: skip
        monkeypatch.setenv(f"INDUNET_{name}", value)
    when = day.date().isoformat()
    args = ["--tenant", plant.name, "--from", when, "--to", when]
    assert main(["indices", "rollup", *args]) == 0
    assert "2 device days" in capsys.readouterr().out
    assert main(["indices", "show", *args, "--measure", "working_hours", "--by", "device",
                 "--period", "day", "--format", "csv"]) == 0  # fmt: skip
    assert f"working_hours,cnc-01,{when},1.5,100.0,," in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # argparse: the usage and exit code 2
        main(["indices", "rollup", *args[:2], "--from", "someday", "--to", when])
    assert refused.value.code == 2 and "not a day" in capsys.readouterr().err
