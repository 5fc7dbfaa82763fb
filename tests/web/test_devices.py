"""Devices over the API: registry, online state, access tokens and the digital twin."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.helpers import Tenant, new_tenant

from indunet.core.timeutil import parse_timestamp
from indunet.platform.runtime import Platform


@pytest.fixture(scope="module")
def plant(platform: Platform, client: TestClient) -> Tenant:
    return new_tenant(platform, client, "devices")


def _create(client: TestClient, plant: Tenant, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "type": "cnc_machine_tool", **fields}
    response = client.post("/api/devices", json=body, headers=plant.engineer)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


_serial = itertools.count(1)


def _unique(prefix: str) -> str:
    """A device name no other test of the session uses (parametrised cases share the tenant)."""
    return f"{prefix}-{next(_serial)}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ms() -> int:
    return time.time_ns() // 1_000_000


# -- registry ----------------------------------------------------------------------------------------


def test_create_returns_the_token_once(client: TestClient, plant: Tenant) -> None:
    created = _create(
        client,
        plant,
        "lathe-7",
        labels={"line": "B", "hall": "2"},
        location={"lat": 31.23, "lon": 121.47, "site": "Shanghai"},
        attributes={"serial_number": "SN-0007", "year_of_construction": 2019},
    )
    assert created["token"].startswith("dev_")
    assert created["status"] == "offline" and created["last_seen"] is None
    assert created["twin_version"] == 0
    fetched = client.get(f"/api/devices/{created['id']}", headers=plant.viewer)
    assert fetched.status_code == 200
    device = fetched.json()
    assert "token" not in device
    assert {k: device[k] for k in ("name", "type", "labels", "location", "attributes")} == {
        "name": "lathe-7",
        "type": "cnc_machine_tool",
        "labels": {"line": "B", "hall": "2"},
        "location": {"lat": 31.23, "lon": 121.47, "site": "Shanghai"},
        "attributes": {"serial_number": "SN-0007", "year_of_construction": 2019},
    }
    listed = client.get("/api/devices", params={"q": "lathe-7"}, headers=plant.viewer).json()["items"]
    assert [d["id"] for d in listed] == [created["id"]]
    assert created["token"] not in str(listed)
    # The token works for the device's own telemetry.
    sent = client.post("/api/telemetry", json={"spindle_speed": 100}, headers=_bearer(created["token"]))
    assert sent.json()["accepted"] == 1


def test_viewer_cannot_register_devices(client: TestClient, plant: Tenant) -> None:
    body = {"name": "viewer-made", "type": "cnc_machine_tool"}
    response = client.post("/api/devices", json=body, headers=plant.viewer)
    assert response.status_code == 403
    assert client.get("/api/devices", params={"q": "viewer-made"}, headers=plant.viewer).json()["total"] == 0


def test_duplicate_name_is_a_conflict(client: TestClient, plant: Tenant) -> None:
    first = _create(client, plant, "twin-name")
    again = client.post(
        "/api/devices", json={"name": "twin-name", "type": "industrial_robot"}, headers=plant.engineer
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    listed = client.get("/api/devices", params={"q": "twin-name"}, headers=plant.viewer).json()
    assert [d["id"] for d in listed["items"]] == [first["id"]]


@pytest.mark.parametrize(
    "name",
    ["", "-leading-dash", "has space", "slash/name", "a" * 129, "名字", "tab\tname", ".hidden"],
    ids=["empty", "leading-dash", "space", "slash", "too-long", "cjk", "tab", "leading-dot"],
)
def test_bad_names_are_refused(client: TestClient, plant: Tenant, name: str) -> None:
    response = client.post(
        "/api/devices", json={"name": name, "type": "cnc_machine_tool"}, headers=plant.engineer
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_unknown_type_is_refused_and_nothing_created(client: TestClient, plant: Tenant) -> None:
    response = client.post(
        "/api/devices", json={"name": "ghost-type", "type": "no_such_type"}, headers=plant.engineer
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/api/devices", params={"q": "ghost-type"}, headers=plant.viewer).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"attributes": {"no_such_attribute": 1}}, "no_such_attribute"),
        ({"attributes": {"year_of_construction": "1999"}}, "year_of_construction"),
        ({"attributes": {"year_of_construction": 1999.5}}, "year_of_construction"),
        ({"attributes": {"max_spindle_speed": True}}, "max_spindle_speed"),
        ({"attributes": {"serial_number": 42}}, "serial_number"),
        ({"location": {"lat": 91.0}}, "lat"),
        ({"labels": {"line": 3}}, "labels"),
    ],
    ids=["unknown", "int-as-text", "int-as-float", "float-as-bool", "string-as-int", "lat", "label-value"],
)
def test_create_checks_attributes_location_and_labels(
    client: TestClient, plant: Tenant, body: dict[str, Any], needle: str
) -> None:
    response = client.post(
        "/api/devices", json={"name": "checked-1", "type": "cnc_machine_tool", **body}, headers=plant.engineer
    )
    assert response.status_code == 422, response.text
    assert needle in response.text
    assert client.get("/api/devices", params={"q": "checked-1"}, headers=plant.viewer).json()["total"] == 0


def test_list_filters_and_pagination(platform: Platform, client: TestClient) -> None:
    fleet = new_tenant(platform, client, "fleet")  # its own tenant, so totals are exact
    for i in range(5):
        _create(client, fleet, f"mill-{i}", labels={"line": "A" if i % 2 else "B"})
    for name in ("arm-1", "arm-2"):
        response = client.post(
            "/api/devices",
            json={"name": name, "type": "industrial_robot", "labels": {"line": "A"}},
            headers=fleet.engineer,
        )
        assert response.status_code == 201

    def names(**params: Any) -> tuple[list[str], int]:
        response = client.get("/api/devices", params=params, headers=fleet.viewer)
        assert response.status_code == 200, response.text
        body = response.json()
        return [d["name"] for d in body["items"]], body["total"]

    # new_tenant's own cnc-01 is there as well.
    assert names() == (["arm-1", "arm-2", "cnc-01", "mill-0", "mill-1", "mill-2", "mill-3", "mill-4"], 8)
    assert names(type="industrial_robot") == (["arm-1", "arm-2"], 2)
    assert names(q="MILL") == (["mill-0", "mill-1", "mill-2", "mill-3", "mill-4"], 5)
    assert names(q="robot") == (["arm-1", "arm-2"], 2)  # search covers the type too
    # Wildcards are searched for literally.
    assert names(q="%") == ([], 0)
    assert names(q="mill_") == ([], 0)
    assert names(label="line=A") == (["arm-1", "arm-2", "cnc-01", "mill-1", "mill-3"], 5)
    assert names(label="line=B") == (["mill-0", "mill-2", "mill-4"], 3)
    assert names(label="line=C") == ([], 0)
    assert names(label="line=A", type="cnc_machine_tool") == (["cnc-01", "mill-1", "mill-3"], 3)
    # Pages carry the total of all matches, not of the page.
    assert names(limit=3) == (["arm-1", "arm-2", "cnc-01"], 8)
    assert names(limit=3, offset=6) == (["mill-3", "mill-4"], 8)
    assert names(limit=3, offset=20) == ([], 8)
    assert names(label="line=A", limit=2, offset=2) == (["cnc-01", "mill-1"], 5)
    bad = client.get("/api/devices", params={"label": "no-equals-sign"}, headers=fleet.viewer)
    assert bad.status_code == 422


def test_patch_labels_location_and_attributes(client: TestClient, plant: Tenant) -> None:
    device = _create(
        client,
        plant,
        "patch-me",
        labels={"line": "A"},
        location={"site": "Suzhou"},
        attributes={"serial_number": "S-1", "manufacturer": "ACME"},
    )
    url = f"/api/devices/{device['id']}"
    labels = client.patch(url, json={"labels": {"line": "C", "cell": "7"}}, headers=plant.engineer)
    assert labels.status_code == 200
    assert labels.json()["labels"] == {"line": "C", "cell": "7"}
    assert labels.json()["twin_version"] == 0  # labels are registry data, not twin state
    moved = client.patch(url, json={"location": {"lat": 22.5, "lon": 114.0}}, headers=plant.engineer)
    assert moved.json()["location"] == {"lat": 22.5, "lon": 114.0}
    # Attributes merge; null removes one.
    attrs = client.patch(
        url,
        json={"attributes": {"manufacturer": None, "year_of_construction": 2021, "max_spindle_speed": 15000}},
        headers=plant.engineer,
    )
    assert attrs.status_code == 200, attrs.text
    assert attrs.json()["attributes"] == {
        "serial_number": "S-1",
        "year_of_construction": 2021,
        "max_spindle_speed": 15000,
    }
    assert attrs.json()["twin_version"] == 1
    cleared = client.patch(url, json={"location": None}, headers=plant.engineer)
    assert cleared.json()["location"] is None
    after = client.get(url, headers=plant.viewer).json()
    assert (after["labels"], after["location"], after["attributes"]) == (
        {"line": "C", "cell": "7"},
        None,
        {"serial_number": "S-1", "year_of_construction": 2021, "max_spindle_speed": 15000},
    )


@pytest.mark.parametrize(
    "body",
    [
        {"attributes": {"nonexistent": "x"}},
        {"attributes": {"year_of_construction": "2020"}},
        {"attributes": {"rated_power": "high"}},
        {"labels": {"": "empty key"}},
        {"location": {"lon": 181}},
        {"name": "renamed"},
    ],
    ids=["unknown-attribute", "int-as-text", "float-as-text", "empty-label-key", "lon", "rename"],
)
def test_bad_patches_change_nothing(client: TestClient, plant: Tenant, body: dict[str, Any]) -> None:
    device = _create(client, plant, _unique("guarded"), attributes={"model": "X1"})
    url = f"/api/devices/{device['id']}"
    response = client.patch(url, json=body, headers=plant.engineer)
    assert response.status_code == 422, response.text
    after = client.get(url, headers=plant.viewer).json()
    assert after["attributes"] == {"model": "X1"}
    assert after["labels"] == {} and after["location"] is None and after["twin_version"] == 0


def test_delete(client: TestClient, plant: Tenant) -> None:
    device = _create(client, plant, "short-lived")
    url = f"/api/devices/{device['id']}"
    assert client.delete(url, headers=plant.viewer).status_code == 403
    assert client.delete(url, headers=plant.engineer).status_code == 204
    assert client.get(url, headers=plant.viewer).status_code == 404
    assert client.delete(url, headers=plant.engineer).status_code == 404
    assert client.get("/api/devices", params={"q": "short-lived"}, headers=plant.viewer).json()["total"] == 0
    # The name is free again.
    again = _create(client, plant, "short-lived")
    assert again["id"] != device["id"]


def test_deleted_devices_token_stops_working(client: TestClient, plant: Tenant) -> None:
    device = _create(client, plant, "to-delete")
    auth = _bearer(device["token"])
    assert client.post("/api/telemetry", json={"spindle_speed": 5}, headers=auth).json()["accepted"] == 1
    assert client.delete(f"/api/devices/{device['id']}", headers=plant.engineer).status_code == 204
    response = client.post("/api/telemetry", json={"spindle_speed": 6}, headers=auth)
    assert response.status_code == 401, response.text


# -- online state -----------------------------------------------------------------------------------


def test_online_and_last_seen_follow_telemetry(
    client: TestClient, plant: Tenant, monkeypatch: pytest.MonkeyPatch, platform: Platform
) -> None:
    device = _create(client, plant, "presence-1")
    url = f"/api/devices/{device['id']}"
    assert client.get(url, headers=plant.viewer).json()["status"] == "offline"
    before = time.time_ns() // 1000
    sent = client.post("/api/telemetry", json={"feed_rate": 1200}, headers=_bearer(device["token"]))
    assert sent.json()["accepted"] == 1
    after = time.time_ns() // 1000
    seen = client.get(url, headers=plant.viewer).json()
    assert seen["status"] == "online"
    assert before <= parse_timestamp(seen["last_seen"]) <= after
    listed = client.get("/api/devices", params={"q": "presence-1"}, headers=plant.viewer).json()["items"]
    assert listed[0]["status"] == "online" and listed[0]["last_seen"] == seen["last_seen"]
    # Once offline_after_s has passed without telemetry, the device shows offline with the same last_seen.
    later = parse_timestamp(seen["last_seen"]) + (platform.settings.offline_after_s + 1) * 1_000_000
    monkeypatch.setattr("indunet.platform.devices.now_us", lambda: later)
    quiet = client.get(url, headers=plant.viewer).json()
    assert quiet["status"] == "offline" and quiet["last_seen"] == seen["last_seen"]


def test_last_seen_survives_a_restart(client: TestClient, plant: Tenant, platform: Platform) -> None:
    from indunet.platform.runtime import Platform as Fresh

    device = _create(client, plant, "presence-2")
    client.post("/api/telemetry", json={"feed_rate": 1}, headers=_bearer(device["token"]))
    seen = client.get(f"/api/devices/{device['id']}", headers=plant.viewer).json()["last_seen"]
    platform.flush_presence()
    other = Fresh(platform.settings)  # a second process on the same database knows nothing in memory
    try:
        from indunet.platform import devices
        from indunet.security import Principal

        row = devices.get_device(other, Principal.system(plant.id), device["id"])
    finally:
        other.close()
    assert row["last_seen"] == seen


# -- access tokens ----------------------------------------------------------------------------------


def test_rotating_the_token_revokes_the_old_one(client: TestClient, plant: Tenant) -> None:
    device = _create(client, plant, "rotate-me")
    old = _bearer(device["token"])
    assert client.post("/api/telemetry", json={"spindle_speed": 1}, headers=old).json()["accepted"] == 1
    assert client.post(f"/api/devices/{device['id']}/token", headers=plant.viewer).status_code == 403
    rotated = client.post(f"/api/devices/{device['id']}/token", headers=plant.engineer)
    assert rotated.status_code == 200
    new_token = rotated.json()["token"]
    assert new_token.startswith("dev_") and new_token != device["token"]
    assert client.post("/api/telemetry", json={"spindle_speed": 2}, headers=old).status_code == 401
    fresh = client.post("/api/telemetry", json={"spindle_speed": 3}, headers=_bearer(new_token))
    assert fresh.status_code == 200 and fresh.json()["accepted"] == 1
    # Rotating again retires the second token too.
    third = client.post(f"/api/devices/{device['id']}/token", headers=plant.engineer).json()["token"]
    assert (
        client.post("/api/telemetry", json={"spindle_speed": 4}, headers=_bearer(new_token)).status_code
        == 401
    )
    assert client.post("/api/telemetry", json={"spindle_speed": 4}, headers=_bearer(third)).status_code == 200


def test_device_token_reaches_only_its_own_device(client: TestClient, plant: Tenant) -> None:
    mine = _create(client, plant, "own-1")
    other = _create(client, plant, "own-2")
    auth = _bearer(mine["token"])
    assert client.get(f"/api/devices/{mine['id']}", headers=auth).status_code == 200
    assert client.get(f"/api/devices/{other['id']}", headers=auth).status_code == 404
    assert client.get(f"/api/devices/{mine['id']}/twin", headers=auth).status_code == 200
    assert client.get(f"/api/devices/{other['id']}/twin", headers=auth).status_code == 404
    assert client.get("/api/devices", headers=auth).status_code == 403
    desired = client.patch(
        f"/api/devices/{mine['id']}/twin/desired", json={"spindle_override": 90}, headers=auth
    )
    assert desired.status_code == 403


# -- digital twin -----------------------------------------------------------------------------------


def test_reported_state_is_the_latest_telemetry_per_point(client: TestClient, plant: Tenant) -> None:
    device = _create(client, plant, "twin-reported")
    ts = _ms() - 60_000
    records = [
        {"ts": ts, "values": {"spindle_speed": 1000.0, "program_name": "O1", "alarm_active": True}},
        {"ts": ts + 2000, "values": {"spindle_speed": 3000.0, "tool_number": 12}},
        # Arrives later but is older: it does not replace the newer value.
        {"ts": ts + 1000, "values": {"spindle_speed": 2000.0, "alarm_active": False}},
    ]
    sent = client.post("/api/telemetry", json=records, headers=_bearer(device["token"]))
    assert sent.json()["accepted"] == 7
    twin = client.get(f"/api/devices/{device['id']}/twin", headers=plant.viewer).json()
    reported = {name: (v["value"], parse_timestamp(v["ts"]) // 1000) for name, v in twin["reported"].items()}
    assert reported == {
        "spindle_speed": (3000.0, ts + 2000),
        "program_name": ("O1", ts),
        "alarm_active": (False, ts + 1000),
        "tool_number": (12, ts + 2000),
    }
    latest = client.get(f"/api/telemetry/{device['id']}/latest", headers=plant.viewer).json()["values"]
    assert {k: v["value"] for k, v in latest.items()} == {k: v[0] for k, v in reported.items()}
    assert twin["desired"] == {} and twin["version"] == 0


def test_twin_of_a_silent_device_is_empty(client: TestClient, plant: Tenant) -> None:
    device = _create(client, plant, "twin-silent", attributes={"serial_number": "Q"})
    twin = client.get(f"/api/devices/{device['id']}/twin", headers=plant.viewer).json()
    assert twin == {
        "device": device["id"],
        "version": 0,
        "reported": {},
        "desired": {},
        "attributes": {"serial_number": "Q"},
    }


def test_desired_state_versions_and_history(client: TestClient, plant: Tenant) -> None:
    device = _create(client, plant, "twin-desired")
    url = f"/api/devices/{device['id']}/twin"
    first = client.patch(f"{url}/desired", json={"spindle_override": 110}, headers=plant.engineer)
    assert first.status_code == 200, first.text
    assert first.json() == {"device": device["id"], "version": 1, "desired": {"spindle_override": 110}}
    second = client.patch(
        f"{url}/desired", json={"feed_override": 80, "spindle_override": 50}, headers=plant.admin
    )
    assert second.json()["desired"] == {"spindle_override": 50, "feed_override": 80}
    assert second.json()["version"] == 2
    removed = client.patch(f"{url}/desired", json={"spindle_override": None}, headers=plant.engineer)
    assert removed.json() == {"device": device["id"], "version": 3, "desired": {"feed_override": 80}}
    twin = client.get(url, headers=plant.viewer).json()
    assert twin["desired"] == {"feed_override": 80} and twin["version"] == 3
    assert client.get(f"/api/devices/{device['id']}", headers=plant.viewer).json()["twin_version"] == 3

    history = client.get(f"{url}/history", headers=plant.viewer).json()["items"]
    engineer = f"user:{plant.emails['engineer']}"
    admin = f"user:{plant.emails['admin']}"
    assert [(h["version"], h["part"], h["actor"], h["before"], h["after"]) for h in history] == [
        (3, "desired", engineer, {"spindle_override": 50, "feed_override": 80}, {"feed_override": 80}),
        (2, "desired", admin, {"spindle_override": 110}, {"spindle_override": 50, "feed_override": 80}),
        (1, "desired", engineer, {}, {"spindle_override": 110}),
    ]
    assert all(h["at"].endswith("Z") for h in history)
    limited = client.get(f"{url}/history", params={"limit": 1}, headers=plant.viewer).json()["items"]
    assert [h["version"] for h in limited] == [3]


@pytest.mark.parametrize(
    ("patch", "reasons"),
    [
        ({"spindle_speed": 1000}, {("spindle_speed", "not_writable")}),
        ({"no_such_point": 1}, {("no_such_point", "not_writable")}),
        ({"spindle_override": 130}, {("spindle_override", "out_of_range")}),
        ({"spindle_override": 49.9}, {("spindle_override", "out_of_range")}),
        ({"spindle_override": "fast"}, {("spindle_override", "wrong_type")}),
        # One bad point refuses the whole patch, the good one included.
        ({"feed_override": 90, "spindle_speed": 1}, {("spindle_speed", "not_writable")}),
    ],
    ids=["read-only", "unknown", "above-max", "below-min", "wrong-type", "mixed"],
)
def test_desired_state_is_checked_against_the_model(
    client: TestClient, plant: Tenant, patch: dict[str, Any], reasons: set[tuple[str, str]]
) -> None:
    device = _create(client, plant, _unique("twin-check"))
    url = f"/api/devices/{device['id']}/twin"
    response = client.patch(f"{url}/desired", json=patch, headers=plant.engineer)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert {(e["point"], e["reason"]) for e in response.json()["errors"]} == reasons
    twin = client.get(url, headers=plant.viewer).json()
    assert twin["desired"] == {} and twin["version"] == 0
    assert client.get(f"{url}/history", headers=plant.viewer).json()["items"] == []


def test_desired_state_accepts_the_range_limits(client: TestClient, plant: Tenant) -> None:
    device = _create(client, plant, "twin-limits")
    url = f"/api/devices/{device['id']}/twin/desired"
    for value in (50, 120, 87.5):
        response = client.patch(url, json={"spindle_override": value}, headers=plant.engineer)
        assert response.status_code == 200, response.text
        assert response.json()["desired"] == {"spindle_override": value}
    assert client.patch(url, json={"spindle_override": 60}, headers=plant.viewer).status_code == 403


def test_attribute_changes_are_twin_revisions(client: TestClient, plant: Tenant) -> None:
    device = _create(client, plant, "twin-attrs", attributes={"serial_number": "A-1"})
    url = f"/api/devices/{device['id']}"
    client.patch(url, json={"attributes": {"controller_type": "FANUC 0i-F"}}, headers=plant.engineer)
    client.patch(f"{url}/twin/desired", json={"feed_override": 100}, headers=plant.engineer)
    client.patch(url, json={"attributes": {"serial_number": None}}, headers=plant.admin)
    twin = client.get(f"{url}/twin", headers=plant.viewer).json()
    assert twin["version"] == 3
    assert twin["attributes"] == {"controller_type": "FANUC 0i-F"}
    history = client.get(f"{url}/twin/history", headers=plant.viewer).json()["items"]
    assert [(h["version"], h["part"], h["actor"], h["before"], h["after"]) for h in history] == [
        (
            3,
            "attributes",
            f"user:{plant.emails['admin']}",
            {"serial_number": "A-1", "controller_type": "FANUC 0i-F"},
            {"controller_type": "FANUC 0i-F"},
        ),
        (2, "desired", f"user:{plant.emails['engineer']}", {}, {"feed_override": 100}),
        (
            1,
            "attributes",
            f"user:{plant.emails['engineer']}",
            {"serial_number": "A-1"},
            {"serial_number": "A-1", "controller_type": "FANUC 0i-F"},
        ),
    ]


def test_concurrent_desired_state_writers_lose_no_update(platform: Platform, plant: Tenant) -> None:
    """Each writer's change survives and every revision gets its own version number."""
    from concurrent.futures import ThreadPoolExecutor

    from indunet.platform import twins
    from indunet.security import Principal, Role

    device = plant.device["id"]
    engineer = Principal(plant.id, Role.ENGINEER, "test", "user:test")
    start = twins.get_twin(platform, engineer, device)["version"]
    values = [50.0 + i for i in range(8)]

    def write(value: float) -> int:
        return int(twins.set_desired(platform, engineer, device, {"spindle_override": value})["version"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        versions = sorted(pool.map(write, values))
    assert versions == list(range(start + 1, start + 1 + len(values)))
    history = twins.history(platform, engineer, device, limit=len(values))
    assert sorted(r["version"] for r in history) == versions
    # Revisions chain: each one's "before" is the previous one's "after".
    chain = sorted(history, key=lambda r: r["version"])
    assert all(a["after"] == b["before"] for a, b in itertools.pairwise(chain))
