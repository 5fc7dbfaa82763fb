"""OPC UA discovery: the gateway's client certificate, browsing an address space and ``scan``.

``browse`` walks the address space from Objects (bounded in depth and node count) into
``automodel.BrowsedNode`` trees; ``scan`` lists a server's endpoints and proposes a device per machine
(``automodel.propose``), drafting configuration entries for ``indunet gateway scan``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIdNames, ObjectIds
from asyncua.ua.uaerrors import UaError

from indunet.edge import automodel
from indunet.edge.drivers.opcua import (
    APPLICATION_URI,
    MAX_BROWSE_DEPTH,
    MAX_BROWSE_NODES,
    MAX_NODES_PER_READ,
    MAX_TIMEOUT_S,
    _any,
    _numeric,
    _translate,
)


async def generate_client_certificate(
    directory: Path, stem: str = "gateway", application_uri: str = APPLICATION_URI
) -> tuple[Path, Path]:
    """A self-signed client application certificate (DER) and key (PEM) for Basic256Sha256,
    made in ``directory`` if missing or invalid. Returns (certificate, private key)."""
    import socket

    from asyncua.crypto import cert_gen
    from cryptography.x509.oid import ExtendedKeyUsageOID

    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{stem}.der", directory / f"{stem}.pem"
    await cert_gen.setup_self_signed_certificate(
        key,
        cert,
        application_uri,
        socket.gethostname(),
        [ExtendedKeyUsageOID.CLIENT_AUTH],
        {"organizationName": "indunet"},
    )
    return cert, key


# --- browse and scan -------------------------------------------------------------------------------


@dataclass
class _Raw:
    ref: ua.ReferenceDescription
    children: list[_Raw] = field(default_factory=list)
    is_property: bool = False


async def browse(
    client: Client,
    root: ua.NodeId | None = None,
    *,
    max_depth: int = MAX_BROWSE_DEPTH,
    max_nodes: int = MAX_BROWSE_NODES,
    skip_namespace_zero: bool = True,
) -> automodel.BrowsedNode:
    """The address space below ``root`` (Objects by default), bounded in depth and node count.

    Children in namespace 0 (the Server object and its diagnostics) are skipped by default: device
    data lives in the vendor's namespaces.
    """
    start = root or _numeric(ObjectIds.ObjectsFolder)
    top = ua.ReferenceDescription()
    top.NodeId = _any(ua.ExpandedNodeId(start.Identifier, start.NamespaceIndex))
    top.BrowseName = ua.QualifiedName("Objects" if root is None else str(start.Identifier), _any(0))
    top.NodeClass = ua.NodeClass.Object
    tree = _Raw(top)
    level = [(tree, start)]
    count = 0
    for _depth in range(max_depth):
        if not level or count >= max_nodes:
            break
        params = ua.BrowseParameters()
        params.RequestedMaxReferencesPerNode = _any(1000)
        for _, nid in level:
            desc = ua.BrowseDescription()
            desc.NodeId = nid
            desc.BrowseDirection = ua.BrowseDirection.Forward
            desc.ReferenceTypeId = _numeric(ObjectIds.HierarchicalReferences)
            desc.IncludeSubtypes = True
            desc.NodeClassMask = _any(
                ua.NodeClass.Object.value | ua.NodeClass.Variable.value | ua.NodeClass.Method.value
            )
            desc.ResultMask = _any(ua.BrowseResultMask.All.value)
            params.NodesToBrowse.append(desc)
        results = await client.uaclient.browse(params)
        next_level = []
        for (parent, _), result in zip(level, results, strict=True):
            for ref in result.References or []:
                if count >= max_nodes:
                    break
                child_id = ua.NodeId(ref.NodeId.Identifier, ref.NodeId.NamespaceIndex)
                if skip_namespace_zero and child_id.NamespaceIndex == 0:
                    continue
                raw = _Raw(ref, is_property=ref.ReferenceTypeId == _numeric(ObjectIds.HasProperty))
                parent.children.append(raw)
                count += 1
                if ref.NodeClass != ua.NodeClass.Method:
                    next_level.append((raw, child_id))
        level = next_level
    return await _describe(client, tree)


async def _describe(client: Client, tree: _Raw) -> automodel.BrowsedNode:
    """Read what automodel needs of every variable in few requests, then build the tree."""
    variables: list[_Raw] = []
    methods: list[_Raw] = []

    def collect(raw: _Raw) -> None:
        for child in raw.children:
            if child.ref.NodeClass == ua.NodeClass.Variable:
                variables.append(child)
            elif child.ref.NodeClass == ua.NodeClass.Method:
                methods.append(child)
            collect(child)

    collect(tree)
    attrs = (AttributeIds.DataType, AttributeIds.ValueRank, AttributeIds.UserAccessLevel)
    info: dict[int, list[ua.DataValue]] = {}
    values: dict[int, Any] = {}
    # EngineeringUnits, EURange and InputArguments are values of property children.
    wanted = [
        c
        for v in variables + methods
        for c in v.children
        if c.ref.BrowseName.Name in ("EngineeringUnits", "EURange", "InputArguments")
    ]
    requests = [(id(v), a) for v in variables for a in attrs] + [(id(c), AttributeIds.Value) for c in wanted]
    nodes = {id(v): v for v in variables + wanted}
    for start in range(0, len(requests), MAX_NODES_PER_READ):
        chunk = requests[start : start + MAX_NODES_PER_READ]
        params = ua.ReadParameters()
        for key, attr in chunk:
            rv = ua.ReadValueId()
            ref = nodes[key].ref
            rv.NodeId = ua.NodeId(ref.NodeId.Identifier, ref.NodeId.NamespaceIndex)
            rv.AttributeId = _any(attr)
            params.NodesToRead.append(rv)
        results = await client.uaclient.read(params)
        for (key, attr), dv in zip(chunk, results, strict=True):
            if attr == AttributeIds.Value:
                values[key] = (
                    dv.Value.Value
                    if dv.Value is not None and (dv.StatusCode is None or dv.StatusCode.is_good())
                    else None
                )
            else:
                info.setdefault(key, []).append(dv)

    def build(raw: _Raw) -> automodel.BrowsedNode:
        ref = raw.ref
        node_id = ua.NodeId(ref.NodeId.Identifier, ref.NodeId.NamespaceIndex).to_string()
        kind = ref.NodeClass.name
        props = {c.ref.BrowseName.Name: values.get(id(c)) for c in raw.children}
        hidden = {"EngineeringUnits", "EURange", "InputArguments", "OutputArguments"}
        children = tuple(
            build(c) for c in raw.children if not (kind != "Object" and c.ref.BrowseName.Name in hidden)
        )
        name = ref.BrowseName.Name or node_id
        description = ref.DisplayName.Text if ref.DisplayName is not None else None
        if ref.NodeClass == ua.NodeClass.Variable:
            data_type, value_rank, access = info.get(id(raw)) or [ua.DataValue()] * 3
            dtype = data_type.Value.Value if data_type.Value is not None else None
            rank = value_rank.Value.Value if value_rank.Value is not None else -1
            level = access.Value.Value if access.Value is not None else 0
            unit = props.get("EngineeringUnits")
            rng = props.get("EURange")
            return automodel.BrowsedNode(
                browse_name=name,
                node_id=node_id,
                node_class="Variable",
                data_type=_type_name(dtype),
                unit=unit.DisplayName.Text
                if isinstance(unit, ua.EUInformation) and unit.DisplayName
                else None,
                range=(rng.Low, rng.High) if isinstance(rng, ua.Range) else None,
                writable=bool((level or 0) & ua.AccessLevel.CurrentWrite.mask),
                is_property=raw.is_property,
                array=rank not in (-1, None),
                description=description,
                children=children,
            )
        if ref.NodeClass == ua.NodeClass.Method:
            args = props.get("InputArguments") or []
            return automodel.BrowsedNode(
                browse_name=name,
                node_id=node_id,
                node_class="Method",
                description=description,
                arguments=tuple(
                    automodel.Argument(a.Name or f"arg{i}", _type_name(a.DataType) or "?")
                    for i, a in enumerate(args)
                    if isinstance(a, ua.Argument)
                ),
            )
        return automodel.BrowsedNode(name, node_id, "Object", description=description, children=children)

    return build(tree)


def _type_name(data_type: Any) -> str | None:
    if (
        isinstance(data_type, ua.NodeId)
        and data_type.NamespaceIndex == 0
        and isinstance(data_type.Identifier, int)
    ):
        return ObjectIdNames.get(data_type.Identifier)
    return None


async def scan(host: str, port: int, timeout_s: float) -> list[dict[str, Any]]:
    """Draft device entries for the OPC UA server at host:port.

    Lists the endpoints (security policies and user token types offered), browses the address
    space anonymously without security and proposes one device per machine under
    ``Objects/Machines`` (OPC 40001-1), else one for everything under Objects.
    """
    endpoint = f"opc.tcp://{host}:{port}"
    timeout_s = min(max(timeout_s, 0.1), MAX_TIMEOUT_S)
    client = Client(endpoint, timeout=timeout_s)
    with _translate(f"scan {endpoint}"):
        async with asyncio.timeout(timeout_s * 3):
            descriptions = await client.connect_and_get_server_endpoints()
    offered = [
        {
            "security_policy": (e.SecurityPolicyUri or "").rsplit("#", 1)[-1],
            "security_mode": e.SecurityMode.name,
            "user_tokens": sorted({t.TokenType.name for t in e.UserIdentityTokens or []}),
        }
        for e in descriptions
    ]
    base: dict[str, Any] = {
        "driver": "opcua",
        "connection": {"endpoint": endpoint, "security_policy": "None", "timeout_s": timeout_s},
        "endpoints": offered,
    }
    roots: list[automodel.BrowsedNode] = []
    problem = None
    try:
        async with asyncio.timeout(timeout_s * 10):
            await client.connect()
            try:
                objects = await browse(client)
            finally:
                with contextlib.suppress(Exception):
                    await client.disconnect()
    except (UaError, OSError, TimeoutError, ConnectionError) as exc:
        problem = f"browse failed (credentials or security needed?): {exc or type(exc).__name__}"
    else:
        machines = [c for c in objects.children if c.browse_name == "Machines" and c.node_class == "Object"]
        roots = [m for folder in machines for m in folder.children if m.node_class == "Object"] or [objects]
    if not roots:
        return [{**base, "name": f"opcua-{host}-{port}", "type": None, "points": [], "note": problem}]
    entries = []
    for root in roots:
        proposal = automodel.propose(root)
        entries.append(
            {
                **base,
                "name": automodel.snake_case(root.browse_name) or "device",
                "type": proposal.device_type.name,
                "points": proposal.points,
                "commands": proposal.commands,
                "proposed_type": proposal.device_type.model_dump(mode="json", exclude_none=True),
                "skipped": proposal.skipped,
            }
        )
    return entries
