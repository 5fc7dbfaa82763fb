"""The risk feature library: accident precursors and failure modes per unit type, as versioned data.

A library is one document (YAML or JSON):

    version: "2026.1"
    failure_modes:
      - code: FM-LEAK-FLANGE
        unit_types: [pressurised_storage]
        title: {en: Flange gasket leak, zh-CN: 法兰垫片泄漏}
    features:
      - id: vapour-rise-with-level-loss
        unit_types: [atmospheric_storage, pressurised_storage]   # "*" for every unit type
        title: {en: ..., zh-CN: ...}
        when: "lel_rate > 0.5 and level_rate < -0.01"           # over the unit's variables (assess.py)
        level: 4                                                 # 1 red ... 4 blue
        failure_mode: FM-LEAK-FLANGE                             # optional
        advice: {en: ..., zh-CN: ...}

``when`` is a rule expression (platform/rules/expression.py: arithmetic, comparisons, and/or, abs, min,
max; nothing else), so an imported library can never run code. A feature matches while its expression
holds over the unit's present variables; a variable the unit does not have makes it not match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from indunet.core.errors import InvalidInput
from indunet.core.validation import refused
from indunet.platform.rules import Expression

_KINDS = ("lel", "toxic", "temperature", "pressure", "level", "flow")
VARIABLES = frozenset(
    (
        *_KINDS,
        *(f"{k}_rate" for k in _KINDS),
        "gas_alarms",
        "gas_pct_of_alarm",
        "toxic_pct_of_alarm",
        "health",
    )
)
"""What a feature's ``when`` may read: the variables ``assess.Evaluator`` gives each unit."""
MAX_FEATURES = 500
MAX_DOCUMENT_BYTES = 1_000_000
_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class _Strict(BaseModel):
    model_config = {"extra": "forbid", "frozen": True, "strict": True}


Text = dict[Annotated[str, Field(pattern=r"^(en|zh-CN)$")], Annotated[str, Field(max_length=500)]]


class FailureMode(_Strict):
    code: str = Field(pattern=_ID)
    unit_types: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=50)
    title: Text


class Feature(_Strict):
    id: str = Field(pattern=_ID)
    unit_types: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=50)
    title: Text
    when: str = Field(min_length=1, max_length=500)
    level: int = Field(ge=1, le=4)
    failure_mode: str | None = Field(default=None, pattern=_ID)
    advice: Text = Field(default_factory=dict)


class Library(_Strict):
    version: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
    title: Text = Field(default_factory=dict)
    failure_modes: list[FailureMode] = Field(default_factory=list, max_length=MAX_FEATURES)
    features: list[Feature] = Field(default_factory=list, max_length=MAX_FEATURES)

    @model_validator(mode="after")
    def _consistent(self) -> Library:
        codes = [m.code for m in self.failure_modes]
        if len(set(codes)) != len(codes):
            raise ValueError("failure mode codes must be unique")
        ids = [f.id for f in self.features]
        if len(set(ids)) != len(ids):
            raise ValueError("feature ids must be unique")
        for feature in self.features:
            if feature.failure_mode is not None and feature.failure_mode not in codes:
                raise ValueError(f"feature {feature.id}: unknown failure mode {feature.failure_mode}")
        return self

    def failure_mode(self, code: str) -> FailureMode | None:
        return next((m for m in self.failure_modes if m.code == code), None)


def parse_library(content: bytes | str | Mapping[str, Any]) -> Library:
    """A library from YAML/JSON text or a parsed document; every problem at once as one 422."""
    document: Any = content
    if isinstance(content, bytes | str):
        if len(content) > MAX_DOCUMENT_BYTES:
            raise InvalidInput(
                f"a feature library is at most {MAX_DOCUMENT_BYTES} bytes", key="error.library_too_large"
            )
        try:
            document = yaml.safe_load(content)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"not YAML or JSON: {exc}", key="error.bad_library", detail=str(exc)) from None
    try:
        library = Library.model_validate(document)
    except ValidationError as exc:
        raise refused(exc, "feature library", "error.bad_library") from None
    for feature in library.features:
        try:
            unknown = sorted(Expression(feature.when).names - VARIABLES)
        except InvalidInput as exc:
            raise InvalidInput(
                f"feature {feature.id}: {exc}", key="error.bad_library", detail=f"{feature.id}: {exc}"
            ) from None
        if unknown:
            # A misspelt variable would never match: the precursor would silently watch nothing.
            detail = (
                f"{feature.id}: unknown variable {', '.join(unknown)} (known: {', '.join(sorted(VARIABLES))})"
            )
            raise InvalidInput(f"feature {detail}", key="error.bad_library", detail=detail)
    return library


def digest(library: Library) -> str:
    canonical = json.dumps(library.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@cache
def default_library() -> Library:
    """The library indunet ships (data/risk_features.yaml), used until a tenant imports its own."""
    path = resources.files("indunet") / "apps" / "safety" / "data" / "risk_features.yaml"
    return parse_library(path.read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Compiled:
    id: str
    level: int
    failure_mode: str | None
    expression: Expression


class FeatureSet:
    """A library compiled for matching: features by unit type."""

    def __init__(self, library: Library | None) -> None:
        self.library = library
        self._by_type: dict[str, list[Compiled]] = {}
        for feature in library.features if library else ():
            compiled = Compiled(feature.id, feature.level, feature.failure_mode, Expression(feature.when))
            for unit_type in feature.unit_types:
                self._by_type.setdefault(unit_type, []).append(compiled)

    @classmethod
    def empty(cls) -> FeatureSet:
        return cls(None)

    def matching(self, unit_type: str, variables: Mapping[str, float]) -> list[Compiled]:
        candidates = self._by_type.get(unit_type, []) + self._by_type.get("*", [])
        return [f for f in candidates if f.expression.evaluate(variables)]
