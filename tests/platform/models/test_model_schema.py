from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from indunet.platform.models import Access, DataType, DeviceType


def minimal(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "pump",
        "version": "1.2.3",
        "title": "Pump",
        "description": "A centrifugal pump.",
        "category": "pump",
        "reference": "VDMA 40223",
        "points": [
            {
                "name": "speed",
                "description": "Shaft speed",
                "data_type": "float",
                "unit": "rpm",
                "min": 0,
                "max": 3600,
            }
        ],
    }
    base.update(overrides)
    return base


def errors_of(raw: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        DeviceType.model_validate(raw)
    return str(info.value)


def test_minimal_type_has_defaults_and_point_lookup() -> None:
    dt = DeviceType.model_validate(minimal())
    speed = dt.point("speed")
    assert speed is not None
    assert speed.access is Access.READ
    assert speed.data_type is DataType.FLOAT
    assert (speed.min, speed.max) == (0.0, 3600.0)
    assert dt.point("nope") is None
    assert dt.attributes == () and dt.commands == ()


def test_duplicate_point_names_rejected() -> None:
    point = {"name": "speed", "description": "x", "data_type": "int"}
    assert "duplicate name in points: 'speed'" in errors_of(minimal(points=[point, point]))


def test_duplicate_attribute_command_and_param_names_rejected() -> None:
    attr = {"name": "serial", "description": "x", "data_type": "string"}
    assert "duplicate name in attributes" in errors_of(minimal(attributes=[attr, attr]))
    cmd = {"name": "start", "description": "x"}
    assert "duplicate name in commands" in errors_of(minimal(commands=[cmd, cmd]))
    param = {"name": "p", "data_type": "int"}
    assert "duplicate name in params" in errors_of(minimal(commands=[{**cmd, "params": [param, param]}]))


def test_min_greater_than_max_rejected() -> None:
    point = {"name": "speed", "description": "x", "data_type": "float", "min": 10, "max": 1}
    assert "min (10.0) is greater than max (1.0)" in errors_of(minimal(points=[point]))


def test_limits_only_for_numeric_points() -> None:
    point = {"name": "state", "description": "x", "data_type": "string", "max": 1}
    assert "min/max apply only to int and float" in errors_of(minimal(points=[point]))


def test_infinite_limits_rejected() -> None:
    point = {"name": "speed", "description": "x", "data_type": "float", "max": float("inf")}
    errors_of(minimal(points=[point]))


@pytest.mark.parametrize("name", ["Speed", "1speed", "speed-rpm", "", "a" * 65, "speed rpm"])
def test_bad_identifiers_rejected(name: str) -> None:
    errors_of(minimal(name=name))
    errors_of(minimal(points=[{"name": name, "description": "x", "data_type": "int"}]))


def test_longest_identifier_accepted() -> None:
    assert DeviceType.model_validate(minimal(name="a" * 64)).name == "a" * 64


def test_extra_fields_forbidden_everywhere() -> None:
    assert "Extra inputs are not permitted" in errors_of(minimal(vendor="acme"))
    point = {"name": "speed", "description": "x", "data_type": "int", "scale": 10}
    assert "Extra inputs are not permitted" in errors_of(minimal(points=[point]))


@pytest.mark.parametrize("version", ["1", "1.0", "v1.0.0", "01.0.0"])
def test_version_must_be_semver(version: str) -> None:
    errors_of(minimal(version=version))


def test_semver_prerelease_and_build_accepted() -> None:
    assert DeviceType.model_validate(minimal(version="2.0.0-rc.1+build.5")).version == "2.0.0-rc.1+build.5"


def test_size_limits() -> None:
    points = [{"name": f"p{i}", "description": "x", "data_type": "int"} for i in range(1001)]
    assert "at most 1000 items" in errors_of(minimal(points=points))
    assert "at most 1000 characters" in errors_of(minimal(description="x" * 1001))
    assert DeviceType.model_validate(minimal(points=points[:1000])).point("p999") is not None


def test_attribute_default_must_match_type() -> None:
    attr: dict[str, Any] = {"name": "rated", "description": "x", "data_type": "int", "default": "ten"}
    assert "default 'ten' does not fit data type int" in errors_of(minimal(attributes=[attr]))
    attr = {"name": "rated", "description": "x", "data_type": "int", "default": True}
    errors_of(minimal(attributes=[attr]))
    attr = {"name": "rated", "description": "x", "data_type": "float", "default": 15}
    dt = DeviceType.model_validate(minimal(attributes=[attr]))
    assert dt.attributes[0].default == 15.0 and isinstance(dt.attributes[0].default, float)


def test_sampling_must_be_positive() -> None:
    point = {"name": "speed", "description": "x", "data_type": "int", "sampling_ms": 0}
    errors_of(minimal(points=[point]))


def test_models_are_frozen() -> None:
    dt = DeviceType.model_validate(minimal())
    with pytest.raises(ValidationError):
        dt.name = "other"  # type: ignore[misc]
