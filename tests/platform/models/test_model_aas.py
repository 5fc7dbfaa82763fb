from __future__ import annotations

import json

import pytest

from indunet.core.errors import InvalidInput
from indunet.platform.models import DeviceType, builtin_types, from_aas_json, to_aas_json


@pytest.mark.parametrize("device_type", builtin_types(), ids=lambda dt: dt.name)
def test_round_trip_is_lossless(device_type: DeviceType) -> None:
    text = to_aas_json(device_type)
    back = from_aas_json(text)
    assert back == device_type
    assert from_aas_json(text.encode()) == device_type


def test_export_shape() -> None:
    cnc = next(dt for dt in builtin_types() if dt.name == "cnc_machine_tool")
    env = json.loads(to_aas_json(cnc))
    (shell,) = env["assetAdministrationShells"]
    assert shell["idShort"] == "cnc_machine_tool"
    assert shell["assetInformation"]["assetKind"] == "Type"
    assert {"language": "zh", "text": "数控机床"} in shell["displayName"]
    submodels = {sm["idShort"]: sm for sm in env["submodels"]}
    assert set(submodels) == {"TypeInfo", "Points", "Attributes", "Commands"}
    speed = next(e for e in submodels["Points"]["submodelElements"] if e["idShort"] == "spindle_speed")
    assert speed["modelType"] == "SubmodelElementCollection"
    fields = {e["idShort"]: e for e in speed["value"]}
    assert fields["Unit"]["value"] == "rpm"
    assert fields["Range"]["modelType"] == "Range"
    assert (fields["Range"]["min"], fields["Range"]["max"]) == ("0.0", "24000.0")
    assert fields["Range"]["valueType"] == "xs:double"
    start = next(e for e in submodels["Commands"]["submodelElements"] if e["idShort"] == "start_program")
    assert start["modelType"] == "Operation"


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "[]",
        "{}",
        json.dumps({"assetAdministrationShells": [{"modelType": "AssetAdministrationShell"}]}),
    ],
)
def test_invalid_aas_json(text: str) -> None:
    with pytest.raises(InvalidInput):
        from_aas_json(text)


def test_non_utf8_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="not UTF-8"):
        from_aas_json(b"\xff\xfe{}")


def test_missing_submodel_is_invalid() -> None:
    robot = next(dt for dt in builtin_types() if dt.name == "industrial_robot")
    env = json.loads(to_aas_json(robot))
    env["submodels"] = [sm for sm in env["submodels"] if sm["idShort"] != "Points"]
    with pytest.raises(InvalidInput):
        from_aas_json(json.dumps(env))


def test_schema_violation_in_aas_is_invalid() -> None:
    robot = next(dt for dt in builtin_types() if dt.name == "industrial_robot")
    env = json.loads(to_aas_json(robot))
    info = next(sm for sm in env["submodels"] if sm["idShort"] == "TypeInfo")
    version = next(e for e in info["submodelElements"] if e["idShort"] == "Version")
    version["value"] = "not-semver"
    with pytest.raises(InvalidInput) as caught:
        from_aas_json(json.dumps(env))
    assert caught.value.errors[0]["loc"] == ["version"]
