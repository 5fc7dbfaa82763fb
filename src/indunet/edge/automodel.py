"""Propose an indunet device type from a browsed OPC UA address space (pure functions, no I/O).

Theory of operation. A driver browses a server into a tree of ``BrowsedNode``s; ``propose`` walks
the tree below one root (a machine object, say) and turns

    variables   -> points       (data type mapped, unit from EngineeringUnits, min/max from EURange,
                                 read_write when the node is writable)
    properties  -> attributes   (static values such as Identification/SerialNumber)
    methods     -> commands     (input arguments become parameters)

Names are the browse path below the root in snake_case, with generic container names (Monitoring,
Production ...) left out, cut to the schema's 64 characters and made unique with a numeric suffix.
Nodes whose data type has no indunet equivalent (structures, arrays, byte strings) are skipped and
listed in ``Proposal.skipped``. The result carries the gateway bindings (point -> node id, command ->
object and method) so a draft gateway configuration can be written next to the type.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from indunet.platform.models import Access, Attribute, Command, DataType, DeviceType, Param, Point
from indunet.platform.models.schema import MAX_ATTRIBUTES, MAX_COMMANDS, MAX_PARAMS, MAX_POINTS

MAX_NAME = 64
MAX_DESCRIPTION = 1000

DATA_TYPES: dict[str, DataType] = {
    "Boolean": DataType.BOOL,
    "SByte": DataType.INT,
    "Byte": DataType.INT,
    "Int16": DataType.INT,
    "UInt16": DataType.INT,
    "Int32": DataType.INT,
    "UInt32": DataType.INT,
    "Int64": DataType.INT,
    "UInt64": DataType.INT,
    "Integer": DataType.INT,
    "UInteger": DataType.INT,
    "Enumeration": DataType.INT,
    "Float": DataType.FLOAT,
    "Double": DataType.FLOAT,
    "Number": DataType.FLOAT,
    "Duration": DataType.FLOAT,
    "String": DataType.STRING,
    "LocalizedText": DataType.STRING,
    "QualifiedName": DataType.STRING,
    "DateTime": DataType.STRING,
    "UtcTime": DataType.STRING,
}

# Containers of OPC 40001-1 / 40501-1 that add length, not meaning, to a point name.
GENERIC = frozenset(
    {"monitoring", "production", "equipment", "notification", "messages", "identification", "machine_tool"}
)
_UNIT = re.compile(r"^\S(.{0,30}\S)?$")
_PRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Argument:
    name: str
    data_type: str


@dataclass(frozen=True)
class BrowsedNode:
    """One node of a browsed address space. ``data_type`` is the built-in type's name (``Double``)."""

    browse_name: str
    node_id: str
    node_class: str  # "Object", "Variable" or "Method"
    data_type: str | None = None
    unit: str | None = None
    range: tuple[float, float] | None = None
    writable: bool = False
    is_property: bool = False
    array: bool = False
    description: str | None = None
    arguments: tuple[Argument, ...] = ()
    children: tuple[BrowsedNode, ...] = ()


@dataclass
class Proposal:
    device_type: DeviceType
    points: list[dict[str, Any]] = field(default_factory=list)
    """Gateway point entries: ``{point, node, type}``."""
    commands: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Gateway command entries: ``{object, method, args}``."""
    skipped: list[str] = field(default_factory=list)
    """Browse paths left out, each with the reason."""


def snake_case(text: str) -> str:
    """``ActualSpeed`` -> ``actual_speed``, ``CNC-1`` -> ``cnc_1``; '' when nothing usable remains."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^a-zA-Z0-9]+", "_", text).strip("_").lower()
    return re.sub(r"_+", "_", text)


def identifier(parts: Iterable[str], taken: set[str], *, fallback: str = "node") -> str:
    """A schema identifier (``[a-z][a-z0-9_]{0,63}``) from path parts, unique within ``taken``."""
    words = [w for w in (snake_case(p) for p in parts) if w]
    kept = [w for w in words if w not in GENERIC] or words[-1:]
    base = "_".join(kept) or fallback
    if not base[0].isalpha():
        base = f"{fallback}_{base}"
    if len(base) > MAX_NAME:
        digest = hashlib.sha1(base.encode(), usedforsecurity=False).hexdigest()[:6]
        base = base[: MAX_NAME - 7].rstrip("_") + "_" + digest
    name, n = base, 2
    while name in taken:
        suffix = f"_{n}"
        name = base[: MAX_NAME - len(suffix)] + suffix
        n += 1
    taken.add(name)
    return name


def propose(
    root: BrowsedNode,
    *,
    name: str | None = None,
    title: str | None = None,
    reference: str = "Proposed from a browsed OPC UA address space",
    category: str = "draft",
) -> Proposal:
    """A device type for the variables, properties and methods below ``root``, plus bindings.

    Raises pydantic's ValidationError only if the arguments themselves are invalid.
    """
    type_name = name or identifier([root.browse_name], set(), fallback="device")
    points: list[Point] = []
    attributes: list[Attribute] = []
    commands: list[Command] = []
    bound_points: list[dict[str, Any]] = []
    bound_commands: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    taken_points: set[str] = set()
    taken_attrs: set[str] = set()
    taken_cmds: set[str] = set()
    for path, node, parent in _walk(root, ()):
        where = "/".join(path)
        if node.node_class == "Variable":
            data_type = DATA_TYPES.get(node.data_type or "")
            if data_type is None or node.array:
                kind = "array" if node.array else f"data type {node.data_type}"
                skipped.append(f"{where}: {kind} has no indunet equivalent")
                continue
            description = _description(node, where)
            if node.is_property:
                if len(attributes) >= MAX_ATTRIBUTES:
                    skipped.append(f"{where}: more than {MAX_ATTRIBUTES} attributes")
                    continue
                attributes.append(
                    Attribute(
                        name=identifier(path, taken_attrs),
                        description=description,
                        data_type=data_type,
                        unit=_unit(node.unit),
                    )
                )
                continue
            if len(points) >= MAX_POINTS:
                skipped.append(f"{where}: more than {MAX_POINTS} points")
                continue
            low, high = _range(node.range) if data_type.numeric else (None, None)
            point = Point(
                name=identifier(path, taken_points),
                description=description,
                data_type=data_type,
                unit=_unit(node.unit) if data_type.numeric else None,
                min=low,
                max=high,
                access=Access.READ_WRITE if node.writable else Access.READ,
            )
            points.append(point)
            bound_points.append({"point": point.name, "node": node.node_id, "type": data_type.value})
        elif node.node_class == "Method":
            command = _command(node, path, where, taken_cmds, skipped)
            if command is None:
                continue
            if len(commands) >= MAX_COMMANDS:
                skipped.append(f"{where}: more than {MAX_COMMANDS} commands")
                continue
            commands.append(command)
            bound_commands[command.name] = {
                "object": parent.node_id,
                "method": node.node_id,
                "args": [p.name for p in command.params],
            }
    root_title = _clean(root.browse_name, 128) or type_name
    device_type = DeviceType(
        name=type_name,
        version="0.1.0",
        title=title or root_title,
        description=f"Proposed from the OPC UA node {root.node_id} ({root_title}); review before use."[
            :MAX_DESCRIPTION
        ],
        category=category,
        reference=reference,
        points=tuple(points),
        attributes=tuple(attributes),
        commands=tuple(commands),
    )
    return Proposal(device_type, bound_points, bound_commands, skipped)


def _walk(
    node: BrowsedNode, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], BrowsedNode, BrowsedNode]]:
    """Depth first, in browse order: (path below the root, node, parent)."""
    for child in node.children:
        child_path = (*path, child.browse_name)
        yield child_path, child, node
        yield from _walk(child, child_path)


def _command(
    node: BrowsedNode, path: tuple[str, ...], where: str, taken: set[str], skipped: list[str]
) -> Command | None:
    params: list[Param] = []
    taken_params: set[str] = set()
    for arg in node.arguments[: MAX_PARAMS + 1]:
        data_type = DATA_TYPES.get(arg.data_type)
        if data_type is None or len(params) >= MAX_PARAMS:
            skipped.append(f"{where}: argument {arg.name} ({arg.data_type}) has no indunet equivalent")
            return None
        params.append(Param(name=identifier([arg.name], taken_params, fallback="arg"), data_type=data_type))
    # Methods are named by their own browse name: "start", "set_feed_override".
    return Command(
        name=identifier(path[-1:], taken, fallback="method"),
        description=_description(node, where),
        params=tuple(params),
    )


def _description(node: BrowsedNode, where: str) -> str:
    text = _clean(node.description or "", MAX_DESCRIPTION)
    if text and text != node.browse_name:
        return text
    return _clean(f"{where} (OPC UA node {node.node_id})", MAX_DESCRIPTION) or "OPC UA node"


def _clean(text: str, limit: int) -> str:
    return _PRINTABLE.sub(" ", text).strip()[:limit].strip()


def _unit(unit: str | None) -> str | None:
    if unit is None:
        return None
    unit = unit.strip()
    return unit if _UNIT.match(unit) else None


def _range(value: tuple[float, float] | None) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    low, high = (float(v) for v in value)
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        return None, None
    return low, high
