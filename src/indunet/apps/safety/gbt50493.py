"""Alarm set-points of fixed gas detectors after GB/T 50493-2019 (石油化工可燃气体和有毒气体检测报警设计标准).

    combustible gas   first alarm ≤ 25 % LEL     second alarm ≤ 50 % LEL
    toxic gas         first alarm ≤ 100 % OEL    second alarm ≤ 200 % OEL
                      or, when no available detector measures that range,
                      first alarm ≤ 5 % IDLH     second alarm ≤ 10 % IDLH

The OEL of a toxic gas is its limit in GBZ 2.1-2019: the MAC if one is set, else the PC-STEL, else the
PC-TWA. The functions give the upper bounds the standard allows; a design may set lower alarms.
Limits, IDLH values and molar masses live in data/oel.json with their sources and open questions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from indunet.apps.safety.gb18218 import normalise_name
from indunet.core.errors import InvalidInput

# Litres per mole of an ideal gas at 20 °C and 101.325 kPa, the reference state of GBZ 2.1-2019.
MOLAR_VOLUME_L = 24.04
UNITS = ("mg/m3", "ppm")
_SHOWN = 100
# The order in which GB/T 50493-2019 takes a GBZ 2.1-2019 limit as the OEL.
_OEL_ORDER = (("mac_mg_m3", "MAC"), ("pc_stel_mg_m3", "PC-STEL"), ("pc_twa_mg_m3", "PC-TWA"))


@dataclass(frozen=True, slots=True)
class SetPoints:
    first: float
    second: float
    unit: str
    basis: str


def combustible_setpoints() -> SetPoints:
    return SetPoints(25.0, 50.0, "%LEL", "25 %/50 % LEL")


def oel(substance: str) -> tuple[float, str]:
    """The OEL in mg/m3 and which limit it is: "MAC", "PC-STEL" or "PC-TWA"."""
    row = _row(substance)
    for field, name in _OEL_ORDER:
        if row[field] is not None:
            return float(row[field]), name
    raise _no_oel(substance)


def toxic_setpoints(substance: str, unit: str = "mg/m3") -> SetPoints:
    value, limit = oel(substance)
    basis = f"100 %/200 % OEL ({limit} {value:g} mg/m3)"
    return _setpoints(value, 2 * value, unit, basis, _row(substance))


def idlh_setpoints(substance: str, unit: str = "mg/m3") -> SetPoints:
    """The fallback when no available detector can measure the OEL-based alarms."""
    row = _row(substance)
    if row["idlh_mg_m3"] is None:
        shown = substance[:_SHOWN]
        raise InvalidInput(f"no IDLH is known for {shown!r}", key="error.no_idlh", substance=shown)
    idlh = float(row["idlh_mg_m3"])
    return _setpoints(0.05 * idlh, 0.10 * idlh, unit, f"5 %/10 % IDLH (IDLH {idlh:g} mg/m3)", row)


def ppm_from_mg_m3(value: float, molar_mass: float) -> float:
    return value * MOLAR_VOLUME_L / _checked(molar_mass)


def mg_m3_from_ppm(value: float, molar_mass: float) -> float:
    return value * _checked(molar_mass) / MOLAR_VOLUME_L


def _setpoints(first: float, second: float, unit: str, basis: str, row: Mapping[str, Any]) -> SetPoints:
    if unit == "mg/m3":
        return SetPoints(first, second, unit, basis)
    if unit == "ppm":
        molar_mass = float(row["molar_mass_g_mol"])
        return SetPoints(ppm_from_mg_m3(first, molar_mass), ppm_from_mg_m3(second, molar_mass), unit, basis)
    shown = unit[:_SHOWN]
    raise InvalidInput(
        f"concentrations come in {' or '.join(UNITS)}, not {shown!r}",
        key="error.bad_concentration_unit",
        unit=shown,
    )


def _checked(molar_mass: float) -> float:
    if not (math.isfinite(molar_mass) and molar_mass > 0):
        raise InvalidInput(
            f"a molar mass must be a positive number, not {molar_mass}",
            key="error.bad_molar_mass",
        )
    return molar_mass


def _row(substance: str) -> Mapping[str, Any]:
    row = _table().get(normalise_name(substance))
    if row is None:
        raise _no_oel(substance)
    return row


def _no_oel(substance: str) -> InvalidInput:
    shown = substance[:_SHOWN]
    return InvalidInput(
        f"no occupational exposure limit is known for {shown!r}", key="error.no_oel", substance=shown
    )


@cache
def _table() -> dict[str, Mapping[str, Any]]:
    """oel.json by every name a substance goes by: key, CAS number, Chinese and English names."""
    path = resources.files("indunet") / "apps" / "safety" / "data" / "oel.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    table: dict[str, Mapping[str, Any]] = {}
    for row in document["substances"]:
        for name in (
            row["key"],
            row["cas"],
            row["name_zh"],
            row["name_en"],
            *row["aliases_zh"],
            *row["aliases_en"],
        ):
            table[normalise_name(name)] = row
    return table
