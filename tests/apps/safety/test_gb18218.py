"""GB 18218-2018: the tables as transcribed, published worked examples reproduced, every grade boundary
decided on exact figures, and the grading monotone in what it should be monotone in."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.apps.safety.gb18218 import (
    Catalogue,
    Holding,
    alpha,
    catalogue,
    grade,
    level_of,
)
from indunet.core.errors import InvalidInput


def document() -> dict[str, Any]:
    path = resources.files("indunet") / "apps" / "safety" / "data" / "gb18218_2018.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# --- the tables ---------------------------------------------------------------------------------------


def test_table1_has_the_85_rows_of_the_standard() -> None:
    rows = document()["table1"]
    assert [row["no"] for row in rows] == list(range(1, 86))
    assert len({row["key"] for row in rows}) == 85
    assert catalogue().version == "GB 18218-2018"


@pytest.mark.parametrize(
    ("key", "critical_t"),
    [
        ("ammonia", 10),
        ("chlorine", 5),
        ("hydrogen_sulfide", 5),
        ("phosgene", 0.3),
        ("methyl_isocyanate", 0.75),
        ("lpg", 50),
        ("methanol", 500),
        ("gasoline", 200),
        ("oxygen", 200),
        ("ammonium_nitrate", 50),
        ("potassium_nitrate", 1000),
    ],
)
def test_critical_quantities(key: str, critical_t: float) -> None:
    assert catalogue().substance(key).critical_t == critical_t


def test_table2_critical_quantities() -> None:
    expected = {
        "J1": 5, "J2": 50, "J3": 50, "J4": 50, "J5": 500, "W1.1": 1, "W1.2": 10, "W1.3": 50, "W2": 10,
        "W3": 150, "W4": 50, "W5.1": 10, "W5.2": 50, "W5.3": 1000, "W5.4": 5000, "W6.1": 10, "W6.2": 50,
        "W7.1": 10, "W7.2": 50, "W8": 50, "W9.1": 50, "W9.2": 200, "W10": 200, "W11": 200,
    }  # fmt: skip
    assert {c.category: c.critical_t for c in catalogue().categories()} == expected


def test_table3_beta_of_toxic_gases_by_name() -> None:
    expected = {
        "carbon_monoxide": 2, "sulfur_dioxide": 2, "ammonia": 2, "ethylene_oxide": 2, "hydrogen_chloride": 3,
        "methyl_bromide": 3, "chlorine": 4, "hydrogen_sulfide": 5, "hydrogen_fluoride": 5,
        "nitrogen_dioxide": 10, "hydrogen_cyanide": 10, "phosgene": 20, "phosphine": 20, "methyl_isocyanate": 20,
    }  # fmt: skip
    found = {s.key: s.beta for s in catalogue().substances() if s.toxic_gas}
    assert found == expected


def test_table4_beta_by_category() -> None:
    expected = {
        "J1": 4, "J2": 1, "J3": 2, "J4": 2, "J5": 1, "W1.1": 2, "W1.2": 2, "W1.3": 2, "W2": 1.5, "W3": 1,
        "W4": 1, "W5.1": 1.5, "W5.2": 1, "W5.3": 1, "W5.4": 1, "W6.1": 1.5, "W6.2": 1, "W7.1": 1.5, "W7.2": 1,
        "W8": 1, "W9.1": 1, "W9.2": 1, "W10": 1, "W11": 1,
    }  # fmt: skip
    assert {c.category: c.beta for c in catalogue().categories()} == expected


def test_toxic_gas_beta_comes_from_table3_not_its_category() -> None:
    chlorine = catalogue().substance("chlorine")
    assert (chlorine.category, chlorine.beta, chlorine.toxic_gas) == ("J3", 4.0, True)
    assert catalogue().category("J3").beta == 2.0
    # A gas Table 3 does not name takes its category's beta: fluorine is acute toxicity cat. 1 (J1).
    fluorine = catalogue().substance("fluorine")
    assert (fluorine.category, fluorine.beta, fluorine.toxic_gas) == ("J1", 4.0, False)
    lpg = catalogue().substance("lpg")
    assert (lpg.category, lpg.beta, lpg.toxic_gas) == ("W2", 1.5, False)


def test_carbon_monoxide_takes_its_quantity_from_its_category() -> None:
    co = catalogue().substance("一氧化碳")
    assert (co.key, co.critical_t, co.beta, co.toxic_gas) == ("carbon_monoxide", 10.0, 2.0, True)


# --- lookup -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("7664-41-7", "ammonia"),
        ("液氨", "ammonia"),
        ("Ammonia", "ammonia"),
        ("  AMMONIA ", "ammonia"),
        ("7783-06-4", "hydrogen_sulfide"),
        ("硫化氢", "hydrogen_sulfide"),
        ("光气", "phosgene"),
        ("甲醇", "methanol"),
        ("Methanol", "methanol"),
        ("74-98-6", "lpg"),
        ("丙烷", "lpg"),
        ("8006-14-2", "methane"),
        ("天然气", "methane"),
        ("氯化氢（无水）", "hydrogen_chloride"),
    ],
)
def test_lookup_by_cas_and_names(name: str, key: str) -> None:
    assert catalogue().substance(name).key == key


def test_unknown_substance() -> None:
    with pytest.raises(InvalidInput) as caught:
        catalogue().substance("unobtainium")
    assert caught.value.key == "error.unknown_substance"
    assert caught.value.params == {"substance": "unobtainium"}


def test_a_cas_number_shared_by_several_rows_is_ambiguous() -> None:
    with pytest.raises(InvalidInput) as caught:
        catalogue().substance("6484-52-2")
    assert caught.value.key == "error.ambiguous_substance"
    assert caught.value.params["candidates"] == "ammonium_nitrate, ammonium_nitrate_combustible"


def test_categories() -> None:
    w53 = catalogue().resolve("category:w5.3")
    assert (w53.key, w53.critical_t, w53.beta, w53.cas) == ("category:W5.3", 1000.0, 1.0, None)
    with pytest.raises(InvalidInput) as caught:
        catalogue().resolve("category:W12")
    assert caught.value.key == "error.unknown_hazard_category"


def test_table3_must_name_known_substances() -> None:
    broken = document()
    broken["table3"].append({"key": "vibranium", "name_zh": "振金", "beta": 99})
    with pytest.raises(ValueError, match="vibranium"):
        Catalogue(broken)


# --- published worked examples ------------------------------------------------------------------------


def test_sulfur_dioxide_exam_question() -> None:
    """200 t SO2 (Q = 20 t, β = 2), 60 people exposed (α = 1.5): R = 1.5 × (2 × 200/20) = 30, level 3.

    Registered safety engineer exam question, with its worked answer:
    http://www.cquc.net:8089/YFB12/examTab_getExam.action?ex_Id=29970&su_Id=7
    https://www.8fe.cn/test-question-282515.html
    """
    result = grade([Holding("二氧化硫", 200)], exposed_people=60)
    assert (result.alpha, result.sum_ratio, result.r, result.level) == (1.5, 10.0, 30.0, 3)


def test_store_identification_exam_question() -> None:
    """Which store is no major hazard installation? B: 30 t TDI, 10 t acrolein, 5 t propylene oxide,
    30/100 + 10/20 + 5/10 = 1.3; D: 200 t ethanol, 100 t gasoline, 1 t ether, 200/500 + 100/200 + 1/10 = 1:
    both are. http://liangxue.laixue.com/test/7001413 — its stores A and C are left out: their figures
    use critical quantities other than those of GB 18218-2018 (styrene 50 t, nitrocellulose 10 t)."""
    store_b = grade([Holding("甲苯二异氰酸酯", 30), Holding("丙烯醛", 10), Holding("环氧丙烷", 5)], 0)
    assert store_b.sum_ratio == pytest.approx(1.3, abs=1e-12)
    assert store_b.major
    store_d = grade([Holding("乙醇", 200), Holding("汽油", 100), Holding("乙醚", 1)], 0)
    assert store_d.sum_ratio == 1.0
    assert store_d.major


# --- boundaries -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("people", "expected"),
    [(0, 0.5), (1, 1.0), (29, 1.0), (30, 1.2), (49, 1.2), (50, 1.5), (99, 1.5), (100, 2.0), (10**6, 2.0)],
)
def test_alpha_bands(people: int, expected: float) -> None:
    assert alpha(people) == expected


@pytest.mark.parametrize(
    ("r", "level"), [(100, 1), (1000, 1), (99.99, 2), (50, 2), (49.99, 3), (10, 3), (9.99, 4), (0, 4)]
)
def test_levels(r: float, level: int) -> None:
    assert level_of(r) == level


@pytest.mark.parametrize(
    ("holding", "people", "r", "level"),
    [
        (Holding("ammonia", 250), 100, 100.0, 1),  # 2 × 2 × 250/10
        (Holding("methanol", 24997.5), 100, 99.99, 2),  # 2 × 1 × 24997.5/500
        (Holding("ammonia", 125), 100, 50.0, 2),
        (Holding("chlorine", 12.5), 1, 10.0, 3),  # 1 × 4 × 12.5/5
        (Holding("methanol", 4995), 29, 9.99, 4),
    ],
)
def test_grade_boundaries(holding: Holding, people: int, r: float, level: int) -> None:
    result = grade([holding], people)
    assert result.r == r
    assert result.level == level


def test_sum_ratio_of_exactly_one_is_major() -> None:
    result = grade([Holding("ammonia", 10)], 0)
    assert (result.sum_ratio, result.major, result.r, result.level) == (1.0, True, 1.0, 4)


def test_below_the_critical_quantity_r_but_no_level() -> None:
    result = grade([Holding("ammonia", 9.99)], 500)
    assert not result.major
    assert result.r == pytest.approx(2 * 2 * 0.999)
    assert result.level is None
    assert result.to_dict()["level"] is None


def test_the_same_substance_twice_adds_up() -> None:
    result = grade([Holding("ammonia", 6), Holding("7664-41-7", 4), Holding("category:W5.3", 500)], 0)
    assert [(t.substance, t.quantity_t, t.ratio) for t in result.terms] == [
        ("ammonia", 10.0, 1.0),
        ("category:W5.3", 500.0, 0.5),
    ]
    assert result.sum_ratio == 1.5
    assert result.r == 0.5 * (2 * 1.0 + 1 * 0.5)


def test_to_dict() -> None:
    data = grade([Holding("chlorine", 1), Holding("lpg", 10)], 40).to_dict()
    assert data["formula"] == "R = α·Σ(β·q/Q)"
    assert data["standard"] == "GB 18218-2018"
    assert data["terms"][0] == {
        "substance": "chlorine", "name_zh": "氯", "name_en": "Chlorine", "quantity_t": 1.0,
        "critical_t": 5.0, "ratio": 0.2, "beta": 4.0, "weighted": 0.8,
    }  # fmt: skip
    assert data["alpha"] == 1.2
    assert data["sum_weighted"] == pytest.approx(1.1)
    assert data["r_exact"] == pytest.approx(1.32)
    assert data["r"] == 1.32
    json.dumps(data)


# --- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [-0.1, 1e7 + 1, float("nan"), float("inf")])
def test_bad_quantity(quantity: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        grade([Holding("ammonia", quantity)], 0)
    assert caught.value.key == "error.bad_quantity"


def test_largest_quantity_is_accepted() -> None:
    assert grade([Holding("ammonia", 1e7)], 0).sum_ratio == 1e6


@pytest.mark.parametrize("people", [-1, 10**6 + 1, True, 2.5])
def test_bad_exposed_people(people: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        grade([Holding("ammonia", 1)], people)
    assert caught.value.key == "error.bad_exposed_people"


def test_too_many_holdings() -> None:
    assert len(grade([Holding("ammonia", 0)] * 200, 0).terms) == 1
    with pytest.raises(InvalidInput) as caught:
        grade([Holding("ammonia", 0)] * 201, 0)
    assert caught.value.key == "error.too_many_holdings"


# --- properties ----------------------------------------------------------------------------------------

KEYS = [
    "ammonia",
    "chlorine",
    "methanol",
    "lpg",
    "hydrogen_sulfide",
    "category:W5.4",
    "tnt",
    "carbon_monoxide",
]
holdings = st.lists(
    st.builds(Holding, st.sampled_from(KEYS), st.floats(0, 1e5, allow_nan=False)), min_size=1, max_size=8
)
people = st.integers(0, 10**6)


@settings(max_examples=200, deadline=None)
@given(holdings, people, st.integers(0, 7), st.floats(0, 1e5, allow_nan=False), st.integers(0, 500))
def test_r_is_monotone_in_quantities_and_people(
    units: list[Holding], exposed: int, which: int, more: float, more_people: int
) -> None:
    base = grade(units, exposed)
    index = which % len(units)
    grown = [
        *units[:index],
        Holding(units[index].substance, units[index].quantity_t + more),
        *units[index + 1 :],
    ]
    assert grade(grown, exposed).r >= base.r
    assert grade(grown, exposed).sum_ratio >= base.sum_ratio
    assert grade(units, min(exposed + more_people, 10**6)).r >= base.r


@settings(max_examples=200, deadline=None)
@given(holdings, people)
def test_level_is_consistent_with_r(units: list[Holding], exposed: int) -> None:
    result = grade(units, exposed)
    assert result.major == (result.sum_ratio >= 1)
    assert result.level == (level_of(result.r) if result.major else None)
    if result.level is not None:
        bounds = {1: (100, float("inf")), 2: (50, 100), 3: (10, 50), 4: (0, 10)}[result.level]
        assert bounds[0] <= result.r < bounds[1]
