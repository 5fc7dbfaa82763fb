"""OPC UA driver (asyncua client): batched reads, one subscription, writes, method calls, scan.

Theory of operation. ``create`` checks the configuration without I/O. ``connect`` opens a session
(optionally Basic256Sha256 Sign or SignAndEncrypt with the gateway's application certificate, and
a user name and password) and resolves point addresses given as browse paths with one
TranslateBrowsePathsToNodeIds call; a path that does not resolve costs only its own point.

    read()       one Read request (chunked at MAX_NODES_PER_READ) of every bound node; a Bad status
                 is a DeviceError for that point, the other points are returned
    subscribe()  one subscription, one monitored item per node; data changes become Readings stamped
                 with the server's SourceTimestamp. asyncua's connection supervisor probes the server
                 every ``WATCHDOG_S`` and fires ``connection_lost_callback`` on failure, which ends
                 subscribe() with a TransportError
    write()      Write with the node's own VariantType (read once from its DataType)
    call()       Call of ``spec.commands[command] = {object, method, args?}`` with positional inputs

asyncua raises OSError, asyncio.TimeoutError, ConnectionError and UaStatusCodeError subclasses;
``_translate`` maps them once: transport-level and session/security failures -> TransportError,
any other Bad status -> DeviceError.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeEvent, StatusChangeEvent, Subscription
from asyncua.crypto import security_policies
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from indunet.edge.driver import (
    Binding,
    BindingError,
    DeviceError,
    DeviceSpec,
    Emit,
    PollResult,
    Reading,
    TransportError,
    Value,
)
from indunet.platform.models import DataType

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 4.0
MAX_TIMEOUT_S = 60.0
WATCHDOG_S = 1.0
MAX_POINTS = 5000
MAX_NODES_PER_READ = 1000
MAX_NODE_TEXT = 1024
MAX_BROWSE_DEPTH = 10
MAX_BROWSE_NODES = 5000
APPLICATION_URI = "urn:indunet:edge:gateway"
CONNECTION_KEYS = frozenset(
    {
        "endpoint",
        "security_policy",
        "security_mode",
        "certificate",
        "private_key",
        "server_certificate",
        "username",
        "password",
        "timeout_s",
        "mode",
        "publishing_interval_ms",
        "sampling_interval_ms",
        "queue_size",
        "application_uri",
    }
)
TYPES = {"bool": DataType.BOOL, "int": DataType.INT, "float": DataType.FLOAT, "string": DataType.STRING}
_ENDPOINT = re.compile(r"^opc\.tcp://[^\s/:]+(:\d{1,5})?(/\S*)?$")
_PATH_PART = re.compile(r"^(?:(\d+):)?(.+)$")

# Status codes that mean the session or channel is gone, not that one request was refused.
_TRANSPORT_STATUS = {
    StatusCodes.BadSessionIdInvalid,
    StatusCodes.BadSessionClosed,
    StatusCodes.BadSessionNotActivated,
    StatusCodes.BadSecureChannelIdInvalid,
    StatusCodes.BadSecureChannelClosed,
    StatusCodes.BadConnectionClosed,
    StatusCodes.BadServerNotConnected,
    StatusCodes.BadCommunicationError,
    StatusCodes.BadTimeout,
    StatusCodes.BadShutdown,
    StatusCodes.BadServerHalted,
    StatusCodes.BadTooManySessions,
    StatusCodes.BadUserAccessDenied,
    StatusCodes.BadIdentityTokenInvalid,
    StatusCodes.BadIdentityTokenRejected,
    StatusCodes.BadSecurityPolicyRejected,
    StatusCodes.BadSecurityChecksFailed,
    StatusCodes.BadCertificateInvalid,
    StatusCodes.BadCertificateUntrusted,
    StatusCodes.BadCertificateTimeInvalid,
    StatusCodes.BadCertificateUriInvalid,
}


def _any(value: Any) -> Any:
    """asyncua annotates with NewTypes (Int32, UInt32 ...) that plain values do not satisfy."""
    return value


def _status_name(code: int) -> str:
    try:
        return ua.StatusCode(_any(code)).name
    except Exception:  # an unknown code still deserves a readable message
        return f"0x{code:08X}"


@contextlib.contextmanager
def _translate(what: str) -> Any:
    """The one place where asyncua's exceptions become driver errors."""
    try:
        yield
    except (TransportError, DeviceError):
        raise
    except UaStatusCodeError as exc:
        code = int(exc.code)
        message = f"{what}: {_status_name(code)}"
        if code == StatusCodes.BadUserAccessDenied:
            message = f"{what}: user name or password refused (BadUserAccessDenied)"
        if code in _TRANSPORT_STATUS:
            raise TransportError(message) from exc
        raise DeviceError(message) from exc
    except (OSError, ConnectionError, EOFError) as exc:
        raise TransportError(f"{what}: {exc or type(exc).__name__}") from exc
    except TimeoutError as exc:
        raise TransportError(f"{what}: timed out") from exc
    except UaError as exc:
        raise TransportError(f"{what}: {exc}") from exc


# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    endpoint: str
    security_policy: str
    security_mode: str
    certificate: str | None
    private_key: str | None
    server_certificate: str | None
    username: str | None
    password: str | None
    timeout_s: float
    subscribe: bool
    publishing_interval_ms: int
    sampling_interval_ms: int
    queue_size: int
    application_uri: str


@dataclass
class _Point:
    name: str
    node: str  # NodeId text or browse path as configured
    raw_type: DataType
    node_id: ua.NodeId | None = None  # resolved
    problem: str | None = None  # why it could not be resolved
    variant_type: ua.VariantType | None = None


@dataclass(frozen=True)
class _Command:
    object: str
    method: str
    args: tuple[str, ...] | None


def _text(value: Any, path: str, *, required: bool = True, limit: int = MAX_NODE_TEXT) -> str | None:
    if value is None:
        if required:
            raise BindingError(path, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise BindingError(path, "must be a non-empty string")
    if len(value) > limit:
        raise BindingError(path, f"is longer than {limit} characters")
    return value


def _int(conn: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = conn.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BindingError(f"connection.{key}", f"must be an integer in {low}..{high}")
    return value


def _options(conn: Mapping[str, Any]) -> _Options:
    unknown = sorted(set(conn) - CONNECTION_KEYS)
    if unknown:
        raise BindingError(
            f"connection.{unknown[0]}", f"unknown key; known: {', '.join(sorted(CONNECTION_KEYS))}"
        )
    endpoint = _text(conn.get("endpoint"), "connection.endpoint")
    assert endpoint is not None
    if not _ENDPOINT.match(endpoint):
        raise BindingError("connection.endpoint", "must look like opc.tcp://host:port[/path]")
    policy = conn.get("security_policy", "None")
    if policy not in ("None", "Basic256Sha256"):
        raise BindingError("connection.security_policy", "must be None or Basic256Sha256")
    mode = conn.get("security_mode", "SignAndEncrypt")
    if mode not in ("Sign", "SignAndEncrypt"):
        raise BindingError("connection.security_mode", "must be Sign or SignAndEncrypt")
    secured = policy != "None"
    certificate = _text(conn.get("certificate"), "connection.certificate", required=secured)
    private_key = _text(conn.get("private_key"), "connection.private_key", required=secured)
    server_certificate = _text(
        conn.get("server_certificate"), "connection.server_certificate", required=False
    )
    username = _text(conn.get("username"), "connection.username", required=False, limit=256)
    password = conn.get("password")
    if password is not None and (not isinstance(password, str) or len(password) > 1024):
        raise BindingError("connection.password", "must be a string of at most 1024 characters")
    if username is not None and password is None:
        raise BindingError("connection.password", "is required with a username")
    timeout = conn.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT_S:
        raise BindingError("connection.timeout_s", f"must be a number in (0, {MAX_TIMEOUT_S:g}]")
    how = conn.get("mode", "subscribe")
    if how not in ("subscribe", "poll"):
        raise BindingError("connection.mode", "must be subscribe or poll")
    publishing = _int(conn, "publishing_interval_ms", 500, 10, 3_600_000)
    application_uri = _text(conn.get("application_uri", APPLICATION_URI), "connection.application_uri")
    assert application_uri is not None
    return _Options(
        endpoint=endpoint,
        security_policy=policy,
        security_mode=mode,
        certificate=certificate,
        private_key=private_key,
        server_certificate=server_certificate,
        username=username,
        password=password,
        timeout_s=float(timeout),
        subscribe=how == "subscribe",
        publishing_interval_ms=publishing,
        sampling_interval_ms=_int(conn, "sampling_interval_ms", publishing, 0, 3_600_000),
        queue_size=_int(conn, "queue_size", 10, 1, 10_000),
        application_uri=application_uri,
    )


def parse_browse_path(text: str) -> list[ua.QualifiedName]:
    """``/Objects/2:Machines/2:CNC-1`` -> qualified names below the Root folder. ValueError when bad."""
    parts = text.strip("/").split("/")
    if not parts or any(not p for p in parts):
        raise ValueError("empty path element")
    names = []
    for part in parts:
        match = _PATH_PART.match(part)
        assert match is not None
        ns = int(match.group(1) or 0)
        if ns > 65535:
            raise ValueError(f"namespace index {ns} out of range")
        names.append(ua.QualifiedName(match.group(2), _any(ns)))
    return names


def _check_node(text: Any, path: str) -> str:
    node = _text(text, path)
    assert node is not None
    try:
        if node.startswith("/"):
            parse_browse_path(node)
        else:
            ua.NodeId.from_string(node)
    except (ValueError, UaError, TypeError, AttributeError) as exc:
        raise BindingError(
            path, f"not a NodeId (ns=2;s=...) or browse path (/Objects/2:Name): {exc}"
        ) from exc
    return node


def _points(bindings: Sequence[Binding]) -> list[_Point]:
    if len(bindings) > MAX_POINTS:
        raise BindingError("points", f"more than {MAX_POINTS} points")
    points = []
    for i, b in enumerate(bindings):
        unknown = sorted(set(b.address) - {"node", "type"})
        if unknown:
            raise BindingError(
                f"points[{i}].{unknown[0]}", "unknown key; the opcua driver takes node and type"
            )
        node = _check_node(b.address.get("node"), f"points[{i}].node")
        kind = b.address.get("type", "float")
        if kind not in TYPES:
            raise BindingError(f"points[{i}].type", f"must be one of {', '.join(TYPES)}")
        points.append(_Point(b.point, node, TYPES[kind]))
    return points


def _commands(commands: Mapping[str, Mapping[str, Any]]) -> dict[str, _Command]:
    out = {}
    for name, keys in commands.items():
        where = f"commands.{name}"
        if not isinstance(keys, Mapping):
            raise BindingError(where, "must be a mapping with object and method")
        unknown = sorted(set(keys) - {"object", "method", "args"})
        if unknown:
            raise BindingError(f"{where}.{unknown[0]}", "unknown key; known: object, method, args")
        args = keys.get("args")
        if args is not None and (
            not isinstance(args, list | tuple) or len(args) > 50 or not all(isinstance(a, str) for a in args)
        ):
            raise BindingError(f"{where}.args", "must be a list of at most 50 parameter names")
        out[name] = _Command(
            _check_node(keys.get("object"), f"{where}.object"),
            _check_node(keys.get("method"), f"{where}.method"),
            None if args is None else tuple(args),
        )
    return out


def create(spec: DeviceSpec) -> OpcUaDriver:
    """Check the spec (BindingError) and build the driver; no I/O."""
    return OpcUaDriver(spec, _options(spec.connection), _points(spec.bindings), _commands(spec.commands))


# --- the driver --------------------------------------------------------------------------------


@dataclass
class _Method:
    object: ua.NodeId
    method: ua.NodeId
    input_types: list[ua.VariantType] | None = None


class OpcUaDriver:
    def __init__(
        self, spec: DeviceSpec, options: _Options, points: list[_Point], commands: dict[str, _Command]
    ) -> None:
        self.spec = spec
        self.options = options
        self.points = points
        self.commands = commands
        self.raw_types: dict[str, DataType] = {p.name: p.raw_type for p in points}
        self.subscribes = options.subscribe
        self._client: Client | None = None
        self._lost: asyncio.Event = asyncio.Event()
        self._lost_reason = ""
        self._methods: dict[str, _Method] = {}
        self._by_name = {p.name: p for p in points}

    # --- connection ----------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.close()
        o = self.options
        client = Client(o.endpoint, timeout=o.timeout_s, watchdog_intervall=WATCHDOG_S)
        client.application_uri = o.application_uri
        client.name = client.description = "indunet edge gateway"
        client.session_timeout = 60_000
        if o.username is not None:
            client.set_user(o.username)
            client.set_password(o.password or "")
        self._lost = asyncio.Event()
        self._lost_reason = ""
        client.connection_lost_callback = self._on_lost
        with _translate(f"connect {o.endpoint}"):
            try:
                async with asyncio.timeout(o.timeout_s * 3):
                    if o.security_policy == "Basic256Sha256":
                        await client.set_security(
                            security_policies.SecurityPolicyBasic256Sha256,
                            Path(o.certificate or ""),
                            Path(o.private_key or ""),
                            server_certificate=o.server_certificate,
                            mode=getattr(ua.MessageSecurityMode, o.security_mode),
                        )
                    await client.connect()
            except FileNotFoundError as exc:
                raise TransportError(f"connect {o.endpoint}: certificate or key file missing: {exc}") from exc
            except BaseException:
                with contextlib.suppress(Exception):
                    await client.disconnect()
                raise
        self._client = client
        try:
            await self._resolve()
        except BaseException:
            await self.close()
            raise

    async def _on_lost(self, exc: Exception) -> None:
        self._lost_reason = str(exc) or type(exc).__name__
        self._lost.set()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), self.options.timeout_s)

    def _require(self) -> Client:
        if self._client is None:
            raise TransportError("not connected")
        if self._lost.is_set():
            raise TransportError(f"connection lost: {self._lost_reason}")
        return self._client

    async def _resolve(self) -> None:
        """NodeIds as configured; browse paths through one TranslateBrowsePathsToNodeIds call."""
        client = self._require()
        paths: list[_Point] = []
        for p in self.points:
            p.node_id, p.problem, p.variant_type = None, None, None
            if p.node.startswith("/"):
                paths.append(p)
            else:
                p.node_id = ua.NodeId.from_string(p.node)
        texts = {c.object for c in self.commands.values()} | {c.method for c in self.commands.values()}
        resolved = await self._translate_paths(client, [p.node for p in paths] + sorted(texts))
        for p in paths:
            p.node_id = resolved.get(p.node)
            if p.node_id is None:
                p.problem = f"{p.name}: browse path {p.node} not found"
        self._methods = {}
        for name, c in self.commands.items():
            obj, method = resolved.get(c.object), resolved.get(c.method)
            if obj is not None and method is not None:
                self._methods[name] = _Method(obj, method)

    async def _translate_paths(self, client: Client, texts: Sequence[str]) -> dict[str, ua.NodeId]:
        out: dict[str, ua.NodeId] = {}
        requests: list[tuple[str, ua.BrowsePath]] = []
        for text in texts:
            if not text.startswith("/"):
                out[text] = ua.NodeId.from_string(text)
                continue
            names = parse_browse_path(text)
            if names and names[0] == ua.QualifiedName("Objects", _any(0)):
                start, names = _numeric(ObjectIds.ObjectsFolder), names[1:]
            else:
                start = _numeric(ObjectIds.RootFolder)
            elements = []
            for qname in names:
                element = ua.RelativePathElement()
                element.ReferenceTypeId = _numeric(ObjectIds.HierarchicalReferences)
                element.IncludeSubtypes = _any(True)
                element.IsInverse = _any(False)  # asyncua defaults to True
                element.TargetName = qname
                elements.append(element)
            bpath = ua.BrowsePath()
            bpath.StartingNode = start
            bpath.RelativePath = ua.RelativePath()
            bpath.RelativePath.Elements = elements
            requests.append((text, bpath))
        if requests:
            with _translate("translate browse paths"):
                results = await client.uaclient.translate_browsepaths_to_nodeids([b for _, b in requests])
            for (text, _), result in zip(requests, results, strict=True):
                if result.StatusCode.is_good() and result.Targets:
                    target = result.Targets[0].TargetId
                    out[text] = ua.NodeId(target.Identifier, target.NamespaceIndex)
        return out

    # --- read --------------------------------------------------------------------------------

    async def read(self) -> PollResult:
        client = self._require()
        result = PollResult()
        ready = []
        for p in self.points:
            if p.node_id is None:
                result.errors.append(DeviceError(p.problem or f"{p.name}: node not resolved"))
            else:
                ready.append(p)
        for start in range(0, len(ready), MAX_NODES_PER_READ):
            chunk = ready[start : start + MAX_NODES_PER_READ]
            params = ua.ReadParameters()
            params.TimestampsToReturn = ua.TimestampsToReturn.Both
            for p in chunk:
                rv = ua.ReadValueId()
                rv.NodeId = p.node_id
                rv.AttributeId = _any(AttributeIds.Value)
                params.NodesToRead.append(rv)
            with _translate("read"):
                async with asyncio.timeout(self.options.timeout_s * 2):
                    values = await client.uaclient.read(params)
            now_us = time.time_ns() // 1000
            for p, value in zip(chunk, values, strict=True):
                try:
                    result.readings.append(_reading(p, value, now_us))
                except DeviceError as exc:
                    result.errors.append(exc)
        return result

    # --- subscribe ---------------------------------------------------------------------------

    async def subscribe(self, emit: Emit) -> None:
        client = self._require()
        o = self.options
        by_node: dict[ua.NodeId, list[_Point]] = {}
        for p in self.points:
            if p.node_id is None:
                logger.warning("%s: %s", self.spec.name, p.problem)
            else:
                by_node.setdefault(p.node_id, []).append(p)
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = float(o.publishing_interval_ms)
        # Keep-alives at least every ~5 s so a dead subscription shows.
        params.RequestedMaxKeepAliveCount = _any(max(1, min(100, 5000 // o.publishing_interval_ms)))
        params.RequestedLifetimeCount = _any(params.RequestedMaxKeepAliveCount * 6)
        params.MaxNotificationsPerPublish = _any(0)
        params.PublishingEnabled = True
        with _translate("create subscription"):
            sub = await client.create_subscription(params, None, queue_maxsize=max(1000, 4 * len(by_node)))
        try:
            nodes = [client.get_node(n) for n in by_node]
            if nodes:
                with _translate("create monitored items"):
                    handles = await sub.subscribe_data_change(
                        nodes, queuesize=o.queue_size, sampling_interval=_any(float(o.sampling_interval_ms))
                    )
                for node, handle in zip(nodes, handles, strict=True):
                    if isinstance(handle, ua.StatusCode):
                        names = ", ".join(p.name for p in by_node[node.nodeid])
                        logger.warning("%s: cannot monitor %s: %s", self.spec.name, names, handle.name)
            await self._pump(sub, by_node, emit)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sub.delete(), o.timeout_s)

    async def _pump(self, sub: Subscription, by_node: dict[ua.NodeId, list[_Point]], emit: Emit) -> None:
        async for batch in _batches(sub, self._lost):
            readings: list[Reading] = []
            now_us = time.time_ns() // 1000
            for event in batch:
                if isinstance(event, StatusChangeEvent):
                    status = event.notification.Status
                    if not status.is_good():
                        raise TransportError(f"subscription ended: {status.name}")
                    continue
                if not isinstance(event, DataChangeEvent):
                    continue
                value = event.data.monitored_item.Value
                for p in by_node.get(event.node.nodeid, []):
                    try:
                        readings.append(_reading(p, value, now_us))
                    except DeviceError as exc:
                        logger.debug("%s: %s", self.spec.name, exc)
            if readings:
                emit(readings)
        raise TransportError(f"connection lost: {self._lost_reason or 'subscription closed'}")

    # --- write and call ----------------------------------------------------------------------

    async def write(self, point: str, raw: Value) -> None:
        client = self._require()
        p = self._by_name.get(point)
        if p is None:
            raise DeviceError(f"{point}: not bound")
        if p.node_id is None:
            raise DeviceError(p.problem or f"{point}: node not resolved")
        node = client.get_node(p.node_id)
        with _translate(f"write {point}"):
            if p.variant_type is None:
                async with asyncio.timeout(self.options.timeout_s * 2):
                    p.variant_type = await node.read_data_type_as_variant_type()
            variant = ua.Variant(_to_variant_value(raw, p.variant_type, point), p.variant_type)
            async with asyncio.timeout(self.options.timeout_s * 2):
                await node.write_value(ua.DataValue(variant))

    async def call(self, command: str, params: Mapping[str, Any]) -> Any:
        client = self._require()
        spec = self.commands.get(command)
        method = self._methods.get(command)
        if spec is None:
            raise DeviceError(f"{command}: no such method on this device")
        if method is None:
            raise DeviceError(f"{command}: object or method node not found ({spec.object}, {spec.method})")
        names = list(spec.args) if spec.args is not None else list(params)
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise DeviceError(f"{command}: unknown parameter {unknown[0]}")
        with _translate(f"call {command}"):
            async with asyncio.timeout(self.options.timeout_s * 2):
                if method.input_types is None:
                    method.input_types = await _input_types(client.get_node(method.method))
                values = [params[n] for n in names if n in params]
                args = []
                for i, value in enumerate(values):
                    vtype = method.input_types[i] if i < len(method.input_types) else _guess_vtype(value)
                    args.append(ua.Variant(_to_variant_value(value, vtype, command), vtype))
                request = ua.CallMethodRequest()
                request.ObjectId = method.object
                request.MethodId = method.method
                request.InputArguments = args
                results = await client.uaclient.call([request])
        result = results[0]
        if not result.StatusCode.is_good():
            raise DeviceError(f"call {command}: {result.StatusCode.name}")
        outputs = [v.Value for v in result.OutputArguments or []]
        return None if not outputs else outputs[0] if len(outputs) == 1 else outputs


async def _batches(sub: Subscription, lost: asyncio.Event) -> AsyncIterator[list[Any]]:
    """Subscription events in the batches they arrive in, until the connection is lost."""
    lost_wait = asyncio.ensure_future(lost.wait())
    next_event: asyncio.Future[Any] | None = None
    try:
        while not lost.is_set():
            next_event = asyncio.ensure_future(sub.next_event())
            done, _ = await asyncio.wait({next_event, lost_wait}, return_when=asyncio.FIRST_COMPLETED)
            if next_event not in done:
                next_event.cancel()
                return
            try:
                first = next_event.result()
            except StopAsyncIteration:
                return
            batch = [first]
            # The iterator's queue holds the rest of this publish response; drain it without waiting.
            queue = getattr(sub, "_event_queue", None)
            while queue is not None and not queue.empty() and len(batch) < 10_000:
                item = queue.get_nowait()
                if item is None:
                    break
                batch.append(item)
            yield batch
    finally:
        lost_wait.cancel()
        # A closed subscription ends its iterator with StopAsyncIteration; collect it, do not leak it.
        if next_event is not None:
            if not next_event.done():
                next_event.cancel()
            elif not next_event.cancelled():
                next_event.exception()


def _reading(p: _Point, value: ua.DataValue, now_us: int) -> Reading:
    status = value.StatusCode
    if status is not None and not status.is_good():
        raise DeviceError(f"{p.name}: {status.name}")
    variant = value.Value
    if variant is None or variant.Value is None:
        raise DeviceError(f"{p.name}: no value")
    stamp = value.SourceTimestamp or value.ServerTimestamp
    ts_us = _epoch_us(stamp) if stamp is not None else now_us
    return Reading(p.name, _convert(variant.Value, p.raw_type, p.name), ts_us)


def _epoch_us(stamp: dt.datetime) -> int:
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return int(stamp.timestamp() * 1_000_000)


def _convert(value: Any, kind: DataType, point: str) -> Value:
    if isinstance(value, ua.LocalizedText):
        value = value.Text or ""
    elif isinstance(value, ua.QualifiedName):
        value = value.Name or ""
    elif isinstance(value, dt.datetime):
        value = value.isoformat()
    try:
        if kind is DataType.BOOL:
            if isinstance(value, bool | int | float):
                return bool(value)
        elif kind is DataType.INT:
            if isinstance(value, bool | int) or (isinstance(value, float) and value.is_integer()):
                return int(value)
        elif kind is DataType.FLOAT:
            if isinstance(value, bool | int | float) and math.isfinite(float(value)):
                return float(value)
        elif isinstance(value, str):
            return value
        elif isinstance(value, bool | int | float):
            return str(value)
    except (TypeError, ValueError, OverflowError):
        pass
    raise DeviceError(f"{point}: value {str(value)[:80]!r} does not fit type {kind.value}")


_INTEGER_TYPES = {
    ua.VariantType.SByte,
    ua.VariantType.Byte,
    ua.VariantType.Int16,
    ua.VariantType.UInt16,
    ua.VariantType.Int32,
    ua.VariantType.UInt32,
    ua.VariantType.Int64,
    ua.VariantType.UInt64,
}


def _to_variant_value(raw: Any, vtype: ua.VariantType, what: str) -> Any:
    try:
        if vtype is ua.VariantType.Boolean and isinstance(raw, bool | int):
            return bool(raw)
        if vtype in _INTEGER_TYPES and isinstance(raw, bool | int | float) and float(raw).is_integer():
            return int(raw)
        if vtype in (ua.VariantType.Float, ua.VariantType.Double) and isinstance(raw, bool | int | float):
            return float(raw)
        if vtype is ua.VariantType.String and isinstance(raw, str):
            return raw
        if vtype is ua.VariantType.LocalizedText and isinstance(raw, str):
            return ua.LocalizedText(raw)
    except (TypeError, ValueError, OverflowError):
        pass
    raise DeviceError(f"{what}: {raw!r} cannot be written as {vtype.name}")


def _guess_vtype(value: Any) -> ua.VariantType:
    if isinstance(value, bool):
        return ua.VariantType.Boolean
    if isinstance(value, int):
        return ua.VariantType.Int64
    if isinstance(value, float):
        return ua.VariantType.Double
    return ua.VariantType.String


async def _input_types(method: Node) -> list[ua.VariantType]:
    try:
        prop = await method.get_child("0:InputArguments")
        args = await prop.read_value()
    except UaStatusCodeError:
        return []  # a method without inputs has no InputArguments property
    return [_vtype_of(a.DataType) for a in args or []]


def _vtype_of(data_type: ua.NodeId) -> ua.VariantType:
    if data_type.NamespaceIndex == 0 and isinstance(data_type.Identifier, int):
        with contextlib.suppress(ValueError):
            return ua.VariantType(data_type.Identifier)
    return ua.VariantType.Variant


def _numeric(identifier: int) -> ua.NodeId:
    return ua.NodeId(_any(identifier), _any(0))


# --- certificates --------------------------------------------------------------------------------


async def scan(host: str, port: int, timeout_s: float) -> list[dict[str, Any]]:
    """Draft device entries for the OPC UA server at host:port (see ``opcua_discovery.scan``)."""
    from indunet.edge.drivers import opcua_discovery

    return await opcua_discovery.scan(host, port, timeout_s)
