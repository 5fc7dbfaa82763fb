"""Metadata templates: what an identifier of a kind must say about its object, typed and versioned.

A template (``pump``, ``cnc-machine``, ``batch``) lists fields with a type (string, integer, number,
boolean, date, datetime, url, handle, enum), whether they are required, bounds, a unit, labels in
English and Chinese, and whether they are searchable. Templates are versioned: a change makes a new
version, and an identifier keeps the version it was registered with, so its record stays valid.

A templated identifier's record holds one value per field present, at indexes 1, 2, ... in the
template's field order, typed with the field name and holding the canonical text of the value; the
value ``TEMPLATE`` at index :data:`TEMPLATE_INDEX` names ``name@version``. Any Handle client reads
such a record as plain values; this module reads it back as typed data.

Everything here is pure: parsing and validation of templates and data, and the values to store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from indunet.idr.model import HandleValue, InvalidHandle, normalise

TEMPLATE_TYPE: Final = "TEMPLATE"
TEMPLATE_INDEX: Final = 99
MAX_FIELDS: Final = 90
"""Fields take indexes 1..90: below the template (99) and the administrator (100)."""
MAX_TEXT: Final = 4096
MAX_PATTERN: Final = 200
MAX_ENUM: Final = 500
MAX_SEARCH_TEXT: Final = 256
MAX_SAFE_INTEGER: Final = 2**53
TYPES: Final = ("string", "integer", "number", "boolean", "date", "datetime", "url", "handle", "enum")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


class TemplateError(ValueError):
    """A template or the data for one is invalid; ``errors`` lists each problem as (path, message)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in errors[:10]))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str = "string"
    required: bool = False
    searchable: bool = False
    unit: str = ""
    label: Mapping[str, str] = field(default_factory=dict)
    enum: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = MAX_TEXT
    pattern: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        out["searchable"] = self.searchable
        for key, value in (("unit", self.unit), ("label", dict(self.label)), ("enum", list(self.enum))):
            if value:
                out[key] = value
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.max_length != MAX_TEXT:
            out["maxLength"] = self.max_length
        if self.pattern:
            out["pattern"] = self.pattern
        return out


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    fields: tuple[Field, ...]
    version: int = 1
    label: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def spec(self) -> dict[str, Any]:
        """The JSON form, without name and version (stored beside them)."""
        out: dict[str, Any] = {"fields": [f.as_json() for f in self.fields]}
        if self.label:
            out["label"] = dict(self.label)
        if self.description:
            out["description"] = self.description
        return out

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, **self.spec()}

    @property
    def searchable(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields if f.searchable)


# -- parsing templates ------------------------------------------------------------------------------


def _labels(raw: Any, path: str, errors: list[tuple[str, str]]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= 16 and len(v) <= 200 for k, v in raw.items()
    ):
        errors.append((path, "a label maps language tags to texts of up to 200 characters"))
        return {}
    return dict(list(raw.items())[:16])


def _finite(value: Any) -> float | None:
    """``value`` as a float when it is a JSON number a float can hold (JSON integers are unbounded:
    ``10**400`` is valid JSON and overflows a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _number(raw: Any, path: str, errors: list[tuple[str, str]]) -> float | None:
    if raw is None:
        return None
    number = _finite(raw)
    if number is None:
        errors.append((path, "is a finite number"))
    return number


def _field(raw: Any, path: str, errors: list[tuple[str, str]]) -> Field | None:
    if not isinstance(raw, dict):
        errors.append((path, "a field is an object"))
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        errors.append((f"{path}.name", "a letter, then up to 63 letters, digits, '_', '.' or '-'"))
        return None
    if name.upper().startswith("HS_") or name.upper() == TEMPLATE_TYPE:
        errors.append((f"{path}.name", f"{name} is reserved by the Handle System"))
    kind = raw.get("type", "string")
    if kind not in TYPES:
        errors.append((f"{path}.type", f"one of {', '.join(TYPES)}"))
    enum: tuple[str, ...] = ()
    if kind == "enum":
        values = raw.get("enum")
        if (
            not isinstance(values, list)
            or not 0 < len(values) <= MAX_ENUM
            or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in values)
        ):
            errors.append((f"{path}.enum", f"an enum lists 1 to {MAX_ENUM} texts"))
        else:
            enum = tuple(values)
    max_length = raw.get("maxLength", MAX_TEXT)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 0 < max_length <= MAX_TEXT:
        errors.append((f"{path}.maxLength", f"an integer from 1 to {MAX_TEXT}"))
        max_length = MAX_TEXT
    pattern = raw.get("pattern", "")
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        errors.append((f"{path}.pattern", f"a regular expression of up to {MAX_PATTERN} characters"))
        pattern = ""
    elif pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            errors.append((f"{path}.pattern", f"not a regular expression: {exc}"))
    flags = {}
    for key in ("required", "searchable"):
        flags[key] = raw.get(key, False)
        if not isinstance(flags[key], bool):
            errors.append((f"{path}.{key}", "true or false"))
    unit = raw.get("unit", "")
    if not isinstance(unit, str) or len(unit) > 32:
        errors.append((f"{path}.unit", "a text of up to 32 characters"))
        unit = ""
    minimum = _number(raw.get("minimum"), f"{path}.minimum", errors)
    maximum = _number(raw.get("maximum"), f"{path}.maximum", errors)
    if minimum is not None and maximum is not None and minimum > maximum:
        errors.append((f"{path}.minimum", "is at most maximum"))
    return Field(
        name=name,
        type=kind if kind in TYPES else "string",
        required=flags["required"] is True,
        searchable=flags["searchable"] is True,
        unit=unit,
        label=_labels(raw.get("label"), f"{path}.label", errors),
        enum=enum,
        minimum=minimum,
        maximum=maximum,
        max_length=max_length,
        pattern=pattern,
    )


def parse_template(raw: Any, *, name: str | None = None, version: int = 1) -> Template:
    """A template from its JSON form; TemplateError listing every problem."""
    errors: list[tuple[str, str]] = []
    if not isinstance(raw, dict):
        raise TemplateError([("", "a template is a JSON object")])
    name = name if name is not None else raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        errors.append(("name", "a letter, then up to 63 letters, digits, '_', '.' or '-'"))
        name = "invalid"
    raw_fields = raw.get("fields")
    if not isinstance(raw_fields, list) or not 0 < len(raw_fields) <= MAX_FIELDS:
        errors.append(("fields", f"a template has 1 to {MAX_FIELDS} fields"))
        raw_fields = []
    parsed = [(i, _field(r, f"fields[{i}]", errors)) for i, r in enumerate(raw_fields)]
    fields = [f for _, f in parsed if f is not None]
    seen: set[str] = set()
    for i, f in parsed:
        if f is None:
            continue
        if f.name.casefold() in seen:
            errors.append((f"fields[{i}].name", f"{f.name} appears twice"))
        seen.add(f.name.casefold())
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        errors.append(("description", "a text of up to 2000 characters"))
        description = ""
    label = _labels(raw.get("label"), "label", errors)
    if errors:
        raise TemplateError(errors)
    return Template(name, tuple(fields), version, label, description)


# -- data -------------------------------------------------------------------------------------------


def _text(f: Field, value: Any) -> str:
    """The canonical text of one field's value; ValueError saying what is wrong."""
    kind = f.type
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"is a{'n integer' if kind == 'integer' else ' number'}")
        if kind == "integer" and (isinstance(value, float) and not value.is_integer()):
            raise ValueError("is an integer")
        if kind == "integer" and abs(value) > MAX_SAFE_INTEGER:
            raise ValueError("is within ±2^53 (what every JSON reader keeps exactly)")
        number = _finite(value)
        if number is None:
            raise ValueError("is a finite number")
        if f.minimum is not None and number < f.minimum:
            raise ValueError(f"is at least {f.minimum:g}")
        if f.maximum is not None and number > f.maximum:
            raise ValueError(f"is at most {f.maximum:g}")
        return str(int(value)) if kind == "integer" else repr(number)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("is true or false")
        return "true" if value else "false"
    if not isinstance(value, str):
        raise ValueError("is a text")
    return _checked_text(f, value)


def _checked_text(f: Field, value: str) -> str:
    kind = f.type
    if len(value) > f.max_length:
        raise ValueError(f"is at most {f.max_length} characters")
    if kind == "enum" and value not in f.enum:
        raise ValueError(f"is one of {', '.join(f.enum[:10])}")
    if kind == "date":
        date.fromisoformat(value)  # ValueError says why
    elif kind == "datetime":
        if datetime.fromisoformat(value).tzinfo is None:
            raise ValueError("needs a time zone (e.g. +08:00)")
    elif kind == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https", "ftp", "urn", "mailto") or not (parts.netloc or parts.path):
            raise ValueError("is a URL (http, https, ftp, urn or mailto)")
    elif kind == "handle":
        try:
            value = normalise(value)
        except InvalidHandle as exc:
            raise ValueError(str(exc)) from None
    if f.pattern and re.fullmatch(f.pattern, value) is None:
        raise ValueError(f"does not match {f.pattern}")
    return value


def to_values(template: Template, data: Any, *, path: str = "data") -> list[HandleValue]:
    """The record values of ``data`` (a JSON object) under ``template``; TemplateError listing every
    missing, unknown or invalid field."""
    if not isinstance(data, dict):
        raise TemplateError([(path, "is a JSON object of field values")])
    errors: list[tuple[str, str]] = []
    known = {f.name for f in template.fields}
    errors.extend((f"{path}.{k}"[:120], "is not a field of the template") for k in data if k not in known)
    values = [HandleValue(TEMPLATE_INDEX, TEMPLATE_TYPE, template.ref.encode())]
    for index, f in enumerate(template.fields, start=1):
        if f.name not in data or data[f.name] is None:
            if f.required:
                errors.append((f"{path}.{f.name}", "is required"))
            continue
        try:
            values.append(HandleValue(index, f.name, _text(f, data[f.name]).encode()))
        except ValueError as exc:
            errors.append((f"{path}.{f.name}", str(exc)))
    if errors:
        raise TemplateError(errors)
    return values


def template_ref(values: Iterable[HandleValue]) -> tuple[str, int] | None:
    """(name, version) of the template a record was registered with, if any."""
    for value in values:
        if value.type == TEMPLATE_TYPE:
            name, at, version = value.data.decode("utf-8", "replace").rpartition("@")
            if at and version.isdigit():
                return name, int(version)
    return None


def from_values(template: Template, values: Iterable[HandleValue]) -> dict[str, Any]:
    """The typed data of a templated record (fields absent from the record are left out)."""
    by_type = {v.type: v for v in values}
    out: dict[str, Any] = {}
    for f in template.fields:
        value = by_type.get(f.name)
        if value is None:
            continue
        text = value.data.decode("utf-8", "replace")
        try:
            if f.type == "integer":
                out[f.name] = int(text)
            elif f.type == "number":
                out[f.name] = float(text)
            elif f.type == "boolean":
                out[f.name] = text == "true"
            else:
                out[f.name] = text
        except ValueError:
            out[f.name] = text  # changed by hand to something else: shown as it is
    return out


def search_text(text: str) -> str:
    """The form in which a value is indexed and a search text compared: the first
    :data:`MAX_SEARCH_TEXT` characters, NUL replaced (PostgreSQL text cannot hold it; values are any
    bytes). Longer values are found by their start: an exact search for one matches every value
    sharing those characters."""
    return text[:MAX_SEARCH_TEXT].replace("\x00", "\ufffd")


def search_rows(template: Template, values: Iterable[HandleValue]) -> list[tuple[str, str]]:
    """(field, text) pairs of a record to index for search: its searchable fields' public values (a
    value only administrators may read is not findable by what it says, nor kept in clear)."""
    wanted = template.searchable
    return [
        (v.type, search_text(v.data.decode("utf-8", "replace")))
        for v in values
        if v.type in wanted and v.public
    ]
