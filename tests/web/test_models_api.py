"""Device types over the API: YAML/JSON upload, replacement, AAS round trip and the data dictionary."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.helpers import Tenant, new_tenant

from indunet.platform.runtime import Platform

BUILTINS = {
    "cnc_machine_tool",
    "industrial_robot",
    "flow_pressure_instrument",
    "centrifugal_pump",
    "edge_gateway",
    "ledger_witness",
    "storage_tank",
    "gas_detector",
    "toxic_gas_detector",
    "chemical_reactor",
}

PRESS_YAML = """
name: hydraulic_press
version: 1.0.0
title: Hydraulic press
title_zh: 液压机
description: A single-acting hydraulic press.
description_zh: 单动液压机。
category: press
reference: in-house model HP-1
points:
  - {name: ram_force, description: Force on the ram, data_type: float, unit: kN, min: 0, max: 5000}
  - {name: stroke_count, description: Strokes since reset, data_type: int, min: 0}
  - name: die_cushion
    description: Die cushion pressure set point
    description_zh: 模垫压力设定值
    data_type: float
    unit: bar
    min: 0
    max: 300
    access: read_write
attributes:
  - {name: rated_force, description: Rated force, data_type: float, unit: kN, default: 4000}
commands:
  - name: set_cushion
    description: Set the die cushion pressure
    params:
      - {name: pressure, data_type: float, unit: bar, min: 0, max: 300}
"""


def _press_json(**changes: Any) -> dict[str, Any]:
    return {
        "name": "json_oven",
        "version": "2.0.0",
        "title": "Curing oven",
        "description": "A batch curing oven.",
        "category": "oven",
        "reference": "in-house model CO-2",
        "points": [
            {"name": "chamber_temperature", "description": "Air temperature", "data_type": "float",
             "unit": "degC", "min": 0, "max": 400},
            {"name": "door_open", "description": "Door contact", "data_type": "bool"},
        ],
        **changes,
    }  # fmt: skip


@pytest.fixture(scope="module")
def plant(platform: Platform, client: TestClient) -> Tenant:
    return new_tenant(platform, client, "models")


@pytest.fixture(scope="module")
def other(platform: Platform, client: TestClient) -> Tenant:
    return new_tenant(platform, client, "models-other")


def _yaml(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "application/yaml"}


def _put_yaml(client: TestClient, headers: dict[str, str], text: str) -> Any:
    return client.post("/api/device-types", content=text, headers=_yaml(headers))


def _get(client: TestClient, headers: dict[str, str], name: str) -> dict[str, Any]:
    response = client.get(f"/api/device-types/{name}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_new_tenant_has_the_builtin_types(platform: Platform, client: TestClient) -> None:
    fresh = new_tenant(platform, client, "models-fresh")
    items = client.get("/api/device-types", headers=fresh.viewer).json()["items"]
    assert {t["name"] for t in items} == BUILTINS
    assert all(t["points"] and t["version"] and t["reference"] for t in items)
    cnc = _get(client, fresh.viewer, "cnc_machine_tool")
    override = next(p for p in cnc["points"] if p["name"] == "spindle_override")
    assert (override["access"], override["min"], override["max"]) == ("read_write", 50, 120)


def test_create_from_yaml_then_replace(client: TestClient, plant: Tenant) -> None:
    created = _put_yaml(client, plant.engineer, PRESS_YAML)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "hydraulic_press"
    stored = _get(client, plant.viewer, "hydraulic_press")
    assert stored == created.json()
    assert stored["title_zh"] == "液压机"
    assert [p["name"] for p in stored["points"]] == ["ram_force", "stroke_count", "die_cushion"]
    assert stored["attributes"][0]["default"] == 4000.0
    assert stored["commands"][0]["params"][0]["max"] == 300

    newer = PRESS_YAML.replace("version: 1.0.0", "version: 1.1.0").replace("max: 5000", "max: 6300")
    oil = "  - {name: oil_temperature, description: Hydraulic oil, data_type: float, unit: degC}\n"
    newer = newer.replace("attributes:", oil + "attributes:", 1)
    replaced = _put_yaml(client, plant.engineer, newer)
    assert replaced.status_code == 200, replaced.text
    again = _get(client, plant.viewer, "hydraulic_press")
    assert again["version"] == "1.1.0"
    assert next(p for p in again["points"] if p["name"] == "ram_force")["max"] == 6300
    names = [t["name"] for t in client.get("/api/device-types", headers=plant.viewer).json()["items"]]
    assert names.count("hydraulic_press") == 1
    assert [p["name"] for p in again["points"]][-1] == "oil_temperature"
    assert again["commands"] == stored["commands"]


def test_create_from_json_then_replace(client: TestClient, plant: Tenant) -> None:
    created = client.post("/api/device-types", json=_press_json(), headers=plant.engineer)
    assert created.status_code == 201, created.text
    assert _get(client, plant.viewer, "json_oven")["points"][1] == {
        "name": "door_open",
        "description": "Door contact",
        "data_type": "bool",
        "access": "read",
    }
    replaced = client.post(
        "/api/device-types", json=_press_json(version="2.1.0", title="Curing oven II"), headers=plant.engineer
    )
    assert replaced.status_code == 200
    assert _get(client, plant.viewer, "json_oven")["title"] == "Curing oven II"


def test_replacing_a_type_changes_what_its_devices_accept(client: TestClient, plant: Tenant) -> None:
    model = _press_json(name="kiln")
    assert client.post("/api/device-types", json=model, headers=plant.engineer).status_code == 201
    device = client.post(
        "/api/devices", json={"name": "kiln-1", "type": "kiln"}, headers=plant.engineer
    ).json()
    auth = {"Authorization": f"Bearer {device['token']}"}
    first = client.post("/api/telemetry", json={"chamber_temperature": 450, "fan_speed": 3}, headers=auth)
    assert {r["reason"] for r in first.json()["rejected"]} == {"out_of_range", "unknown_point"}
    wider = _press_json(name="kiln", version="2.0.1")
    wider["points"][0]["max"] = 600
    wider["points"].append({"name": "fan_speed", "description": "Fan stage", "data_type": "int"})
    assert client.post("/api/device-types", json=wider, headers=plant.engineer).status_code == 200
    second = client.post("/api/telemetry", json={"chamber_temperature": 450, "fan_speed": 3}, headers=auth)
    assert second.json() == {"accepted": 2, "rejected": [], "rejected_count": 0}


def test_viewer_cannot_change_types(client: TestClient, plant: Tenant) -> None:
    model = _press_json(name="viewer_oven")
    assert client.post("/api/device-types", json=model, headers=plant.viewer).status_code == 403
    assert client.get("/api/device-types/viewer_oven", headers=plant.viewer).status_code == 404
    assert client.delete("/api/device-types/cnc_machine_tool", headers=plant.viewer).status_code == 403


@pytest.mark.parametrize("name", ["hydraulic_press_aas", "cnc_machine_tool"])
def test_aas_export_reimports_as_the_same_type(
    client: TestClient, plant: Tenant, other: Tenant, name: str
) -> None:
    if name != "cnc_machine_tool":
        text = PRESS_YAML.replace("name: hydraulic_press", f"name: {name}")
        assert _put_yaml(client, plant.engineer, text).status_code in (200, 201)
    exported = client.get(f"/api/device-types/{name}", params={"format": "aas"}, headers=plant.viewer)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/json")
    environment = exported.json()
    assert [s["idShort"] for s in environment["assetAdministrationShells"]] == [name]
    imported = client.post(
        "/api/device-types/import-aas",
        content=exported.content,
        headers={**other.engineer, "Content-Type": "application/json"},
    )
    # A built-in exists in every tenant already: the import replaces it with an equal copy.
    assert imported.status_code == (200 if name in BUILTINS else 201), imported.text
    assert _get(client, other.viewer, name) == _get(client, plant.viewer, name)
    assert imported.json() == _get(client, plant.viewer, name)


def test_invalid_aas_is_a_problem(client: TestClient, plant: Tenant) -> None:
    for body in (b"{", b"[]", b'{"assetAdministrationShells": []}'):
        response = client.post(
            "/api/device-types/import-aas",
            content=body,
            headers={**plant.engineer, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "text",
    [
        "name: [unclosed",
        "name: a\n  bad: indentation\n: x",
        "base: &a [1]\nname: *a\n",  # aliases are refused outright
        "- just\n- a list\n",
        "",
    ],
    ids=["unclosed", "indentation", "alias", "not-a-mapping", "empty"],
)
def test_unreadable_yaml_is_refused(client: TestClient, plant: Tenant, text: str) -> None:
    response = _put_yaml(client, plant.engineer, text)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"name": "Bad-Name"}, ["name"]),
        ({"version": "1.0"}, ["version"]),
        ({"points": [{"name": "t", "description": "d", "data_type": "decimal"}]}, ["points", 0, "data_type"]),
        ({"points": [{"name": "t", "description": "d", "data_type": "float", "min": 5, "max": 1}]}, ["points", 0]),
        ({"points": [{"name": "t", "description": "d", "data_type": "string", "max": 1}]}, ["points", 0]),
        ({"points": [{"name": "t", "description": "d", "data_type": "int", "colour": "red"}]}, ["points", 0, "colour"]),
    ],
    ids=["name", "version", "data-type", "min-above-max", "range-on-text", "unknown-field"],
)  # fmt: skip
def test_invalid_model_lists_its_errors(
    client: TestClient, plant: Tenant, changes: dict[str, Any], where: list[Any]
) -> None:
    model = _press_json(name="broken_model", **changes) if "name" not in changes else _press_json(**changes)
    for body, headers in (
        (json.dumps(model), {**plant.engineer, "Content-Type": "application/json"}),
        (json.dumps(model), _yaml(plant.engineer)),  # JSON is YAML too
    ):
        response = client.post("/api/device-types", content=body, headers=headers)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["status"] == 422
        assert problem["errors"], problem
        assert any(e["loc"][: len(where)] == where for e in problem["errors"]), problem["errors"]
    assert client.get(f"/api/device-types/{model['name']}", headers=plant.viewer).status_code == 404


def test_oversized_model_is_refused(client: TestClient, plant: Tenant) -> None:
    text = PRESS_YAML + "#" + "x" * (1024 * 1024) + "\n"
    assert _put_yaml(client, plant.engineer, text).status_code == 413


def test_deleting_types(client: TestClient, plant: Tenant) -> None:
    spare = client.post("/api/device-types", json=_press_json(name="spare_oven"), headers=plant.engineer)
    assert spare.status_code == 201
    in_use = client.delete("/api/device-types/cnc_machine_tool", headers=plant.engineer)
    assert in_use.status_code == 409  # new_tenant's cnc-01 uses it
    assert in_use.headers["content-type"] == "application/problem+json"
    assert client.get("/api/device-types/cnc_machine_tool", headers=plant.viewer).status_code == 200
    assert client.delete("/api/device-types/spare_oven", headers=plant.engineer).status_code == 204
    assert client.get("/api/device-types/spare_oven", headers=plant.viewer).status_code == 404
    assert client.delete("/api/device-types/spare_oven", headers=plant.engineer).status_code == 404
    names = {t["name"] for t in client.get("/api/device-types", headers=plant.viewer).json()["items"]}
    assert "spare_oven" not in names


def test_a_type_is_deletable_once_its_last_device_is_gone(client: TestClient, plant: Tenant) -> None:
    lonely = client.post("/api/device-types", json=_press_json(name="lonely"), headers=plant.engineer)
    assert lonely.status_code == 201
    device = client.post("/api/devices", json={"name": "lonely-1", "type": "lonely"}, headers=plant.engineer)
    assert client.delete("/api/device-types/lonely", headers=plant.engineer).status_code == 409
    assert client.delete(f"/api/devices/{device.json()['id']}", headers=plant.engineer).status_code == 204
    assert client.delete("/api/device-types/lonely", headers=plant.engineer).status_code == 204


def test_dictionary_json_and_csv(client: TestClient, plant: Tenant) -> None:
    assert _put_yaml(client, plant.engineer, PRESS_YAML).status_code in (200, 201)
    body = client.get("/api/dictionary", headers=plant.viewer).json()
    assert body["total"] == len(body["items"])
    entries = {(e["type"], e["kind"], e["name"]): e for e in body["items"]}
    speed = entries[("cnc_machine_tool", "point", "spindle_speed")]
    assert (speed["unit"], speed["min"], speed["max"], speed["access"]) == ("rpm", 0, 24000, "read")
    override = entries[("cnc_machine_tool", "point", "spindle_override")]
    assert (override["unit"], override["min"], override["max"], override["access"]) == (
        "%",
        50,
        120,
        "read_write",
    )
    cushion = entries[("hydraulic_press", "point", "die_cushion")]
    assert (cushion["unit"], cushion["max"], cushion["description_zh"]) == ("bar", 300, "模垫压力设定值")
    assert entries[("hydraulic_press", "attribute", "rated_force")]["unit"] == "kN"
    assert entries[("hydraulic_press", "command_param", "set_cushion.pressure")]["max"] == 300
    assert {t for t, _, _ in entries} >= BUILTINS | {"hydraulic_press"}

    response = client.get("/api/dictionary", params={"format": "csv"}, headers=plant.viewer)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == body["total"]
    by_key = {(r["type"], r["kind"], r["name"]): r for r in rows}
    row = by_key[("cnc_machine_tool", "point", "spindle_speed")]
    assert (row["unit"], row["min"], row["max"], row["access"]) == ("rpm", "0", "24000", "read")
    press = by_key[("hydraulic_press", "point", "ram_force")]
    assert (press["unit"], press["min"], press["max"]) == ("kN", "0", "5000")
    assert by_key[("hydraulic_press", "point", "stroke_count")]["max"] == ""


def test_a_large_accepted_type_survives_the_aas_round_trip(
    client: TestClient, plant: Tenant, other: Tenant
) -> None:
    # Well inside the model size limit, but AAS spends several hundred bytes per point on structure.
    points = [
        {"name": f"p{i:04d}", "description": f"Measured value {i}. " + "x" * 480, "data_type": "float",
         "unit": "bar", "min": 0, "max": 100}
        for i in range(1000)
    ]  # fmt: skip
    model = _press_json(name="large_skid", points=points)
    assert len(json.dumps(model)) < 1024 * 1024
    assert client.post("/api/device-types", json=model, headers=plant.engineer).status_code == 201
    exported = client.get("/api/device-types/large_skid", params={"format": "aas"}, headers=plant.viewer)
    assert exported.status_code == 200
    imported = client.post(
        "/api/device-types/import-aas",
        content=exported.content,
        headers={**other.engineer, "Content-Type": "application/json"},
    )
    assert imported.status_code == 201, (len(exported.content), imported.text[:300])
    assert _get(client, other.viewer, "large_skid") == _get(client, plant.viewer, "large_skid")
