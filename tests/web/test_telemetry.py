"""Telemetry over HTTP: per-point validation, JSON and CSV bodies, limits, queries and exports."""

from __future__ import annotations

import io
import time
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from tests.helpers import Tenant, new_tenant

from indunet.platform.runtime import Platform


@pytest.fixture(scope="module")
def plant(platform: Platform, client: TestClient) -> Tenant:
    """A tenant of this module's own, so counts are not disturbed by other tests."""
    return new_tenant(platform, client, "telemetry")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _series(client: TestClient, plant: Tenant, point: str, **params: Any) -> list[list[Any]]:
    response = client.get(
        f"/api/telemetry/{plant.device['id']}", params={"point": point, **params}, headers=plant.viewer
    )
    assert response.status_code == 200, response.text
    return response.json()["series"][point]  # type: ignore[no-any-return]


def test_bad_points_are_rejected_with_reasons_and_the_rest_is_stored(
    client: TestClient, plant: Tenant
) -> None:
    ts = _now_ms() - 60_000
    body = {
        "records": [
            {
                "device": "cnc-01",
                "ts": ts,
                "values": {
                    "spindle_speed": 8000.5,
                    "tool_number": 7,
                    "alarm_active": False,
                    "program_name": "O1001",
                    "no_such_point": 1,
                    "feed_rate": "fast",
                    "spindle_load": 250.0,
                    "tool_number_typo": 3,
                },
            },
            {"device": "cnc-01", "ts": ts + 1000, "values": {"tool_number": 2.5}},
            {"device": "ghost-machine", "ts": ts, "values": {"spindle_speed": 1}},
            {"device": "cnc-01", "ts": "yesterday", "values": {"spindle_speed": 1}},
        ]
    }
    response = client.post("/api/telemetry", json=body, headers=plant.engineer)
    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 4
    reasons = {(r.get("point"), r["reason"]) for r in result["rejected"]}
    assert reasons == {
        ("no_such_point", "unknown_point"),
        ("tool_number_typo", "unknown_point"),
        ("feed_rate", "wrong_type"),
        ("spindle_load", "out_of_range"),
        ("tool_number", "wrong_type"),
        (None, "unknown_device"),
        (None, "bad_timestamp"),
    }
    assert _series(client, plant, "spindle_speed", start=ts - 1)[-1][1] == 8000.5
    assert _series(client, plant, "tool_number", start=ts - 1) == [
        [_series(client, plant, "tool_number", start=ts - 1)[0][0], 7]
    ]
    assert _series(client, plant, "alarm_active", start=ts - 1)[0][1] is False
    assert _series(client, plant, "program_name", start=ts - 1)[0][1] == "O1001"
    assert _series(client, plant, "spindle_load", start=ts - 1) == []


def test_nan_and_infinity_are_not_stored(client: TestClient, plant: Tenant) -> None:
    body = b'{"device": "cnc-01", "values": {"spindle_speed": NaN}}'
    response = client.post(
        "/api/telemetry", content=body, headers={**plant.engineer, "Content-Type": "application/json"}
    )
    # NaN is not JSON: the body as a whole is malformed.
    assert response.status_code == 422
    overflow = b'{"device": "cnc-01", "values": {"spindle_speed": 1e400}}'
    big = client.post(
        "/api/telemetry", content=overflow, headers={**plant.engineer, "Content-Type": "application/json"}
    )
    # Either refused as malformed JSON or rejected as not finite; never stored as infinity.
    assert big.status_code == 422 or big.json()["rejected"][0]["reason"] == "not_finite"


def test_thingsboard_shapes_with_a_device_token(client: TestClient, plant: Tenant) -> None:
    auth = plant.device_auth
    flat = client.post("/api/telemetry", json={"spindle_override": 90}, headers=auth)
    stamped = client.post(
        "/api/telemetry", json={"ts": _now_ms(), "values": {"feed_override": 80}}, headers=auth
    )
    listed = client.post(
        "/api/telemetry", json=[{"ts": _now_ms(), "values": {"feed_override": 81}}], headers=auth
    )
    assert [r.json()["accepted"] for r in (flat, stamped, listed)] == [1, 1, 1]
    assert client.get(f"/api/devices/{plant.device['id']}", headers=plant.viewer).json()["status"] == "online"


def test_csv_long_and_wide_forms(client: TestClient, plant: Tenant) -> None:
    ts = _now_ms() - 120_000
    long_form = (
        f"device,ts,point,value\ncnc-01,{ts},coolant_temperature,21.5\ncnc-01,{ts},program_name,O2002\n"
    )
    wide_form = f"device,ts,coolant_temperature,tool_number\ncnc-01,{ts + 1},22.0,\ncnc-01,{ts + 2},22.5,12\n"
    for body, accepted in ((long_form, 2), (wide_form, 3)):
        response = client.post(
            "/api/telemetry", content=body, headers={**plant.engineer, "Content-Type": "text/csv"}
        )
        assert response.status_code == 200
        assert response.json() == {"accepted": accepted, "rejected": [], "rejected_count": 0}
    values = [v for _, v in _series(client, plant, "coolant_temperature", start=ts - 1, end=ts + 3)]
    assert values == [21.5, 22.0, 22.5]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe not utf-8",
        b"device,value\ncnc-01,1\n",  # no ts column
        b'device,ts,spindle_speed\ncnc-01,1,"unterminated\n',
        b"device,ts,ts\ncnc-01,1,2\n",
        b"device,ts\x00,x\n",
    ],
    ids=["empty", "not-utf8", "no-ts", "open-quote", "duplicate-column", "nul"],
)
def test_malformed_csv_is_refused_whole(client: TestClient, plant: Tenant, body: bytes) -> None:
    response = client.post(
        "/api/telemetry", content=body, headers={**plant.engineer, "Content-Type": "text/csv"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 422


def test_csv_row_of_wrong_width_is_rejected_alone(client: TestClient, plant: Tenant) -> None:
    ts = _now_ms()
    body = f"device,ts,spindle_speed\ncnc-01,{ts},100\ncnc-01,{ts + 1},100,extra\ncnc-01,{ts + 2},101\n"
    result = client.post(
        "/api/telemetry", content=body, headers={**plant.engineer, "Content-Type": "text/csv"}
    ).json()
    assert result["accepted"] == 2
    assert result["rejected"] == [
        {"line": 3, "reason": "bad_row", "message": "line 3: 4 fields, header has 3"}
    ]


def test_oversized_body_is_refused_with_413(client: TestClient, platform: Platform, plant: Tenant) -> None:
    too_big = b"x" * (platform.settings.max_body_bytes + 1)
    response = client.post(
        "/api/telemetry", content=too_big, headers={**plant.engineer, "Content-Type": "text/csv"}
    )
    assert response.status_code == 413
    assert response.json()["type"].endswith("payload-too-large")


def test_chunked_oversized_body_is_refused_with_413(
    client: TestClient, platform: Platform, plant: Tenant
) -> None:
    chunk = b"y" * 65536
    chunks = (platform.settings.max_body_bytes // len(chunk)) + 2

    def stream() -> Any:
        for _ in range(chunks):
            yield chunk

    response = client.post(
        "/api/telemetry", content=stream(), headers={**plant.engineer, "Content-Type": "text/csv"}
    )
    assert response.status_code == 413


def test_too_many_points_in_one_batch_is_refused_and_nothing_stored(
    client: TestClient, platform: Platform, plant: Tenant
) -> None:
    limit = platform.settings.max_batch_points
    ts = 1_600_000_000_000
    records = [{"device": "cnc-01", "ts": ts + i, "values": {"spindle_speed": 1.0}} for i in range(limit + 1)]
    response = client.post("/api/telemetry", json={"records": records}, headers=plant.engineer)
    assert response.status_code == 413
    assert _series(client, plant, "spindle_speed", start=ts, end=ts + limit + 2) == []


def test_aggregates_latest_and_exports(client: TestClient, plant: Tenant) -> None:
    base = (_now_ms() // 60_000 - 30) * 60_000  # a minute boundary half an hour ago
    records = [
        {"device": "cnc-01", "ts": base + i * 10_000, "values": {"spindle_temperature": float(i)}}
        for i in range(12)
    ]
    assert client.post("/api/telemetry", json=records, headers=plant.engineer).json()["accepted"] == 12
    agg = client.get(
        f"/api/telemetry/{plant.device['id']}/aggregate",
        params={
            "point": "spindle_temperature",
            "interval": "1m",
            "fn": ["min", "max", "avg", "count", "first", "last"],
            "start": base,
            "end": base + 120_000,
        },
        headers=plant.viewer,
    ).json()["series"]["spindle_temperature"]
    assert [(b["min"], b["max"], b["avg"], b["count"], b["first"], b["last"]) for b in agg] == [
        (0.0, 5.0, 2.5, 6, 0.0, 5.0),
        (6.0, 11.0, 8.5, 6, 6.0, 11.0),
    ]
    latest = client.get(f"/api/telemetry/{plant.device['id']}/latest", headers=plant.viewer).json()["values"]
    assert latest["spindle_temperature"]["value"] == 11.0
    window = {"point": "spindle_temperature", "start": base, "end": base + 120_000}
    csv_text = client.get(
        f"/api/telemetry/{plant.device['id']}/export",
        params={**window, "format": "csv"},
        headers=plant.viewer,
    ).text
    assert csv_text.splitlines()[0] == "series,ts,value"
    assert len(csv_text.splitlines()) == 13
    parquet = client.get(
        f"/api/telemetry/{plant.device['id']}/export",
        params={**window, "format": "parquet"},
        headers=plant.viewer,
    )
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == 12
    assert sorted(table.column("num").to_pylist()) == [float(i) for i in range(12)]


def test_query_errors_are_problems(client: TestClient, plant: Tenant) -> None:
    device = plant.device["id"]
    cases = [
        (f"/api/telemetry/{device}", {"point": "nope"}),
        (f"/api/telemetry/{device}", {"start": "not a time"}),
        (f"/api/telemetry/{device}", {"start": 2000, "end": 1000}),
        (f"/api/telemetry/{device}/aggregate", {"interval": "0s"}),
        (f"/api/telemetry/{device}/aggregate", {"fn": "median"}),
        (f"/api/telemetry/{device}/aggregate", {"interval": "1s", "start": 0, "end": 10**12}),
    ]
    for path, params in cases:
        response = client.get(path, params=params, headers=plant.viewer)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_retention_deletes_only_samples_older_than_the_tenants_horizon(
    client: TestClient, platform: Platform, plant: Tenant
) -> None:
    from indunet.platform.telemetry import apply_retention

    old = _now_ms() - 40 * 86_400_000
    fresh = _now_ms() - 1000
    client.post(
        "/api/telemetry",
        json=[
            {"device": "cnc-01", "ts": old, "values": {"energy_total": 1.0}},
            {"device": "cnc-01", "ts": fresh, "values": {"energy_total": 2.0}},
        ],
        headers=plant.engineer,
    )
    assert client.patch("/api/tenant", json={"retention_days": 30}, headers=plant.admin).status_code == 200
    apply_retention(platform)
    values = [v for _, v in _series(client, plant, "energy_total", start=old - 1)]
    assert values == [2.0]


def test_listeners_see_exactly_the_committed_points_and_cannot_break_ingest(
    client: TestClient, platform: Platform, plant: Tenant
) -> None:
    from indunet.platform.runtime import StoredSample

    seen: list[StoredSample] = []

    def broken(_samples: list[StoredSample]) -> None:
        raise RuntimeError("a listener bug")

    platform.telemetry_listeners.extend([broken, seen.extend])
    try:
        body = {"device": "cnc-01", "ts": _now_ms(), "values": {"spindle_speed": 10.0, "spindle_load": 999.0}}
        response = client.post("/api/telemetry", json=body, headers=plant.engineer)
    finally:
        platform.telemetry_listeners.clear()
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert [(s.device_id, s.point, s.num) for s in seen] == [(plant.device["id"], "spindle_speed", 10.0)]
