"""GB/T 50493-2019 alarm set-points: worked out by hand from the GBZ 2.1-2019 limits in oel.json."""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indunet.apps.safety.gb18218 import catalogue
from indunet.apps.safety.gbt50493 import (
    SetPoints,
    combustible_setpoints,
    idlh_setpoints,
    mg_m3_from_ppm,
    oel,
    ppm_from_mg_m3,
    toxic_setpoints,
)
from indunet.core.errors import InvalidInput


def test_combustible() -> None:
    assert combustible_setpoints() == SetPoints(25.0, 50.0, "%LEL", "25 %/50 % LEL")


@pytest.mark.parametrize(
    ("substance", "value", "limit"),
    [
        ("ammonia", 30.0, "PC-STEL"),  # PC-TWA 20, PC-STEL 30: the STEL goes before the TWA
        ("hydrogen_sulfide", 10.0, "MAC"),
        ("chlorine", 1.0, "MAC"),
        ("carbon_monoxide", 30.0, "PC-STEL"),
        ("ethylene_oxide", 2.0, "PC-TWA"),  # no MAC, no STEL
    ],
)
def test_oel_order(substance: str, value: float, limit: str) -> None:
    assert oel(substance) == (value, limit)


@pytest.mark.parametrize(
    ("substance", "unit", "first", "second", "basis"),
    [
        ("ammonia", "mg/m3", 30, 60, "100 %/200 % OEL (PC-STEL 30 mg/m3)"),
        # 30 × 24.04 / 17.031 = 42.346 ppm
        ("ammonia", "ppm", 42.346, 84.692, "100 %/200 % OEL (PC-STEL 30 mg/m3)"),
        ("hydrogen_sulfide", "mg/m3", 10, 20, "100 %/200 % OEL (MAC 10 mg/m3)"),
        # 10 × 24.04 / 34.081 = 7.0538 ppm
        ("hydrogen_sulfide", "ppm", 7.0538, 14.108, "100 %/200 % OEL (MAC 10 mg/m3)"),
        ("chlorine", "mg/m3", 1, 2, "100 %/200 % OEL (MAC 1 mg/m3)"),
        # 1 × 24.04 / 70.906 = 0.33904 ppm
        ("chlorine", "ppm", 0.33904, 0.67808, "100 %/200 % OEL (MAC 1 mg/m3)"),
        ("carbon_monoxide", "mg/m3", 30, 60, "100 %/200 % OEL (PC-STEL 30 mg/m3)"),
        # 30 × 24.04 / 28.010 = 25.748 ppm
        ("carbon_monoxide", "ppm", 25.748, 51.496, "100 %/200 % OEL (PC-STEL 30 mg/m3)"),
    ],
)
def test_toxic_setpoints(substance: str, unit: str, first: float, second: float, basis: str) -> None:
    found = toxic_setpoints(substance, unit)
    assert found.first == pytest.approx(first, rel=1e-4)
    assert found.second == pytest.approx(second, rel=1e-4)
    assert (found.unit, found.basis) == (unit, basis)


@pytest.mark.parametrize("name", ["7783-06-4", "硫化氢", "Hydrogen Sulfide", "hydrogen sulphide"])
def test_lookup_by_cas_and_names(name: str) -> None:
    assert toxic_setpoints(name) == toxic_setpoints("hydrogen_sulfide")


def test_idlh_fallback() -> None:
    # GB/T 50493-2019 quotes 430 mg/m3 for H2S: alarms at 5 % and 10 % of it.
    found = idlh_setpoints("hydrogen_sulfide")
    assert (found.first, found.second, found.unit) == (pytest.approx(21.5), pytest.approx(43.0), "mg/m3")
    assert found.basis == "5 %/10 % IDLH (IDLH 430 mg/m3)"
    with pytest.raises(InvalidInput) as caught:
        idlh_setpoints("phosphine")
    assert caught.value.key == "error.no_idlh"


@pytest.mark.parametrize("name", ["unobtainium", "methane", ""])
def test_no_oel(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        toxic_setpoints(name)
    assert caught.value.key == "error.no_oel"


def test_bad_unit() -> None:
    with pytest.raises(InvalidInput) as caught:
        toxic_setpoints("ammonia", "ppb")
    assert caught.value.key == "error.bad_concentration_unit"


@pytest.mark.parametrize("molar_mass", [0.0, -17.0, float("nan"), float("inf")])
def test_bad_molar_mass(molar_mass: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        ppm_from_mg_m3(1.0, molar_mass)
    assert caught.value.key == "error.bad_molar_mass"


@given(st.floats(0, 1e6, allow_nan=False), st.floats(1.0, 500.0))
def test_ppm_round_trip(value: float, molar_mass: float) -> None:
    back = mg_m3_from_ppm(ppm_from_mg_m3(value, molar_mass), molar_mass)
    assert math.isclose(back, value, rel_tol=1e-12, abs_tol=1e-300)


def rows() -> list[dict[str, Any]]:
    path = resources.files("indunet") / "apps" / "safety" / "data" / "oel.json"
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["substances"]
    return data


def test_keys_agree_with_gb18218() -> None:
    for row in rows():
        assert catalogue().substance(row["cas"]).key == row["key"]


def test_every_substance_has_an_oel_and_a_molar_mass() -> None:
    for row in rows():
        assert oel(row["key"])[0] > 0
        assert row["molar_mass_g_mol"] > 0
