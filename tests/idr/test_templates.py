"""Identifier metadata templates: parsing, typed data, versions, batch registration, field search and
the enterprise HTTP API beside the Handle REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.idr import enterprise, records
from indunet.idr.app import create_node_app
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.enterprise import InvalidData, Item, TemplateNotFound
from indunet.idr.model import HS_ADMIN, HandleValue, Permission
from indunet.idr.records import SYSTEM, Caller, administrator
from indunet.idr.store import HandleStore, open_store
from indunet.idr.templates import (
    MAX_FIELDS,
    TEMPLATE_INDEX,
    TEMPLATE_TYPE,
    Template,
    TemplateError,
    from_values,
    parse_template,
    search_rows,
    template_ref,
    to_values,
)
from indunet.idr.wire.values import AdminPermission, decode_admin

SECRET = "s3cret-of-the-enterprise"
OTHER_SECRET = "other-secret"
ADMIN = administrator("0.NA/88.100.1", 300)
OTHER_ADMIN = administrator("0.NA/88.200.5", 300)
PROBLEM = "application/problem+json"

PUMP: dict[str, Any] = {
    "label": {"en": "Centrifugal pump", "zh-CN": "离心泵"},
    "description": "A pump in the water treatment plants",
    "fields": [
        {
            "name": "serialNumber",
            "type": "string",
            "required": True,
            "searchable": True,
            "pattern": "SN-[0-9]{6}",
            "maxLength": 16,
            "label": {"en": "Serial number", "zh-CN": "序列号"},
        },
        {
            "name": "model",
            "type": "enum",
            "enum": ["CP-100", "CP-200", "CP-300"],
            "searchable": True,
            "label": {"en": "Model", "zh-CN": "型号"},
        },
        {
            "name": "ratedPowerKw",
            "type": "number",
            "minimum": 0,
            "maximum": 10000,
            "unit": "kW",
            "label": {"en": "Rated power", "zh-CN": "额定功率"},
        },
        {"name": "commissioned", "type": "date", "label": {"en": "Commissioned", "zh-CN": "投运日期"}},
        {"name": "lastService", "type": "datetime"},
        {"name": "manual", "type": "url"},
        {"name": "parent", "type": "handle", "label": {"en": "Production line", "zh-CN": "所属产线"}},
        {"name": "running", "type": "boolean"},
        {"name": "stages", "type": "integer"},
        {"name": "plant", "type": "string", "searchable": True, "maxLength": 64},
    ],
}
FIELD_ORDER = [f["name"] for f in PUMP["fields"]]

GOOD: dict[str, Any] = {
    "serialNumber": "SN-000042",
    "model": "CP-200",
    "ratedPowerKw": 75,
    "commissioned": "2023-05-17",
    "lastService": "2024-03-01T08:30:00+08:00",
    "manual": "https://docs.example.cn/cp-200.pdf",
    "parent": "88.100.1/line-3",
    "running": True,
    "stages": 3,
    "plant": "Suzhou-2",
}


def pump() -> Template:
    return parse_template(PUMP, name="pump")


def errors_of(exc: pytest.ExceptionInfo[TemplateError]) -> dict[str, str]:
    return dict(exc.value.errors)


def basic(user: str, password: str) -> dict[str, str]:
    # The user name is percent-encoded, as pyhandle sends it ("300%3A0.NA/88.100.1").
    token = base64.b64encode(f"{quote(user)}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ADMIN_AUTH = basic("300:0.NA/88.100.1", SECRET)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HandleStore]:
    if request.param == "sqlite":
        opened = open_store(tmp_path / "idr.db")
    else:
        opened = open_store(request.getfixturevalue("pg_url"), schema=f"idr_{secrets.token_hex(4)}")
    ensure_prefix(opened, "88.100.1", SECRET.encode())
    ensure_prefix(opened, "88.100.2", SECRET.encode())
    ensure_prefix(opened, "88.200.5", OTHER_SECRET.encode())
    yield opened
    opened.close()


@pytest.fixture
def api(store: HandleStore) -> Iterator[TestClient]:
    with TestClient(create_node_app(store)) as client:
        yield client


def item(n: int, prefix: str = "88.100.1", **data: Any) -> Item:
    return Item(f"{prefix}/pump-{n:04d}", {"serialNumber": f"SN-{n:06d}", **data})


# -- 1. parsing templates ---------------------------------------------------------------------------


def test_a_realistic_pump_template_parses_with_every_field_kind() -> None:
    template = pump()
    assert template.ref == "pump@1"
    assert [f.name for f in template.fields] == FIELD_ORDER
    assert [f.type for f in template.fields] == [
        "string",
        "enum",
        "number",
        "date",
        "datetime",
        "url",
        "handle",
        "boolean",
        "integer",
        "string",
    ]
    serial, model, power = template.fields[:3]
    assert serial.required and serial.searchable and serial.pattern == "SN-[0-9]{6}"
    assert serial.max_length == 16
    assert serial.label == {"en": "Serial number", "zh-CN": "序列号"}
    assert model.enum == ("CP-100", "CP-200", "CP-300") and not model.required
    assert (power.minimum, power.maximum, power.unit) == (0, 10000, "kW")
    assert template.searchable == {"serialNumber", "model", "plant"}
    assert template.label == {"en": "Centrifugal pump", "zh-CN": "离心泵"}
    # The store keeps spec() and reads it back with parse_template: nothing may be lost on the way.
    assert parse_template(template.spec(), name="pump", version=1) == template
    assert template.as_json()["fields"][2] == {
        "name": "ratedPowerKw",
        "type": "number",
        "required": False,
        "searchable": False,
        "unit": "kW",
        "label": {"en": "Rated power", "zh-CN": "额定功率"},
        "minimum": 0,
        "maximum": 10000,
    }


def _fields(*fields: Any) -> dict[str, Any]:
    return {"fields": list(fields)}


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        pytest.param(_fields({"name": "a"}, {"name": "b"}, {"name": "A"}), "fields[2].name", id="duplicate"),
        pytest.param(_fields({"name": "HS_ADMIN"}), "fields[0].name", id="reserved-hs-admin"),
        pytest.param(_fields({"name": "a"}, {"name": "hs_site"}), "fields[1].name", id="reserved-hs-prefix"),
        pytest.param(_fields({"name": "TEMPLATE"}), "fields[0].name", id="reserved-template"),
        pytest.param(_fields({"name": "a", "type": "float"}), "fields[0].type", id="bad-type"),
        pytest.param(_fields({"name": "a", "pattern": "SN-(["}), "fields[0].pattern", id="bad-regex"),
        pytest.param(_fields({"name": "a", "pattern": "x" * 201}), "fields[0].pattern", id="long-regex"),
        pytest.param(
            _fields({"name": "a", "type": "number", "minimum": 10, "maximum": 1}),
            "fields[0].minimum",
            id="min-above-max",
        ),
        pytest.param(
            _fields({"name": "a", "type": "number", "maximum": float("inf")}),
            "fields[0].maximum",
            id="infinite-bound",
        ),
        pytest.param(
            _fields({"name": "a", "type": "integer", "minimum": True}), "fields[0].minimum", id="bool-bound"
        ),
        pytest.param(
            _fields(*({"name": f"f{i}"} for i in range(MAX_FIELDS + 1))), "fields", id="too-many-fields"
        ),
        pytest.param(_fields(), "fields", id="no-fields"),
        pytest.param({"fields": "serialNumber"}, "fields", id="fields-not-a-list"),
        pytest.param(_fields({"name": "a", "type": "enum"}), "fields[0].enum", id="enum-missing"),
        pytest.param(_fields({"name": "a", "type": "enum", "enum": []}), "fields[0].enum", id="enum-empty"),
        pytest.param(
            _fields({"name": "a", "type": "enum", "enum": [1, 2]}), "fields[0].enum", id="enum-ints"
        ),
        pytest.param(_fields({"name": "1st"}), "fields[0].name", id="name-starts-with-digit"),
        pytest.param(_fields("serialNumber"), "fields[0]", id="field-not-object"),
        pytest.param(_fields({"name": "a", "required": "yes"}), "fields[0].required", id="required-not-bool"),
        pytest.param(_fields({"name": "a", "maxLength": 0}), "fields[0].maxLength", id="max-length-zero"),
        pytest.param(_fields({"name": "a", "unit": "u" * 33}), "fields[0].unit", id="long-unit"),
        pytest.param(_fields({"name": "a", "label": "Serial"}), "fields[0].label", id="label-not-mapping"),
        pytest.param({**_fields({"name": "a"}), "label": {"en": 1}}, "label", id="template-label"),
        pytest.param({**_fields({"name": "a"}), "description": "d" * 2001}, "description", id="description"),
    ],
)
def test_bad_templates_are_refused_naming_the_path(raw: dict[str, Any], path: str) -> None:
    with pytest.raises(TemplateError) as exc:
        parse_template(raw, name="pump")
    assert path in errors_of(exc), exc.value.errors


def test_a_bad_template_name_and_a_non_object_are_refused() -> None:
    with pytest.raises(TemplateError) as exc:
        parse_template({"name": "bad name!", "fields": [{"name": "a"}]})
    assert list(errors_of(exc)) == ["name"]
    with pytest.raises(TemplateError) as exc:
        parse_template([{"name": "a"}], name="pump")
    assert list(errors_of(exc)) == [""]


def test_every_problem_of_a_template_is_listed_at_once() -> None:
    raw = _fields(
        {"name": "HS_ADMIN"},
        {"name": "a", "type": "float"},
        {"name": "b", "pattern": "(("},
        {"name": "c", "type": "enum"},
        {"name": "d", "type": "integer", "minimum": 5, "maximum": 4},
    )
    with pytest.raises(TemplateError) as exc:
        parse_template(raw, name="pump")
    assert set(errors_of(exc)) == {
        "fields[0].name",
        "fields[1].type",
        "fields[2].pattern",
        "fields[3].enum",
        "fields[4].minimum",
    }
    assert "HS_ADMIN is reserved" in str(exc.value)


def test_a_duplicate_is_reported_at_its_own_position_after_a_malformed_field() -> None:
    # The malformed field at 0 must not shift the duplicate's path from fields[2] to fields[1].
    with pytest.raises(TemplateError) as exc:
        parse_template(_fields({"name": "1bad"}, {"name": "a"}, {"name": "a"}), name="pump")
    assert set(errors_of(exc)) == {"fields[0].name", "fields[2].name"}


def test_a_bound_beyond_float_range_is_a_template_error() -> None:
    # JSON carries integers of any size; 10**400 is no bound a float comparison can use.
    with pytest.raises(TemplateError) as exc:
        parse_template(_fields({"name": "a", "type": "number", "maximum": 10**400}), name="pump")
    assert "fields[0].maximum" in errors_of(exc)


# -- 2. data ----------------------------------------------------------------------------------------


def test_to_values_stores_fields_at_their_indexes_and_names_the_template() -> None:
    values = to_values(pump(), {**GOOD, "parent": "88.ABC.1/Line-3"})
    assert [(v.index, v.type, v.data) for v in values] == [
        (TEMPLATE_INDEX, TEMPLATE_TYPE, b"pump@1"),
        (1, "serialNumber", b"SN-000042"),
        (2, "model", b"CP-200"),
        (3, "ratedPowerKw", b"75.0"),
        (4, "commissioned", b"2023-05-17"),
        (5, "lastService", b"2024-03-01T08:30:00+08:00"),
        (6, "manual", b"https://docs.example.cn/cp-200.pdf"),
        # Handles are stored normalised: prefix case-folded, suffix kept.
        (7, "parent", b"88.abc.1/Line-3"),
        (8, "running", b"true"),
        (9, "stages", b"3"),
        (10, "plant", b"Suzhou-2"),
    ]
    assert template_ref(values) == ("pump", 1)
    assert search_rows(pump(), values) == [
        ("serialNumber", "SN-000042"),
        ("model", "CP-200"),
        ("plant", "Suzhou-2"),
    ]
    # A value only administrators may read is not findable by what it says.
    hidden = [replace(v, permissions=Permission.ADMIN_READ) if v.type == "model" else v for v in values]
    assert [field for field, _ in search_rows(pump(), hidden)] == ["serialNumber", "plant"]


def test_absent_and_null_optional_fields_take_no_index() -> None:
    values = to_values(pump(), {"serialNumber": "SN-000001", "stages": 2.0, "model": None})
    assert [(v.index, v.data) for v in values] == [(TEMPLATE_INDEX, b"pump@1"), (1, b"SN-000001"), (9, b"2")]


def test_every_data_problem_is_listed_at_once() -> None:
    bad = {
        "model": "CP-999",
        "ratedPowerKw": 12_000,
        "commissioned": "2023-02-30",
        "lastService": "2024-03-01T08:30:00",
        "manual": "javascript:alert(1)",
        "parent": "no-slash",
        "running": "yes",
        "stages": True,
        "plant": 7,
        "colour": "red",
    }
    with pytest.raises(TemplateError) as exc:
        to_values(pump(), bad)
    problems = errors_of(exc)
    assert set(problems) == {
        "data.serialNumber",
        "data.model",
        "data.ratedPowerKw",
        "data.commissioned",
        "data.lastService",
        "data.manual",
        "data.parent",
        "data.running",
        "data.stages",
        "data.plant",
        "data.colour",
    }
    assert problems["data.serialNumber"] == "is required"
    assert problems["data.colour"] == "is not a field of the template"
    assert problems["data.model"].startswith("is one of CP-100")
    assert problems["data.ratedPowerKw"] == "is at most 10000"
    assert "time zone" in problems["data.lastService"]
    assert problems["data.stages"] == "is an integer"
    assert problems["data.running"] == "is true or false"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("serialNumber", "SN-42", "does not match SN-[0-9]{6}"),
        ("serialNumber", "SN-000042-extra-1", "is at most 16 characters"),
        ("ratedPowerKw", -0.5, "is at least 0"),
        ("ratedPowerKw", float("inf"), "is a finite number"),
        ("ratedPowerKw", float("nan"), "is a finite number"),
        ("ratedPowerKw", "75", "is a number"),
        ("ratedPowerKw", False, "is a number"),
        ("stages", 2.5, "is an integer"),
        ("stages", False, "is an integer"),
        ("manual", "https://", "is a URL (http, https, ftp, urn or mailto)"),
        ("manual", "file:///etc/passwd", "is a URL (http, https, ftp, urn or mailto)"),
        ("model", "cp-200", "is one of CP-100, CP-200, CP-300"),
        ("commissioned", 20230517, "is a text"),
        ("plant", "x" * 65, "is at most 64 characters"),
    ],
)
def test_each_kind_of_bad_value_says_what_is_wrong(name: str, value: Any, message: str) -> None:
    with pytest.raises(TemplateError) as exc:
        to_values(pump(), {**GOOD, name: value}, path="items[3].data")
    assert exc.value.errors == [(f"items[3].data.{name}", message)]


def test_data_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(TemplateError) as exc:
        to_values(pump(), ["SN-000042"])
    assert list(errors_of(exc)) == ["data"]


def test_a_number_beyond_float_range_is_a_validation_error() -> None:
    # JSON integers have no size limit; one past the float range must be refused, not crash.
    with pytest.raises(TemplateError) as exc:
        to_values(pump(), {**GOOD, "ratedPowerKw": 10**400})
    assert list(errors_of(exc)) == ["data.ratedPowerKw"]
    # Integers are kept exactly only up to 2^53 by JSON readers (JavaScript's among them).
    assert to_values(pump(), {**GOOD, "stages": 2**53})
    with pytest.raises(TemplateError) as big:
        to_values(pump(), {**GOOD, "stages": 2**53 + 1, "ratedPowerKw": 10**400})
    assert sorted(errors_of(big)) == ["data.ratedPowerKw", "data.stages"]


def test_from_values_gives_typed_data_back() -> None:
    template = pump()
    assert from_values(template, to_values(template, GOOD)) == {**GOOD, "ratedPowerKw": 75.0}
    typed = from_values(template, to_values(template, GOOD))
    assert isinstance(typed["ratedPowerKw"], float) and isinstance(typed["stages"], int)
    assert typed["running"] is True


def test_from_values_shows_a_value_changed_by_hand_as_it_is() -> None:
    values = [*to_values(pump(), GOOD)[:-2], HandleValue(9, "stages", b"three")]
    assert from_values(pump(), values)["stages"] == "three"
    assert "plant" not in from_values(pump(), values)


def test_template_ref_of_untemplated_and_odd_records() -> None:
    assert template_ref([HandleValue(1, "URL", b"https://a")]) is None
    assert template_ref([HandleValue(99, TEMPLATE_TYPE, b"pump@latest")]) is None
    assert template_ref([HandleValue(99, TEMPLATE_TYPE, b"cnc@machine@12")]) == ("cnc@machine", 12)


_handles = st.builds(
    "{}/{}".format,
    st.from_regex(r"88(\.[0-9]{1,3}){1,3}", fullmatch=True),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20),
)
_pump_data: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"serialNumber": st.from_regex(r"SN-[0-9]{6}", fullmatch=True)},
    optional={
        "model": st.sampled_from(["CP-100", "CP-200", "CP-300"]),
        "ratedPowerKw": st.integers(0, 10_000) | st.floats(0, 10_000, allow_nan=False),
        "commissioned": st.dates().map(date.isoformat),
        "lastService": st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
        "manual": st.from_regex(r"https://[a-z]{1,12}\.cn/[a-z0-9/]{0,20}", fullmatch=True),
        "parent": _handles,
        "running": st.booleans(),
        "stages": st.integers(-(2**53), 2**53),
        "plant": st.text(st.characters(exclude_categories=["Cs"]), max_size=64),
    },
)


@settings(max_examples=150, deadline=None)
@given(_pump_data)
def test_valid_data_round_trips_through_record_values(data: dict[str, Any]) -> None:
    template = pump()
    values = to_values(template, data)
    assert from_values(template, values) == data
    assert {v.index for v in values} == {TEMPLATE_INDEX} | {FIELD_ORDER.index(k) + 1 for k in data}


# -- 3. versions ------------------------------------------------------------------------------------


def test_saving_a_template_makes_versions_only_when_it_changes(store: HandleStore) -> None:
    first, made = enterprise.save_template(store, "pump", PUMP, ADMIN)
    assert made and first.ref == "pump@1"
    # The same template again, with its keys reordered and defaults spelt out, is no new version.
    same = {
        "description": PUMP["description"],
        "fields": [{"required": False, **dict(reversed(f.items()))} for f in PUMP["fields"]],
        "label": PUMP["label"],
    }
    again, made = enterprise.save_template(store, "pump", same, ADMIN)
    assert not made and again == first

    enterprise.register(store, "pump", [item(1, model="CP-100", stages=2)], ADMIN)
    changed = {**PUMP, "fields": [*PUMP["fields"], {"name": "flowM3h", "type": "number", "unit": "m³/h"}]}
    second, made = enterprise.save_template(store, "pump", changed, ADMIN)
    assert made and second.ref == "pump@2"
    assert enterprise.template(store, "pump") == second
    assert enterprise.template(store, "pump", 1) == first
    assert [t.version for t in enterprise.versions(store, "pump")] == [1, 2]

    enterprise.register(store, "pump", [item(2, flowM3h=120.5)], ADMIN)
    old, old_data, _ = enterprise.describe(store, "88.100.1/pump-0001", records.ANONYMOUS)
    assert old is not None and old.ref == "pump@1"
    assert old_data == {"serialNumber": "SN-000001", "model": "CP-100", "stages": 2}
    new, new_data, _ = enterprise.describe(store, "88.100.1/pump-0002", records.ANONYMOUS)
    assert new is not None and new.ref == "pump@2" and new_data["flowM3h"] == 120.5
    # The old version still governs registration when asked for explicitly.
    with pytest.raises(InvalidData) as exc:
        enterprise.register(store, "pump", [item(3, flowM3h=1.0)], ADMIN, version=1)
    assert exc.value.problems == [("items[0].data.flowM3h", "is not a field of the template")]
    assert [(t.ref, used) for t, used in enterprise.templates(store)] == [("pump@2", 2)]


def test_only_prefix_administrators_save_templates(store: HandleStore) -> None:
    with pytest.raises(records.AuthenticationNeeded):
        enterprise.save_template(store, "pump", PUMP, records.ANONYMOUS)
    with pytest.raises(records.NotAuthorised):
        enterprise.save_template(store, "pump", PUMP, Caller(admin=("88.100.1/operator", 300)))
    with pytest.raises(TemplateNotFound):
        enterprise.versions(store, "pump")
    assert enterprise.save_template(store, "pump", PUMP, SYSTEM)[1]


def test_an_invalid_template_is_invalid_data_listing_its_problems(store: HandleStore) -> None:
    with pytest.raises(InvalidData) as exc:
        enterprise.save_template(
            store, "pump", _fields({"name": "TEMPLATE"}, {"name": "a", "type": "x"}), ADMIN
        )
    assert [p for p, _ in exc.value.problems] == ["fields[0].name", "fields[1].type"]
    assert exc.value.errors[1] == {"path": "fields[1].type", "message": exc.value.problems[1][1]}
    with pytest.raises(TemplateNotFound):
        enterprise.template(store, "pump")


# -- 4. batch registration --------------------------------------------------------------------------


def _count(store: HandleStore, prefix: str = "88.100.1") -> int:
    with store.read() as tx:
        return tx.count(prefix)


def test_a_thousand_identifiers_register_in_one_call_and_resolve(store: HandleStore) -> None:
    enterprise.save_template(store, "pump", PUMP, ADMIN)
    models = ("CP-100", "CP-200", "CP-300")
    batch = [
        item(n, model=models[n % 3], ratedPowerKw=n % 500, running=n % 2 == 0, plant=f"plant-{n % 7}")
        for n in range(1200)
    ]
    assert enterprise.register(store, "pump", batch, ADMIN) == 1200
    assert _count(store) == 1200

    shown = records.resolve(store, "88.100.1/pump-1199")
    by_index = {v.index: v for v in shown}
    assert by_index[1].data == b"SN-001199" and by_index[2].data == b"CP-300"
    assert by_index[TEMPLATE_INDEX].data == b"pump@1"
    owner = decode_admin(by_index[100].data)
    assert (owner.handle, owner.index, owner.permissions) == ("0.NA/88.100.1", 300, AdminPermission.all())
    _, data, _ = enterprise.describe(store, "88.100.1/pump-0500", ADMIN)
    assert data == {
        "serialNumber": "SN-000500",
        "model": "CP-300",
        "ratedPowerKw": 0.0,
        "running": True,
        "plant": "plant-3",
    }
    assert len(enterprise.search(store, "pump", [("model", "CP-200", False)], limit=1000)) == 400


def test_one_bad_item_registers_nothing_and_is_named(store: HandleStore) -> None:
    enterprise.save_template(store, "pump", PUMP, ADMIN)
    batch = [item(n, model="CP-100") for n in range(600)]
    batch[417] = item(417, model="CP-999")
    batch[523] = Item("88.100.1/pump-0523", {"model": "CP-100"})
    with pytest.raises(InvalidData) as exc:
        enterprise.register(store, "pump", batch, ADMIN)
    assert [p for p, _ in exc.value.problems] == ["items[417].data.model", "items[523].data.serialNumber"]
    assert "nothing was registered" in str(exc.value)
    assert _count(store) == 0
    with pytest.raises(records.HandleNotFound):
        records.resolve(store, "88.100.1/pump-0000")
    assert enterprise.search(store, "pump", []) == []


def test_duplicates_and_bad_names_in_a_batch_are_refused(store: HandleStore) -> None:
    enterprise.save_template(store, "pump", PUMP, ADMIN)
    batch = [item(1), item(2), Item("88.100.1/PUMP-0001", {"serialNumber": "SN-000009"}), item(1)]
    batch.append(Item("no-slash", {"serialNumber": "SN-000010"}))
    with pytest.raises(InvalidData) as exc:
        enterprise.register(store, "pump", batch, ADMIN)
    assert [p for p, _ in exc.value.problems] == ["items[3].handle", "items[4].handle"]
    assert "appears twice" in exc.value.problems[0][1]
    assert _count(store) == 0

    enterprise.register(store, "pump", [item(1)], ADMIN)
    with pytest.raises(records.HandleAlreadyExists):
        enterprise.register(store, "pump", [item(2), item(1)], ADMIN)
    assert _count(store) == 1
    with pytest.raises(records.InvalidValue):
        enterprise.register(store, "pump", [], ADMIN)
    with pytest.raises(TemplateNotFound):
        enterprise.register(store, "valve", [item(5)], ADMIN)


def test_extra_values_are_stored_beside_the_template_but_cannot_take_its_indexes(store: HandleStore) -> None:
    enterprise.save_template(store, "pump", PUMP, ADMIN)
    link = HandleValue(1000, "URL", b"https://scada.example.cn/pumps/7")
    assert enterprise.register(
        store, "pump", [Item("88.100.1/p7", {"serialNumber": "SN-000007"}, (link,))], ADMIN
    )
    assert records.resolve(store, "88.100.1/p7", indexes=[1000])[0].data == link.data
    for index in (1, TEMPLATE_INDEX, 100):
        clash = HandleValue(index, "URL", b"https://x")
        with pytest.raises(InvalidData) as exc:
            enterprise.register(
                store, "pump", [Item("88.100.1/p8", {"serialNumber": "SN-000008"}, (clash,))], ADMIN
            )
        assert [p for p, _ in exc.value.problems] == ["items[0].values"]
    assert _count(store) == 1


def test_batch_registration_respects_the_prefix_quota(store: HandleStore) -> None:
    enterprise.save_template(store, "pump", PUMP, ADMIN)
    records.set_quota(store, "88.100.1", 5)
    with pytest.raises(records.QuotaExceeded):
        enterprise.register(store, "pump", [item(n) for n in range(6)], ADMIN)
    assert _count(store) == 0
    assert enterprise.register(store, "pump", [item(n) for n in range(5)], ADMIN) == 5
    with pytest.raises(records.QuotaExceeded):
        enterprise.register(store, "pump", [item(5)], ADMIN)
    # Another prefix in the same batch is not counted against this one's quota, but the batch is one.
    with pytest.raises(records.QuotaExceeded):
        enterprise.register(store, "pump", [item(9, "88.100.2"), item(6)], SYSTEM)
    assert _count(store, "88.100.2") == 0
    assert enterprise.register(store, "pump", [item(9, "88.100.2")], SYSTEM) == 1


def test_registration_needs_the_prefix_administrator(store: HandleStore) -> None:
    enterprise.save_template(store, "pump", PUMP, ADMIN)
    with pytest.raises(records.AuthenticationNeeded):
        enterprise.register(store, "pump", [item(1)], records.ANONYMOUS)
    with pytest.raises(records.NotAuthorised):
        enterprise.register(store, "pump", [item(1)], OTHER_ADMIN)
    with pytest.raises(records.NotAuthorised):
        enterprise.register(store, "pump", [item(2, "88.200.5"), item(1)], OTHER_ADMIN)
    assert _count(store) == 0 and _count(store, "88.200.5") == 0
    assert enterprise.register(store, "pump", [item(2, "88.200.5")], OTHER_ADMIN) == 1
    owner = records.resolve(store, "88.200.5/pump-0002", indexes=[100])[0]
    assert decode_admin(owner.data).handle == "0.NA/88.200.5"


# -- 5. search --------------------------------------------------------------------------------------

MODELS = ("CP-100", "CP-200", "CP-300")


def _fleet(store: HandleStore) -> dict[str, dict[str, Any]]:
    """24 pumps under two prefixes; returns each identifier's data."""
    enterprise.save_template(store, "pump", PUMP, ADMIN)
    fleet: dict[str, dict[str, Any]] = {}
    for prefix, numbers in (("88.100.1", range(16)), ("88.100.2", range(100, 108))):
        batch = [
            item(n, prefix, model=MODELS[n % 3], plant="Suzhou-2" if n % 2 else "Shanghai-1") for n in numbers
        ]
        enterprise.register(store, "pump", batch, administrator(f"0.NA/{prefix}", 300))
        fleet.update({i.handle: i.data for i in batch})
    return fleet


def _where(fleet: dict[str, dict[str, Any]], **wanted: str) -> list[str]:
    return sorted(h for h, d in fleet.items() if all(d.get(k) == v for k, v in wanted.items()))


def test_search_by_exact_value_prefix_and_both(store: HandleStore) -> None:
    fleet = _fleet(store)
    found = enterprise.search(store, "pump", [("model", "CP-200", False)])
    assert found == _where(fleet, model="CP-200") and len(found) == 8
    by_serial = enterprise.search(store, "pump", [("serialNumber", "SN-00001", True)])
    assert by_serial == [f"88.100.1/pump-{n:04d}" for n in range(10, 16)]
    assert enterprise.search(store, "pump", [("serialNumber", "SN-00001", False)]) == []
    both = enterprise.search(store, "pump", [("model", "CP-200", False), ("plant", "Suzhou", True)])
    assert both == _where(fleet, model="CP-200", plant="Suzhou-2") and both
    assert enterprise.search(store, "pump", []) == sorted(fleet)
    assert enterprise.search(store, "pump", [("model", "CP-200", False), ("model", "CP-300", False)]) == []


def test_search_within_one_prefix(store: HandleStore) -> None:
    fleet = _fleet(store)
    under = enterprise.search(store, "pump", [("model", "CP-100", False)], prefix="88.100.2")
    assert under == [h for h in _where(fleet, model="CP-100") if h.startswith("88.100.2/")]
    assert under and len(under) < len(_where(fleet, model="CP-100"))
    # A prefix is a whole prefix: 88.100 holds nothing here, though 88.100.1 starts with it.
    assert enterprise.search(store, "pump", [], prefix="88.100") == []


def test_search_pages_with_limit_and_after(store: HandleStore) -> None:
    fleet = _fleet(store)
    pages: list[list[str]] = []
    after = ""
    while True:
        page = enterprise.search(store, "pump", [("plant", "S", True)], limit=5, after=after)
        pages.append(page)
        if len(page) < 5:
            break
        after = page[-1]
    assert [len(p) for p in pages] == [5, 5, 5, 5, 4]
    assert [h for p in pages for h in p] == sorted(fleet)


def test_search_follows_changes_made_through_the_handle_api(store: HandleStore) -> None:
    _fleet(store)
    moved = "88.100.1/pump-0001"
    assert moved in enterprise.search(store, "pump", [("model", "CP-200", False)])
    records.put_values(store, moved, [HandleValue(2, "model", b"CP-300")], ADMIN)
    assert moved not in enterprise.search(store, "pump", [("model", "CP-200", False)])
    assert moved in enterprise.search(store, "pump", [("model", "CP-300", False)])
    assert enterprise.describe(store, moved, ADMIN)[1]["model"] == "CP-300"

    records.remove_values(store, moved, [2], ADMIN)
    assert moved not in enterprise.search(store, "pump", [("model", "CP-300", False)])
    assert moved in enterprise.search(store, "pump", [("serialNumber", "SN-000001", False)])

    records.delete_handle(store, moved, ADMIN)
    assert enterprise.search(store, "pump", [("serialNumber", "SN-000001", False)]) == []
    assert moved not in enterprise.search(store, "pump", [])


def test_a_record_written_whole_through_the_handle_api_is_indexed(store: HandleStore) -> None:
    enterprise.save_template(store, "pump", PUMP, ADMIN)
    values = [
        *to_values(pump(), {**GOOD, "serialNumber": "SN-777777"}),
        *records.resolve(store, "0.NA/88.100.1", indexes=[100]),
    ]
    records.create_handle(store, "88.100.1/by-hand", values, ADMIN)
    assert enterprise.search(store, "pump", [("serialNumber", "SN-777777", False)]) == ["88.100.1/by-hand"]
    records.create_handle(store, "88.100.1/by-hand", values[2:], ADMIN, overwrite=True)
    assert enterprise.search(store, "pump", [("serialNumber", "SN-777777", False)]) == []


def test_search_text_is_literal_not_a_like_pattern(store: HandleStore) -> None:
    enterprise.save_template(store, "pump", PUMP, ADMIN)
    enterprise.register(
        store, "pump", [item(1, plant="50%_A"), item(2, plant="50X_A"), item(3, plant="50%XA")], ADMIN
    )
    assert enterprise.search(store, "pump", [("plant", "50%_", True)]) == ["88.100.1/pump-0001"]
    assert enterprise.search(store, "pump", [("plant", "50_", True)]) == []


def test_searching_a_field_that_is_not_searchable_is_refused(store: HandleStore) -> None:
    _fleet(store)
    for field_name in ("ratedPowerKw", "colour"):
        with pytest.raises(records.InvalidValue):
            enterprise.search(store, "pump", [(field_name, "75.0", False)])
    with pytest.raises(records.InvalidValue):
        enterprise.search(store, "pump", [("model", "CP-100", False)], limit=0)
    with pytest.raises(records.InvalidValue):
        enterprise.search(store, "pump", [("model", "CP-100", False)] * 9)
    with pytest.raises(TemplateNotFound):
        enterprise.search(store, "valve", [])


def test_a_nul_character_in_a_searchable_value_breaks_no_write_or_search(store: HandleStore) -> None:
    # A Handle record's value is any bytes, whatever interface wrote it, and PostgreSQL text refuses NUL:
    # the search index must cope rather than make the whole write fail.
    _fleet(store)
    records.put_values(store, "88.100.1/pump-0003", [HandleValue(10, "plant", b"Wuxi\x00-3")], ADMIN)
    assert records.resolve(store, "88.100.1/pump-0003", indexes=[10])[0].data == b"Wuxi\x00-3"
    assert "88.100.1/pump-0003" in enterprise.search(store, "pump", [("model", "CP-100", False)])
    assert enterprise.search(store, "pump", [("plant", "Wu\x00", True)]) in ([], ["88.100.1/pump-0003"])
    try:
        enterprise.register(store, "pump", [item(50, plant="Nan\x00jing")], ADMIN)
    except InvalidData as exc:
        assert [p for p, _ in exc.problems] == ["items[0].data.plant"]
    else:
        assert records.resolve(store, "88.100.1/pump-0050", indexes=[10])[0].data == b"Nan\x00jing"


# -- 6. HTTP ----------------------------------------------------------------------------------------


def _register(api: TestClient, items: list[dict[str, Any]], **body: Any) -> Any:
    return api.post(
        "/api/v1/idr/identifiers", json={"template": "pump", "items": items, **body}, headers=ADMIN_AUTH
    )


def _http_item(n: int, **data: Any) -> dict[str, Any]:
    return {"handle": f"88.100.1/pump-{n:04d}", "data": {"serialNumber": f"SN-{n:06d}", **data}}


def test_templates_over_http(api: TestClient) -> None:
    created = api.put("/api/v1/idr/templates/pump", json=PUMP, headers=ADMIN_AUTH)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "pump" and created.json()["version"] == 1
    assert created.json()["fields"][0]["pattern"] == "SN-[0-9]{6}"
    unchanged = api.put("/api/v1/idr/templates/pump", json=PUMP, headers=ADMIN_AUTH)
    assert unchanged.status_code == 200 and unchanged.json()["version"] == 1

    assert _register(api, [_http_item(1, model="CP-200"), _http_item(2)]).status_code == 201
    changed = {**PUMP, "fields": [*PUMP["fields"], {"name": "flowM3h", "type": "number"}]}
    assert api.put("/api/v1/idr/templates/pump", json=changed, headers=ADMIN_AUTH).status_code == 201
    assert _register(api, [_http_item(3, flowM3h=12.5)]).json() == {"registered": 1}

    listed = api.get("/api/v1/idr/templates").json()
    assert [(t["name"], t["version"], t["identifiers"]) for t in listed] == [("pump", 2, 3)]
    versions = api.get("/api/v1/idr/templates/pump/versions").json()
    assert [v["version"] for v in versions] == [1, 2] and "identifiers" not in versions[0]
    assert len(versions[1]["fields"]) == len(versions[0]["fields"]) + 1
    old = api.get("/api/v1/idr/templates/pump?version=1").json()
    assert old["version"] == 1 and old["label"] == PUMP["label"]
    missing = api.get("/api/v1/idr/templates/valve")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert api.get("/api/v1/idr/templates/pump?version=0").status_code == 422

    bad = api.put("/api/v1/idr/templates/valve", json=_fields({"name": "HS_ADMIN"}), headers=ADMIN_AUTH)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert [e["path"] for e in bad.json()["errors"]] == ["fields[0].name"]


def test_validate_over_http(api: TestClient) -> None:
    api.put("/api/v1/idr/templates/pump", json=PUMP, headers=ADMIN_AUTH)
    valid = api.post("/api/v1/idr/templates/pump/validate", json={"data": GOOD})
    assert valid.status_code == 200
    assert valid.json() == {"template": "pump@1", "valid": True, "errors": []}
    invalid = api.post(
        "/api/v1/idr/templates/pump/validate", json={"data": {"model": "CP-9", "stages": True}}
    ).json()
    assert invalid["valid"] is False
    assert sorted(e["path"] for e in invalid["errors"]) == ["data.model", "data.serialNumber", "data.stages"]
    assert all(e["message"] for e in invalid["errors"])
    no_data = api.post("/api/v1/idr/templates/pump/validate", json=["x"]).json()
    assert no_data["valid"] is False and [e["path"] for e in no_data["errors"]] == ["data"]


def test_identifiers_over_http(api: TestClient, store: HandleStore) -> None:
    api.put("/api/v1/idr/templates/pump", json=PUMP, headers=ADMIN_AUTH)
    items = [_http_item(n, model=MODELS[n % 3], ratedPowerKw=75, stages=2, running=False) for n in range(30)]
    items[0]["values"] = [{"index": 1000, "type": "URL", "data": "https://scada.example.cn/p/0"}]
    registered = _register(api, items)
    assert registered.status_code == 201 and registered.json() == {"registered": 30}

    described = api.get("/api/v1/idr/identifiers/88.100.1/pump-0000")
    assert described.status_code == 200
    body = described.json()
    assert body["handle"] == "88.100.1/pump-0000" and body["template"] == "pump@1"
    assert body["data"] == {
        "serialNumber": "SN-000000",
        "model": "CP-100",
        "ratedPowerKw": 75.0,
        "running": False,
        "stages": 2,
    }
    assert {v["index"] for v in body["values"]} == {1, 2, 3, 8, 9, TEMPLATE_INDEX, 100, 1000}
    untemplated = api.get("/api/v1/idr/identifiers/0.NA/88.100.1").json()
    assert untemplated["template"] is None and untemplated["data"] == {}
    assert api.get("/api/v1/idr/identifiers/88.100.1/none").status_code == 404

    # The Handle REST API shows the same identifier as plain values any Handle client reads.
    handle = api.get("/api/handles/88.100.1/pump-0001").json()
    plain = {v["index"]: (v["type"], v["data"]) for v in handle["values"]}
    assert plain[1] == ("serialNumber", {"format": "string", "value": "SN-000001"})
    assert plain[2] == ("model", {"format": "string", "value": "CP-200"})
    assert plain[3] == ("ratedPowerKw", {"format": "string", "value": "75.0"})
    assert plain[8] == ("running", {"format": "string", "value": "false"})
    assert plain[TEMPLATE_INDEX] == (TEMPLATE_TYPE, {"format": "string", "value": "pump@1"})
    assert plain[100][0] == HS_ADMIN and plain[100][1]["value"]["handle"] == "0.NA/88.100.1"

    bad_batch = [_http_item(100), _http_item(101, model="CP-0"), {"handle": "88.100.1/pump-0102", "data": {}}]
    refused = _register(api, bad_batch)
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    problem = refused.json()
    assert problem["status"] == 422
    assert [e["path"] for e in problem["errors"]] == ["items[1].data.model", "items[2].data.serialNumber"]
    assert api.get("/api/v1/idr/identifiers/88.100.1/pump-0100").status_code == 404
    with store.read() as tx:
        assert tx.count("88.100.1") == 30

    duplicate = _register(api, [_http_item(5)])
    assert duplicate.status_code == 409 and duplicate.headers["content-type"] == PROBLEM
    malformed_bodies: list[dict[str, Any]] = [
        {"template": "pump", "items": "x"},
        {"template": "pump", "items": []},
        {"items": []},
    ]
    for body_json in malformed_bodies:
        malformed = api.post("/api/v1/idr/identifiers", json=body_json, headers=ADMIN_AUTH)
        assert malformed.status_code == 422, body_json
    assert _register(api, [_http_item(7)], version=0).status_code == 422


def test_search_over_http(api: TestClient) -> None:
    api.put("/api/v1/idr/templates/pump", json=PUMP, headers=ADMIN_AUTH)
    _register(api, [_http_item(n, model=MODELS[n % 3], plant=f"plant-{n % 2}") for n in range(12)])
    cp200 = [f"88.100.1/pump-{n:04d}" for n in range(12) if n % 3 == 1]

    found = api.get("/api/v1/idr/search?template=pump&field.model=CP-200")
    assert found.status_code == 200 and found.json() == {"handles": cp200, "next": None}
    anded = api.get(
        "/api/v1/idr/search", params={"template": "pump", "field.model": "CP-200", "prefix.plant": "plant-1"}
    )
    assert anded.json()["handles"] == [h for h in cp200 if int(h[-4:]) % 2 == 1]
    first = api.get("/api/v1/idr/search?template=pump&field.model=CP-200&limit=2").json()
    assert first == {"handles": cp200[:2], "next": cp200[1]}
    rest = api.get(
        f"/api/v1/idr/search?template=pump&field.model=CP-200&limit=2&after={first['next']}"
    ).json()
    assert rest["handles"] == cp200[2:]
    assert api.get("/api/v1/idr/search?template=pump&under=88.100.2").json()["handles"] == []

    # A change through the Handle REST API moves the identifier in search at once.
    moved = cp200[0]
    change = {"values": [{"index": 2, "type": "model", "data": "CP-300"}]}
    assert api.put(f"/api/handles/{moved}?index=2", json=change, headers=ADMIN_AUTH).status_code == 200
    assert moved not in api.get("/api/v1/idr/search?template=pump&field.model=CP-200").json()["handles"]
    assert moved in api.get("/api/v1/idr/search?template=pump&field.model=CP-300").json()["handles"]

    refused = api.get("/api/v1/idr/search?template=pump&field.ratedPowerKw=75")
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert api.get("/api/v1/idr/search?template=valve").status_code == 404
    assert api.get("/api/v1/idr/search?template=pump&limit=1001").status_code == 422


def test_http_refusals_and_limits(api: TestClient) -> None:
    anonymous = api.put("/api/v1/idr/templates/pump", json=PUMP)
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
    wrong = api.put("/api/v1/idr/templates/pump", json=PUMP, headers=basic("300:0.NA/88.100.1", "guess"))
    assert wrong.status_code == 401
    assert api.get("/api/v1/idr/templates").json() == []

    assert api.put("/api/v1/idr/templates/pump", json=PUMP, headers=ADMIN_AUTH).status_code == 201
    unauthenticated = api.post("/api/v1/idr/identifiers", json={"template": "pump", "items": [_http_item(1)]})
    assert unauthenticated.status_code == 401
    foreign = api.post(
        "/api/v1/idr/identifiers",
        json={"template": "pump", "items": [_http_item(1)]},
        headers=basic("300:0.NA/88.200.5", OTHER_SECRET),
    )
    assert foreign.status_code == 403
    assert api.get("/api/v1/idr/identifiers/88.100.1/pump-0001").status_code == 404

    oversized = api.put(
        "/api/v1/idr/templates/pump",
        content=b'{"fields": [' + b" " * (256 * 1024) + b"]}",
        headers={**ADMIN_AUTH, "Content-Type": "application/json"},
    )
    assert oversized.status_code == 413 and oversized.headers["content-type"] == PROBLEM
    broken = api.put("/api/v1/idr/templates/pump", content=b'{"fields": [', headers=ADMIN_AUTH)
    assert broken.status_code == 422
    assert [t["version"] for t in api.get("/api/v1/idr/templates").json()] == [1]
