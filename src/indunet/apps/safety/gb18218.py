"""Major hazard installations of hazardous chemicals after GB 18218-2018: identification and grading.

A unit (a production or a storage unit) is a major hazard installation when its hazardous chemicals
reach their critical quantities (clause 4.2):

    Σ q/Q ≥ 1

q is the largest quantity of a chemical that can be present in the unit, in tonnes, and Q its critical
quantity: from Table 1 when the standard names the chemical, else from the Table-2 category its hazard
falls in. The installation is then graded (clause 4.3) by

    R = α · Σ β·q/Q

β corrects for the chemical's hazard: Table 3 names it for some toxic gases, Table 4 gives it by
category for everything else. α corrects for the people who may be exposed within 500 m outside the
plant (Table 5). Table 6 turns R into levels 1 (R ≥ 100, the worst) to 4 (R < 10).

The tables live in data/gb18218_2018.json with their sources, and with the notes on what the standard
leaves open, such as the category of a Table-1 chemical that Table 3 does not name. Nothing here rounds:
a grade on a boundary (R = 100, Σ q/Q = 1) is decided on the exact figures.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from indunet.core.errors import InvalidInput

FORMULA = "R = α·Σ(β·q/Q)"
CATEGORY_PREFIX = "category:"
MAX_HOLDINGS = 200
MAX_QUANTITY_T = 1e7
MAX_EXPOSED_PEOPLE = 1_000_000
# Sulfur trioxide fits no Table-2 category; its ratio enters R uncorrected.
NO_CATEGORY = "-"
_SHOWN = 100  # characters of an unknown name echoed back in an error


@dataclass(frozen=True, slots=True)
class Substance:
    key: str
    name_zh: str
    name_en: str
    cas: str | None
    critical_t: float
    beta: float
    category: str
    toxic_gas: bool


def normalise_name(text: str) -> str:
    """The form names are compared in: full-width brackets and digits folded, case and spacing ignored."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


class Catalogue:
    """Tables 1 to 6 of the standard, built from the JSON document in data/."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.version: str = document["version"]
        table4 = {code: float(beta) for code, beta in document["table4"].items()}
        self._categories = {row["code"]: _category(row, table4) for row in document["table2"]}
        table3 = {row["key"]: float(row["beta"]) for row in document["table3"]}
        self._by_key: dict[str, Substance] = {}
        self._index: dict[str, set[str]] = {}
        for row in document["table1"]:
            self._add(row, float(row["critical_t"]), table3, table4)
        for row in document["unlisted"]:
            self._add(row, self._categories[row["category"]].critical_t, table3, table4)
        if missing := set(table3) - set(self._by_key):
            raise ValueError(f"Table 3 names substances the catalogue lacks: {sorted(missing)}")
        self._alphas = sorted(
            ((int(row["people_min"]), float(row["alpha"])) for row in document["table5"]), reverse=True
        )
        self._levels = sorted(
            ((float(row["r_min"]), int(row["level"])) for row in document["table6"]), reverse=True
        )

    def _add(
        self,
        row: Mapping[str, Any],
        critical_t: float,
        table3: Mapping[str, float],
        table4: Mapping[str, float],
    ) -> None:
        category: str = row["category"]
        if category != NO_CATEGORY and category not in table4:
            raise ValueError(f"{row['key']}: no Table-4 beta for category {category!r}")
        beta = table3.get(row["key"], table4.get(category, 1.0))
        substance = Substance(
            key=row["key"],
            name_zh=row["name_zh"],
            name_en=row["name_en"],
            cas=row["cas"],
            critical_t=critical_t,
            beta=beta,
            category=category,
            toxic_gas=row["key"] in table3,
        )
        self._by_key[substance.key] = substance
        names: Iterable[str] = (
            substance.key,
            substance.name_zh,
            substance.name_en,
            *([substance.cas] if substance.cas else []),
            *row.get("cas_other", ()),
            *row["aliases_zh"],
            *row["aliases_en"],
        )
        for name in names:
            self._index.setdefault(normalise_name(name), set()).add(substance.key)

    def substance(self, key_or_cas_or_name: str) -> Substance:
        """A chemical by key, CAS number, or Chinese or English name (aliases included)."""
        keys = self._index.get(normalise_name(key_or_cas_or_name), set())
        if len(keys) == 1:
            return self._by_key[next(iter(keys))]
        shown = key_or_cas_or_name[:_SHOWN]
        if not keys:
            raise InvalidInput(
                f"{shown!r} is not a substance of {self.version}",
                key="error.unknown_substance",
                substance=shown,
            )
        # Rows of one chemical in different grades (nitrocellulose, ammonium nitrate) share a CAS number.
        candidates = ", ".join(sorted(keys))
        raise InvalidInput(
            f"{shown!r} names several rows of {self.version}: {candidates}",
            key="error.ambiguous_substance",
            substance=shown,
            candidates=candidates,
        )

    def category(self, code: str) -> Substance:
        """A Table-2 category ("W5.3") as a pseudo-substance: its critical quantity and Table-4 beta."""
        found = self._categories.get(code.strip().upper())
        if found is None:
            shown = code[:_SHOWN]
            raise InvalidInput(
                f"{shown!r} is not a hazard category of {self.version}",
                key="error.unknown_hazard_category",
                category=shown,
            )
        return found

    def resolve(self, name: str) -> Substance:
        """What a holding names: a substance, or "category:<code>" for a chemical Table 1 does not list."""
        if name.strip().casefold().startswith(CATEGORY_PREFIX):
            return self.category(name.strip()[len(CATEGORY_PREFIX) :])
        return self.substance(name)

    def substances(self) -> list[Substance]:
        return list(self._by_key.values())

    def categories(self) -> list[Substance]:
        return list(self._categories.values())

    def alpha(self, exposed_people: int) -> float:
        _check_people(exposed_people)
        return next(value for minimum, value in self._alphas if exposed_people >= minimum)

    def level_of(self, r: float) -> int:
        return next((level for minimum, level in self._levels if r >= minimum), self._levels[-1][1])


def _category(row: Mapping[str, Any], table4: Mapping[str, float]) -> Substance:
    code: str = row["code"]
    return Substance(
        key=CATEGORY_PREFIX + code,
        name_zh=f"{row['hazard_zh']}：{row['description_zh']}",
        name_en=f"{row['hazard_en']}: {row['description_en']}",
        cas=None,
        critical_t=float(row["critical_t"]),
        beta=table4[code],
        category=code,
        toxic_gas=False,
    )


@cache
def _bundled() -> Catalogue:
    path = resources.files("indunet") / "apps" / "safety" / "data" / "gb18218_2018.json"
    return Catalogue(json.loads(path.read_text(encoding="utf-8")))


def catalogue() -> Catalogue:
    """The catalogue indunet ships, loaded once."""
    return _bundled()


@dataclass(frozen=True, slots=True)
class Holding:
    substance: str  # key, CAS number or name, or "category:W5.3"
    quantity_t: float


@dataclass(frozen=True, slots=True)
class Term:
    substance: str
    name_zh: str
    name_en: str
    quantity_t: float
    critical_t: float
    ratio: float
    beta: float
    weighted: float


@dataclass(frozen=True, slots=True)
class Grading:
    terms: tuple[Term, ...]
    sum_ratio: float
    major: bool
    exposed_people: int
    alpha: float
    r: float
    level: int | None
    standard: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "standard": self.standard,
            "formula": FORMULA,
            "identification": "Σ(q/Q) ≥ 1",
            "exposed_people": self.exposed_people,
            "alpha": self.alpha,
            "terms": [
                {
                    "substance": term.substance,
                    "name_zh": term.name_zh,
                    "name_en": term.name_en,
                    "quantity_t": term.quantity_t,
                    "critical_t": term.critical_t,
                    "ratio": term.ratio,
                    "beta": term.beta,
                    "weighted": term.weighted,
                }
                for term in self.terms
            ],
            "sum_ratio": self.sum_ratio,
            "sum_weighted": math.fsum(term.weighted for term in self.terms),
            "major": self.major,
            "r": round(self.r, 2),
            "r_exact": self.r,
            "level": self.level,
        }


def alpha(exposed_people: int) -> float:
    """Table 5: α for the people who may be exposed within 500 m outside the plant."""
    return _bundled().alpha(exposed_people)


def level_of(r: float) -> int:
    """Table 6: the level (1 worst, 4 least) of an R value."""
    return _bundled().level_of(r)


def grade(holdings: Sequence[Holding], exposed_people: int, catalogue: Catalogue | None = None) -> Grading:
    """Identify and grade one unit. The same substance named twice (by key and by CAS, say) adds up."""
    tables = catalogue or _bundled()
    if len(holdings) > MAX_HOLDINGS:
        raise InvalidInput(
            f"a unit may list at most {MAX_HOLDINGS} holdings, not {len(holdings)}",
            key="error.too_many_holdings",
            limit=MAX_HOLDINGS,
            count=len(holdings),
        )
    factor = tables.alpha(exposed_people)
    quantities: dict[str, list[float]] = {}
    found: dict[str, Substance] = {}
    for holding in holdings:
        if not (math.isfinite(holding.quantity_t) and 0 <= holding.quantity_t <= MAX_QUANTITY_T):
            raise InvalidInput(
                f"the quantity of {holding.substance[:_SHOWN]!r} must be 0 to {MAX_QUANTITY_T:g} t",
                key="error.bad_quantity",
                substance=holding.substance[:_SHOWN],
            )
        substance = tables.resolve(holding.substance)
        found[substance.key] = substance
        quantities.setdefault(substance.key, []).append(holding.quantity_t)
    terms = tuple(_term(found[key], math.fsum(parts)) for key, parts in quantities.items())
    sum_ratio = math.fsum(term.ratio for term in terms)
    r = factor * math.fsum(term.weighted for term in terms)
    major = sum_ratio >= 1
    return Grading(
        terms=terms,
        sum_ratio=sum_ratio,
        major=major,
        exposed_people=exposed_people,
        alpha=factor,
        r=r,
        level=tables.level_of(r) if major else None,
        standard=tables.version,
    )


def _term(substance: Substance, quantity_t: float) -> Term:
    return Term(
        substance=substance.key,
        name_zh=substance.name_zh,
        name_en=substance.name_en,
        quantity_t=quantity_t,
        critical_t=substance.critical_t,
        ratio=quantity_t / substance.critical_t,
        beta=substance.beta,
        weighted=substance.beta * quantity_t / substance.critical_t,
    )


def _check_people(exposed_people: int) -> None:
    # type() rather than isinstance(): True is an int, and not a head count.
    if type(exposed_people) is not int or not 0 <= exposed_people <= MAX_EXPOSED_PEOPLE:
        raise InvalidInput(
            f"exposed people must be a whole number from 0 to {MAX_EXPOSED_PEOPLE}",
            key="error.bad_exposed_people",
            exposed_people=str(exposed_people)[:_SHOWN],
        )
