"""An enterprise node's own operations, beside the Handle API: metadata templates, registration of
templated identifiers (one or thousands per call), and search by template fields.

Templates belong to the node; a prefix administrator (or the local system) saves them. Saving a
changed template makes its next version; saving it unchanged changes nothing. Registration checks
every item against the template first and registers all or none, in one transaction, with the
ADD_HANDLE permission and quota of each prefix involved (:func:`records.register_many`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from indunet.idr import records
from indunet.idr.model import HS_ADMIN, NA_PREFIX, HandleValue, InvalidHandle, normalise, split
from indunet.idr.records import Caller, HandleNotFound, InvalidValue, NotAuthorised
from indunet.idr.store import HandleStore
from indunet.idr.templates import (
    Template,
    TemplateError,
    from_values,
    parse_template,
    template_ref,
    to_values,
)
from indunet.idr.wire.codes import ResponseCode
from indunet.idr.wire.values import AdminPermission, AdminRecord, encode_admin

MAX_BATCH: Final = 10_000
MAX_SEARCH_RESULTS: Final = 1000
MAX_CONDITIONS: Final = 8
MAX_PROBLEMS: Final = 100
"""Problems listed for a bad batch: enough to fix a systematic mistake, bounded for a huge batch."""


class TemplateNotFound(HandleNotFound):
    response_code = ResponseCode.RC_HANDLE_NOT_FOUND


class InvalidData(InvalidValue):
    """Data or a template failed validation; ``problems`` lists (path, message) pairs (and the
    problem+json answer lists them as ``errors``)."""

    def __init__(self, message: str, problems: list[tuple[str, str]]) -> None:
        super().__init__(message, errors=[{"path": p, "message": m} for p, m in problems])
        self.problems = problems


def _prefix_admin(caller: Caller) -> None:
    if caller.system:
        return
    if caller.admin is None:
        raise records.AuthenticationNeeded("templates are changed by a prefix administrator")
    if not caller.admin[0].startswith(NA_PREFIX + "/"):
        raise NotAuthorised("templates are changed by a prefix administrator (INDEX:0.NA/PREFIX)")


def save_template(store: HandleStore, name: str, raw: Any, caller: Caller) -> tuple[Template, bool]:
    """Save ``raw`` as template ``name``: (the template, True when a new version was made)."""
    _prefix_admin(caller)
    try:
        parsed = parse_template(raw, name=name)
    except TemplateError as exc:
        raise InvalidData(str(exc), exc.errors) from exc
    with store.write() as tx:
        latest = tx.template(name)
        if latest is not None and latest.spec() == parsed.spec():
            return latest, False
        made = Template(
            name, parsed.fields, 1 if latest is None else latest.version + 1, parsed.label, parsed.description
        )
        tx.save_template(made)
        return made, True


def template(store: HandleStore, name: str, version: int | None = None) -> Template:
    with store.read() as tx:
        found = tx.template(name, version)
    if found is None:
        raise TemplateNotFound(f"no template {name}" + (f" version {version}" if version else ""))
    return found


def templates(store: HandleStore) -> list[tuple[Template, int]]:
    with store.read() as tx:
        return tx.templates()


def versions(store: HandleStore, name: str) -> list[Template]:
    with store.read() as tx:
        found = tx.template_versions(name)
    if not found:
        raise TemplateNotFound(f"no template {name}")
    return found


def validate(found: Template, data: Any) -> list[tuple[str, str]]:
    """The problems of ``data`` under a template (empty when it is valid)."""
    try:
        to_values(found, data)
    except TemplateError as exc:
        return exc.errors
    return []


@dataclass(frozen=True, slots=True)
class Item:
    handle: str
    data: Any
    extra: tuple[HandleValue, ...] = ()
    """Further values (a URL at index 1000, say) stored beside the template's."""


def _owner(caller: Caller, handle: str) -> HandleValue:
    # The identifier is administered by whoever registered it; the system registers in the prefix
    # administrator's name, as an operator would.
    admin = caller.admin or (f"{NA_PREFIX}/{split(handle)[0]}", 300)
    return HandleValue(100, HS_ADMIN, encode_admin(AdminRecord(AdminPermission.all(), admin[0], admin[1])))


def register(
    store: HandleStore, template_name: str, items: Sequence[Item], caller: Caller, version: int | None = None
) -> int:
    """Register templated identifiers, all or none; InvalidData lists every bad item."""
    if not 0 < len(items) <= MAX_BATCH:
        raise InvalidValue(f"a batch holds 1 to {MAX_BATCH} identifiers")
    found = template(store, template_name, version)
    problems: list[tuple[str, str]] = []
    prepared: list[tuple[str, list[HandleValue]]] = []
    seen: set[str] = set()
    for n, item in enumerate(items):
        if len(problems) >= MAX_PROBLEMS:
            break
        try:
            name = normalise(item.handle)
        except InvalidHandle as exc:
            problems.append((f"items[{n}].handle", str(exc)))
            continue
        if name in seen:
            problems.append((f"items[{n}].handle", f"{name} appears twice in the batch"))
        seen.add(name)
        try:
            values = to_values(found, item.data, path=f"items[{n}].data")
        except TemplateError as exc:
            problems.extend(exc.errors)
            continue
        taken = {v.index for v in values} | {100}
        clash = sorted(taken & {v.index for v in item.extra})
        shadowing = sorted({v.type for v in item.extra} & {f.name for f in found.fields})
        if clash:
            problems.append((f"items[{n}].values", f"indexes {clash[:5]} belong to the template"))
        if shadowing:
            problems.append((f"items[{n}].values", f"types {shadowing[:5]} are fields of the template"))
        if not clash and not shadowing:
            prepared.append((name, [*values, *item.extra, _owner(caller, name)]))
    if problems:
        raise InvalidData(
            f"{len(problems)} problem(s) in the batch; nothing was registered", problems[:MAX_PROBLEMS]
        )
    return records.register_many(store, prepared, caller)


def describe(
    store: HandleStore, handle: str, caller: Caller
) -> tuple[Template | None, dict[str, Any], list[HandleValue]]:
    """An identifier's template, typed data and the values the caller may see (None and {} for an
    untemplated identifier)."""
    shown = records.resolve(store, handle, caller)
    ref = template_ref(shown)
    if ref is None:
        return None, {}, shown
    with store.read() as tx:
        found = tx.template(*ref)
    return (found, from_values(found, shown), shown) if found is not None else (None, {}, shown)


def search(
    store: HandleStore,
    template_name: str,
    conditions: Sequence[tuple[str, str, bool]],
    *,
    prefix: str | None = None,
    limit: int = 100,
    after: str = "",
) -> list[str]:
    """Identifiers of a template whose searchable fields match every (field, text, as_prefix)."""
    found = template(store, template_name)
    if not 0 < limit <= MAX_SEARCH_RESULTS:
        raise InvalidValue(f"limit is 1 to {MAX_SEARCH_RESULTS}")
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidValue(f"at most {MAX_CONDITIONS} conditions")
    searchable = set().union(*(t.searchable for t in versions(store, template_name)))
    for field_name, _, _ in conditions:
        if field_name not in searchable:
            raise InvalidValue(f"{field_name} is not a searchable field of {found.name}")
    with store.read() as tx:
        return tx.search(found.name, conditions, prefix, limit, after)
