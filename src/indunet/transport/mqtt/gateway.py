"""ThingsBoard's gateway API: one connected device speaks for the devices behind it (its children).

Any device may act as a gateway. A child is named in the payload and created on first sight in the
gateway's tenant, labelled ``gateway=<gateway name>``. Its type is the one the gateway names when that
type exists in the tenant, else the gateway's own type (ThingsBoard's clients send ``"default"``, which
indunet has no use for). An existing device is taken as a child only when it carries this gateway's
label, so a gateway cannot write for devices it does not own. Each child acts with a device principal
of its own, so ingest, attributes and audit see the child, not the gateway.

A child's attributes are read back with ``attributes/request`` (one scope per request, as in
ThingsBoard). ``claim`` is ThingsBoard's device claiming: the device offers itself to whoever presents
its secret before a deadline. indunet has no customers to hand a device to, so a claim is recorded,
not acted on: the child's client attribute ``claim`` holds the SHA-256 of ``<device id>:<secret>`` and
the deadline (audited like every attribute write; the secret itself is never stored), so an operator
given the secret out of band can check that this device offered it, and when.

Payload parsing here is pure; ``Gateway`` holds the children of one connection and does the blocking
platform calls (run it in a worker thread).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from indunet.core.errors import IndunetError, InvalidInput, NotFound, PermissionDenied
from indunet.core.timeutil import US_PER_MS, now_us, to_rfc3339
from indunet.platform import device_api, devicetypes, telemetry
from indunet.platform.devices import create_device, get_device, resolve
from indunet.platform.naming import check_device_name
from indunet.platform.rpc import router_for
from indunet.platform.runtime import Platform
from indunet.platform.telemetry_formats import Record
from indunet.security import Principal, Role
from indunet.transport.mqtt import tbapi

ROOT = "v1/gateway/"
CONNECT = "v1/gateway/connect"
DISCONNECT = "v1/gateway/disconnect"
TELEMETRY = "v1/gateway/telemetry"
ATTRIBUTES = "v1/gateway/attributes"
ATTRIBUTES_REQUEST = "v1/gateway/attributes/request"
ATTRIBUTES_RESPONSE = "v1/gateway/attributes/response"
RPC = "v1/gateway/rpc"
CLAIM = "v1/gateway/claim"

MAX_CHILDREN = 1000
"""Children one gateway connection may speak for; a bound on the state a single token can create."""

LABEL = "gateway"

CLAIM_ATTRIBUTE = "claim"
DEFAULT_CLAIM_MS = 86_400_000
"""ThingsBoard's default claim window (a day), used when a claim names none."""
MAX_CLAIM_MS = 30 * DEFAULT_CLAIM_MS
MAX_SECRET_CHARS = 256


# -- payloads ------------------------------------------------------------------------------------------
def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise tbapi.BadPayload("'device' must be a device name")
    try:
        return check_device_name(value)
    except InvalidInput as exc:
        raise tbapi.BadPayload(exc.message) from None


def connect_request(payload: bytes) -> tuple[str, str | None]:
    """(child name, type it asks for) of a connect or disconnect message."""
    data = tbapi.parse_json(payload)
    if not isinstance(data, dict):
        raise tbapi.BadPayload("the message must be an object with a 'device' name")
    type_name = data.get("type")
    return _name(data.get("device")), type_name if isinstance(type_name, str) and type_name else None


def _per_device(payload: bytes) -> dict[str, Any]:
    data = tbapi.parse_json(payload)
    if not isinstance(data, dict) or not data:
        raise tbapi.BadPayload("the message must be a non-empty object keyed by device name")
    if len(data) > MAX_CHILDREN:
        raise tbapi.BadPayload(f"at most {MAX_CHILDREN} devices in one message")
    return {_name(name): value for name, value in data.items()}


def telemetry_records(payload: bytes) -> dict[str, list[Record]]:
    """``{"child": [{"ts": ms, "values": {...}}, ...]}`` (or any device API telemetry shape per child)."""
    out: dict[str, list[Record]] = {}
    for name, value in _per_device(payload).items():
        out[name] = tbapi.telemetry_records(tbapi.dumps(value))
    return out


def attribute_updates(payload: bytes) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, value in _per_device(payload).items():
        if not isinstance(value, dict) or not value:
            raise tbapi.BadPayload(f"attributes of {name!r} must be a non-empty object")
        out[name] = value
    return out


def _request_id(value: Any, what: str) -> int:
    if isinstance(value, str) and value.isdigit() and len(value) <= 9:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**9:
        raise tbapi.BadPayload(f"{what} needs a numeric 'id'")
    return value


def rpc_reply(payload: bytes) -> tuple[str, int, Any]:
    """(child name, request id, answer) of ``{"device", "id", "data"}``."""
    data = tbapi.parse_json(payload)
    if not isinstance(data, dict):
        raise tbapi.BadPayload("an RPC reply is an object {device, id, data}")
    return _name(data.get("device")), _request_id(data.get("id"), "an RPC reply"), data.get("data")


@dataclass(frozen=True, slots=True)
class AttributeRequest:
    """One ``attributes/request``; ``keys`` None asks for every key of the scope."""

    id: int
    device: str
    client: bool
    keys: list[str] | None

    @property
    def single(self) -> bool:
        """Answered with one ``value``: ThingsBoard does so for one key, and its clients expect it."""
        return self.keys is not None and len(self.keys) == 1


def attribute_request(payload: bytes) -> AttributeRequest:
    """``{"id", "device", "client": bool, "key": k}`` or ``... "keys": [k, ...]`` (empty: all keys)."""
    data = tbapi.parse_json(payload)
    if not isinstance(data, dict):
        raise tbapi.BadPayload("an attribute request is an object {id, device, client, key or keys}")
    number = _request_id(data.get("id"), "an attribute request")
    client = data.get("client", False)
    if not isinstance(client, bool):
        raise tbapi.BadPayload("'client' is true (client scope) or false (shared scope)")
    keys: list[str] | None
    if "key" in data:
        if not isinstance(data["key"], str) or not data["key"]:
            raise tbapi.BadPayload("'key' must be an attribute name")
        keys = [data["key"]]
    else:
        keys = data.get("keys")
        if keys is not None and (
            not isinstance(keys, list)
            or len(keys) > device_api.MAX_KEYS
            or not all(isinstance(key, str) and key for key in keys)
        ):
            raise tbapi.BadPayload(f"'keys' must be a list of at most {device_api.MAX_KEYS} attribute names")
        keys = keys or None
    return AttributeRequest(number, _name(data.get("device")), client, keys)


def attribute_response(request: AttributeRequest, found: dict[str, Any]) -> dict[str, Any]:
    """The answer to ``request``; a key the device does not have is left out (no ``value`` at all)."""
    out: dict[str, Any] = {"id": request.id, "device": request.device}
    if not request.single:
        out["values"] = found
    elif found:
        out["value"] = next(iter(found.values()))
    return out


@dataclass(frozen=True, slots=True)
class Claim:
    secret: str
    duration_ms: int


def claims(payload: bytes) -> dict[str, Claim]:
    """``{"child": {"secretKey": s, "durationMs": n}, ...}``; a missing secret is empty, as in
    ThingsBoard, and a missing or zero duration is ThingsBoard's default of a day."""
    out: dict[str, Claim] = {}
    for name, value in _per_device(payload).items():
        if not isinstance(value, dict):
            raise tbapi.BadPayload(f"the claim of {name!r} must be an object {{secretKey, durationMs}}")
        secret = value.get("secretKey", "")
        if not isinstance(secret, str) or len(secret) > MAX_SECRET_CHARS:
            raise tbapi.BadPayload(f"'secretKey' must be text of at most {MAX_SECRET_CHARS} characters")
        duration = value.get("durationMs", 0)
        if not isinstance(duration, int) or isinstance(duration, bool) or not 0 <= duration <= MAX_CLAIM_MS:
            raise tbapi.BadPayload(f"'durationMs' must be 0..{MAX_CLAIM_MS} milliseconds (0: a day)")
        out[name] = Claim(secret, duration or DEFAULT_CLAIM_MS)
    return out


def claim_record(device_id: str, claim: Claim, at_us: int) -> dict[str, Any]:
    """What is kept of a claim: a digest of the secret bound to the device, and its deadline."""
    digest = hashlib.sha256(f"{device_id}:{claim.secret}".encode()).hexdigest()
    return {"secret_sha256": digest, "expires": to_rfc3339(at_us + claim.duration_ms * US_PER_MS)}


def rpc_request(name: str, request_id: int, method: str, params: Any) -> dict[str, Any]:
    return {"device": name, "data": {"id": request_id, "method": method, "params": params}}


# -- children ------------------------------------------------------------------------------------------
class ChildChannel:
    """The RPC router's ``DeviceChannel`` for a child: requests go to its gateway, naming the child."""

    def __init__(self, name: str, post: Callable[[str, Any], None]) -> None:
        self.name = name
        self._post = post

    def send_rpc(self, request_id: int, method: str, params: Any) -> None:
        self._post(RPC, rpc_request(self.name, request_id, method, params))

    def send_attributes(self, update: dict[str, Any]) -> None:
        self._post(ATTRIBUTES, {"device": self.name, "data": update})


@dataclass(frozen=True, slots=True)
class Child:
    id: str
    name: str
    principal: Principal
    channel: ChildChannel


@dataclass(slots=True)
class Outcome:
    """What became of one gateway telemetry message: points stored, and why others were not."""

    stored: int = 0
    problems: list[str] = field(default_factory=list)


class Gateway:
    """The children of one gateway connection. Methods block on the database: call them off the loop.

    ``post(topic, value)`` publishes to the gateway and must be safe to call from any thread. Without
    it (the HTTP gateway API, one request at a time) nothing can reach the gateway, so its children
    are not offered to the command router and keep whatever route they have.
    """

    def __init__(
        self, platform: Platform, principal: Principal, post: Callable[[str, Any], None] | None
    ) -> None:
        assert principal.device_id is not None
        self.platform = platform
        self.principal = principal
        self.router = router_for(platform)
        self._post = post
        own = resolve(platform, principal.tenant_id, principal.device_id)
        self.name = own.name
        self.type_name = own.type_name
        self._children: dict[str, Child] = {}
        self._lock = threading.Lock()

    def known(self, name: str) -> Child | None:
        with self._lock:
            return self._children.get(name)

    def child(self, name: str, type_name: str | None = None) -> Child:
        """The child called ``name``, created on first sight and marked seen; refused when not ours."""
        found = self.known(name)
        if found is None:
            found = self._adopt(name, type_name)
        self.platform.mark_seen(found.id, now_us())
        return found

    def _adopt(self, name: str, type_name: str | None) -> Child:
        if name == self.name:
            raise PermissionDenied("a gateway is not its own child")
        with self._lock:
            if len(self._children) >= MAX_CHILDREN:
                raise InvalidInput(f"a gateway speaks for at most {MAX_CHILDREN} devices")
        tenant = self.principal.tenant_id
        system = Principal.system(tenant, label=f"gateway:{self.name}")
        try:
            ref = resolve(self.platform, tenant, name)
        except NotFound:
            labels = {LABEL: self.name}
            device_id = create_device(self.platform, system, name, self._type_for(type_name), labels)["id"]
        else:
            if get_device(self.platform, system, ref.id)["labels"].get(LABEL) != self.name:
                raise PermissionDenied(f"device {name!r} exists and is not behind this gateway")
            device_id = ref.id
        principal = Principal(tenant, Role.DEVICE, device_id, f"device:{name}", device_id=device_id)
        child = Child(device_id, name, principal, ChildChannel(name, self._post or _nowhere))
        with self._lock:
            child = self._children.setdefault(name, child)
        if self._post is not None:
            self.router.register(child.id, child.channel)
        return child

    def _type_for(self, requested: str | None) -> str:
        if requested is None:
            return self.type_name
        try:
            devicetypes.load_type(self.platform, self.principal.tenant_id, requested)
        except NotFound:
            return self.type_name
        return requested

    def ingest(self, records: dict[str, list[Record]]) -> Outcome:
        """Each child's records as that child; one child's refusal does not stop the others."""
        outcome = Outcome()
        for name, items in records.items():
            points = sum(len(item["values"]) for item in items)
            try:
                child = self.child(name)
                result = telemetry.ingest(self.platform, child.principal, items)
            except IndunetError as exc:
                outcome.problems.append(f"{name}: {exc.message}")
                continue
            outcome.stored += points - len(result.rejected)
            outcome.problems.extend(
                f"{name}.{entry.get('point', '')}: {entry['message']}" for entry in result.rejected
            )
        return outcome

    def set_attributes(self, updates: dict[str, dict[str, Any]]) -> None:
        for name, values in updates.items():
            device_api.set_client_attributes(self.platform, self.child(name).principal, values)

    def answer_attributes(self, request: AttributeRequest) -> None:
        """Read one scope of a child's attributes, as the child, and publish the answer."""
        child = self.child(request.device)
        scope = "client" if request.client else "shared"
        found = device_api.get_attributes(
            self.platform, child.principal, child.id, request.keys, request.keys, (scope,)
        )[scope]
        (self._post or _nowhere)(ATTRIBUTES_RESPONSE, attribute_response(request, found))

    def claim(self, offers: dict[str, Claim]) -> None:
        for name, offer in offers.items():
            child = self.child(name)
            record = claim_record(child.id, offer, now_us())
            device_api.set_client_attributes(self.platform, child.principal, {CLAIM_ATTRIBUTE: record})

    def answer(self, name: str, request_id: int, result: Any) -> None:
        child = self.known(name)
        if child is not None:  # an answer for a child never announced answers nothing: drop it
            self.router.respond(child.id, request_id, result)

    def disconnect(self, name: str) -> None:
        with self._lock:
            child = self._children.pop(name, None)
        if child is not None:
            self._release(child)

    def close(self) -> None:
        """The gateway went away: so did every child it spoke for."""
        with self._lock:
            children, self._children = list(self._children.values()), {}
        for child in children:
            self._release(child)

    def _release(self, child: Child) -> None:
        if self._post is not None:
            self.router.unregister(child.id, child.channel)
            self.platform.mark_offline(child.id)


def _nowhere(topic: str, value: Any) -> None:
    """Where a gateway without a connection would publish: it has none to publish on."""
