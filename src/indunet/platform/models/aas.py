"""Device types as Asset Administration Shells (AAS v3 JSON), through basyx-python-sdk.

This is the only module that touches basyx. A device type becomes one shell of asset kind Type plus
four submodels, and reading them back yields an equal ``DeviceType``:

    AssetAdministrationShell  id_short = type name; display name = title; description = description
    ├── Submodel TypeInfo     Properties Name, Version, Category, Reference
    ├── Submodel Points       a SubmodelElementCollection per point:
    │                         DataType, Unit?, Range(min, max)?, Access, SamplingMs?
    ├── Submodel Attributes   a SubmodelElementCollection per attribute: DataType, Unit?, Default?
    └── Submodel Commands     an Operation per command; an input SubmodelElementCollection per
                              parameter: DataType, Unit?, Range?, Required

Names become id_shorts unchanged (our identifiers are valid id_shorts), English and Chinese texts
become language strings "en" and "zh". Versions are semver, which AAS's four-digit ``version`` cannot
hold, so the version travels as a property.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

from basyx.aas import model
from basyx.aas.adapter.json import json_serialization, read_aas_json_file

from indunet.core.errors import InvalidInput, PayloadTooLarge
from indunet.platform.models.io import validate_device_type
from indunet.platform.models.schema import Access, Attribute, Command, DataType, DeviceType, Param, Point

# A thousand points in AAS JSON run to about 1.5 MB; the limit leaves ample room and stops abuse.
MAX_AAS_BYTES = 16 * 1024 * 1024

_SEMANTICS = "urn:indunet:semantics:device-type:1:"

_XSD_OF: dict[DataType, type] = {
    DataType.BOOL: model.datatypes.Boolean,
    DataType.INT: model.datatypes.Long,
    DataType.FLOAT: model.datatypes.Double,
    DataType.STRING: model.datatypes.String,
}


def to_aas_json(device_type: DeviceType) -> str:
    """The device type as an AAS v3 JSON environment (shell plus submodels)."""
    dt = device_type
    base_id = f"urn:indunet:device-type:{dt.name}:{dt.version}"
    submodels = [
        _submodel(f"{base_id}:type-info", "TypeInfo", _type_info(dt)),
        _submodel(f"{base_id}:points", "Points", [_point(p) for p in dt.points]),
        _submodel(f"{base_id}:attributes", "Attributes", [_attribute(a) for a in dt.attributes]),
        _submodel(f"{base_id}:commands", "Commands", [_command(c) for c in dt.commands]),
    ]
    shell = model.AssetAdministrationShell(
        id_=f"{base_id}:aas",
        id_short=dt.name,
        asset_information=model.AssetInformation(asset_kind=model.AssetKind.TYPE, global_asset_id=base_id),
        display_name=model.MultiLanguageNameType(_texts(dt.title, dt.title_zh)),
        description=model.MultiLanguageTextType(_texts(dt.description, dt.description_zh)),
        submodel={model.ModelReference.from_referable(sm) for sm in submodels},
    )
    store: model.DictIdentifiableStore[model.Identifiable] = model.DictIdentifiableStore([shell, *submodels])
    return str(json_serialization.object_store_to_json(store, indent=1, ensure_ascii=False))


def from_aas_json(data: bytes | str) -> DeviceType:
    """Read a device type from AAS v3 JSON written by ``to_aas_json`` (or shaped like it)."""
    if len(data) > MAX_AAS_BYTES:
        raise PayloadTooLarge(f"AAS file exceeds {MAX_AAS_BYTES} bytes", key="error.model.too_large")
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"AAS file is not UTF-8: {exc.reason}", key="error.aas.encoding") from None
    try:
        store = read_aas_json_file(io.StringIO(text), failsafe=False)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} at line {exc.lineno}"
        raise InvalidInput(message, key="error.aas.syntax") from None
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        # basyx reports malformed documents through all of these (an empty reference is an IndexError).
        raise InvalidInput(f"not a valid AAS v3 environment: {exc}", key="error.aas.invalid") from None
    try:
        raw = _read_shell(store)
    except (LookupError, TypeError, ValueError, AttributeError) as exc:
        message = f"AAS does not describe an indunet device type: {exc}"
        raise InvalidInput(message, key="error.aas.shape") from None
    return validate_device_type(raw)


# --- export ----------------------------------------------------------------------------------------


def _submodel(id_: str, id_short: str, elements: Iterable[model.SubmodelElement]) -> model.Submodel:
    return model.Submodel(
        id_=id_,
        id_short=id_short,
        semantic_id=_semantic(id_short),
        submodel_element=elements,
    )


def _type_info(dt: DeviceType) -> list[model.SubmodelElement]:
    return [
        _text_property("Name", dt.name),
        _text_property("Version", dt.version),
        _text_property("Category", dt.category),
        _text_property("Reference", dt.reference),
    ]


def _point(point: Point) -> model.SubmodelElementCollection:
    elements = _ranged_elements(point)
    elements.append(_text_property("Access", point.access.value))
    if point.sampling_ms is not None:
        elements.append(model.Property("SamplingMs", model.datatypes.Long, point.sampling_ms))
    return _collection(point.name, point.description, point.description_zh, elements)


def _attribute(attribute: Attribute) -> model.SubmodelElementCollection:
    elements: list[model.SubmodelElement] = [_text_property("DataType", attribute.data_type.value)]
    if attribute.unit is not None:
        elements.append(_text_property("Unit", attribute.unit))
    if attribute.default is not None:
        elements.append(model.Property("Default", _XSD_OF[attribute.data_type], attribute.default))
    return _collection(attribute.name, attribute.description, attribute.description_zh, elements)


def _command(command: Command) -> model.Operation:
    return model.Operation(
        command.name,
        input_variable=[_param(p) for p in command.params],
        description=model.MultiLanguageTextType(_texts(command.description, command.description_zh)),
        semantic_id=_semantic("Command"),
    )


def _param(param: Param) -> model.SubmodelElementCollection:
    elements = _ranged_elements(param)
    elements.append(model.Property("Required", model.datatypes.Boolean, param.required))
    return _collection(param.name, param.description, param.description_zh, elements)


def _ranged_elements(item: Point | Param) -> list[model.SubmodelElement]:
    elements: list[model.SubmodelElement] = [_text_property("DataType", item.data_type.value)]
    if item.unit is not None:
        elements.append(_text_property("Unit", item.unit))
    if item.min is not None or item.max is not None:
        elements.append(model.Range("Range", model.datatypes.Double, min=item.min, max=item.max))
    return elements


def _collection(
    name: str, description: str | None, description_zh: str | None, elements: list[model.SubmodelElement]
) -> model.SubmodelElementCollection:
    texts = _texts(description, description_zh)
    return model.SubmodelElementCollection(
        name,
        value=elements,
        description=model.MultiLanguageTextType(texts) if texts else None,
    )


def _text_property(id_short: str, value: str) -> model.Property:
    return model.Property(id_short, model.datatypes.String, value)


def _texts(en: str | None, zh: str | None) -> dict[str, str]:
    return {lang: text for lang, text in (("en", en), ("zh", zh)) if text is not None}


def _semantic(name: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, _SEMANTICS + name),))


# --- import ----------------------------------------------------------------------------------------


def _read_shell(store: model.DictIdentifiableStore[model.Identifiable]) -> dict[str, Any]:
    shells = [obj for obj in store if isinstance(obj, model.AssetAdministrationShell)]
    if len(shells) != 1:
        raise ValueError(f"expected exactly one shell, found {len(shells)}")
    shell = shells[0]
    submodels: dict[str, model.Submodel] = {}
    for reference in shell.submodel:
        submodel = reference.resolve(store)
        submodels[str(submodel.id_short)] = submodel
    info = _elements(_submodel_named(submodels, "TypeInfo"))
    points = _submodel_named(submodels, "Points").submodel_element
    attributes = _submodel_named(submodels, "Attributes").submodel_element
    commands = _submodel_named(submodels, "Commands").submodel_element
    title, title_zh = _lang_pair(shell.display_name)
    description, description_zh = _lang_pair(shell.description)
    return _without_none(
        {
            "name": _value(info, "Name"),
            "version": _value(info, "Version"),
            "title": title,
            "title_zh": title_zh,
            "description": description,
            "description_zh": description_zh,
            "category": _value(info, "Category"),
            "reference": _value(info, "Reference"),
            "points": [_read_point(e) for e in points],
            "attributes": [_read_attribute(e) for e in attributes],
            "commands": [_read_command(e) for e in commands],
        }
    )


def _read_point(element: model.SubmodelElement) -> dict[str, Any]:
    items = _elements(element)
    return _without_none(
        {
            **_read_ranged(element, items),
            "access": _value(items, "Access", Access.READ.value),
            "sampling_ms": _value(items, "SamplingMs", None),
        }
    )


def _read_attribute(element: model.SubmodelElement) -> dict[str, Any]:
    items = _elements(element)
    description, description_zh = _lang_pair(element.description)
    return _without_none(
        {
            "name": element.id_short,
            "description": description,
            "description_zh": description_zh,
            "data_type": _value(items, "DataType"),
            "unit": _value(items, "Unit", None),
            "default": _value(items, "Default", None),
        }
    )


def _read_command(element: model.SubmodelElement) -> dict[str, Any]:
    if not isinstance(element, model.Operation):
        raise TypeError(f"command {element.id_short} is a {type(element).__name__}, not an Operation")
    description, description_zh = _lang_pair(element.description)
    params = []
    for variable in element.input_variable:
        items = _elements(variable)
        params.append(_without_none({**_read_ranged(variable, items), "required": _value(items, "Required")}))
    return _without_none(
        {
            "name": element.id_short,
            "description": description,
            "description_zh": description_zh,
            "params": params,
        }
    )


def _read_ranged(element: model.SubmodelElement, items: dict[str, model.SubmodelElement]) -> dict[str, Any]:
    description, description_zh = _lang_pair(element.description)
    low = high = None
    value_range = items.get("Range")
    if value_range is not None:
        if not isinstance(value_range, model.Range):
            raise TypeError(f"{element.id_short}.Range is not a Range")
        low, high = value_range.min, value_range.max
    return {
        "name": element.id_short,
        "description": description,
        "description_zh": description_zh,
        "data_type": _value(items, "DataType"),
        "unit": _value(items, "Unit", None),
        "min": low,
        "max": high,
    }


_MISSING = object()


def _elements(container: model.SubmodelElement | model.Submodel) -> dict[str, model.SubmodelElement]:
    if isinstance(container, model.Submodel):
        children = container.submodel_element
    elif isinstance(container, model.SubmodelElementCollection):
        children = container.value
    else:
        raise TypeError(f"{container.id_short} is a {type(container).__name__}, not a collection")
    return {str(child.id_short): child for child in children}


def _value(items: dict[str, model.SubmodelElement], id_short: str, default: Any = _MISSING) -> Any:
    element = items.get(id_short)
    if element is None:
        if default is _MISSING:
            raise LookupError(f"missing property {id_short}")
        return default
    if not isinstance(element, model.Property):
        raise TypeError(f"{id_short} is not a Property")
    return element.value


def _submodel_named(submodels: dict[str, model.Submodel], id_short: str) -> model.Submodel:
    try:
        return submodels[id_short]
    except KeyError:
        raise LookupError(f"missing submodel {id_short}") from None


def _lang_pair(texts: model.LangStringSet | None) -> tuple[str | None, str | None]:
    if texts is None:
        return None, None
    return texts.get("en"), texts.get("zh")


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}
