"""The Sparkplug B host application: edge nodes on an external broker become indunet devices.

``SparkplugHost`` wires the broker client to the sans-I/O ``HostSession`` and carries out its events
against the platform services: births create the device (and, if its type is missing, a type derived
from the birth metrics), samples go through ``telemetry.ingest`` with the metric timestamps, deaths set
the device's ``sparkplug_state`` label to ``offline``, and rebirth requests go out as NCMD
``Node Control/Rebirth``. ``send_command`` writes a metric of a device through NCMD/DCMD.

STATE (Sparkplug 3.0): ``spBv1.0/STATE/<host_id>`` retained, QoS 1, ``{"online": true|false,
"timestamp": ms}``; the will carries the offline form with the same timestamp as the birth.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from indunet.core.errors import Conflict, IndunetError, InvalidInput, NotFound
from indunet.core.timeutil import US_PER_MS
from indunet.platform import devices as device_service
from indunet.platform import devicetypes, telemetry
from indunet.platform.runtime import DeviceRef, Platform
from indunet.security import Permission, Principal
from indunet.transport.sparkplug import mapping
from indunet.transport.sparkplug.broker import BrokerClient
from indunet.transport.sparkplug.payload import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    TEXT_TYPES,
    DataType,
    Metric,
    Payload,
    PayloadError,
    Value,
    decode_payload,
    encode_payload,
)
from indunet.transport.sparkplug.session import (
    REBIRTH_METRIC,
    Born,
    Event,
    HostSession,
    Offline,
    RebirthNeeded,
    Samples,
)
from indunet.transport.sparkplug.topics import NAMESPACE, MessageType, Topic, parse_topic, state_topic

log = logging.getLogger(__name__)

STATE_LABEL = "sparkplug_state"


@dataclass(slots=True)
class _Bound:
    """An indunet device bound to a Sparkplug edge node or device during this host session."""

    ref: DeviceRef
    group: str
    node: str
    device: str | None
    points: dict[str, str] = field(default_factory=dict)
    """Sparkplug metric name → point name."""
    metrics: dict[str, str] = field(default_factory=dict)
    """Point name → Sparkplug metric name, for commands."""


class SparkplugHost:
    def __init__(
        self, platform: Platform, tenant_id: str, host_id: str, broker_url: str, group_filter: str = "+"
    ) -> None:
        self.platform = platform
        self.host_id = host_id
        self.principal = Principal.system(tenant_id, label=f"system:sparkplug:{host_id}")
        self.session = HostSession()
        self._lock = threading.Lock()
        self._bound: dict[tuple[str, str, str | None], _Bound] = {}
        self._by_device: dict[str, _Bound] = {}
        self._birth_ms = int(time.time() * 1000)
        self.rejected = 0
        """Points the platform refused (not in the device's type, out of range); logged as well."""
        self._client = BrokerClient(
            broker_url,
            client_id=f"indunet-host-{host_id}"[:64],
            on_message=self.handle,
            subscriptions=[f"{NAMESPACE}/{group_filter}/#"],
            will=(state_topic(host_id), self._state(online=False)),
            on_connect=self._announce,
        )

    def start(self, timeout_s: float = 10.0) -> None:
        self._client.start(timeout_s)

    def stop(self) -> None:
        """Publishes STATE offline (what the will would say) and disconnects."""
        self._client.publish_and_wait(state_topic(self.host_id), self._state(online=False), retain=True)
        self._client.stop()

    def _state(self, online: bool) -> bytes:
        return json.dumps({"online": online, "timestamp": self._birth_ms}).encode()

    def _announce(self) -> None:
        self._client.publish(state_topic(self.host_id), self._state(online=True), qos=1, retain=True)

    # -- inbound ------------------------------------------------------------------------------------
    def handle(self, topic_name: str, data: bytes) -> None:
        """One message from the broker; malformed ones are logged and dropped, never raised."""
        try:
            topic = parse_topic(topic_name)
            payload = decode_payload(data) if topic.kind not in (MessageType.NCMD, MessageType.DCMD) else None
        except (InvalidInput, PayloadError) as exc:
            log.warning("dropped Sparkplug message on %s: %s", topic_name[:200], exc.message)
            return
        if payload is None:
            return
        with self._lock:
            events = self.session.receive(topic, payload, time.monotonic())
            for event in events:
                try:
                    self._apply(event)
                except IndunetError as exc:
                    log.warning("Sparkplug %s not applied: %s", type(event).__name__, exc.message)

    def _apply(self, event: Event) -> None:
        if isinstance(event, Born):
            self._born(event)
        elif isinstance(event, Samples):
            self._ingest(event)
        elif isinstance(event, Offline):
            bound = self._bound.get((event.group, event.node, event.device))
            if bound is not None:
                self.platform.mark_offline(bound.ref.id)
                self._set_state(bound.ref, "offline")
        elif isinstance(event, RebirthNeeded):
            log.info("asking %s/%s for a rebirth: %s", event.group, event.node, event.reason)
            self._publish_command(Topic(event.group, MessageType.NCMD, event.node), REBIRTH_METRIC, True)

    def _born(self, event: Born) -> None:
        name = mapping.device_name(event.group, event.node, event.device)
        where = "/".join(p for p in (event.group, event.node, event.device) if p is not None)
        try:
            ref = device_service.resolve(self.platform, self.principal.tenant_id, name)
        except NotFound:
            ref = self._create(name, mapping.type_name(event.group, event.node, event.device), where, event)
        else:
            self._refresh_type(ref.type_name, where, event)
        device_type = devicetypes.load_type(self.platform, ref.tenant_id, ref.type_name)
        derived = mapping.points_of(event.metrics)
        points: dict[str, str] = {}
        for metric in event.metrics:
            point = derived.get(metric.name)
            candidate = point.name if point is not None else mapping.identifier(metric.name)
            if device_type.point(candidate) is not None:
                points[metric.name] = candidate
        bound = _Bound(ref, event.group, event.node, event.device, points, {p: m for m, p in points.items()})
        self._bound[(event.group, event.node, event.device)] = bound
        self._by_device[ref.id] = bound
        self._set_state(ref, "online")

    def _create(self, name: str, type_name: str, where: str, event: Born) -> DeviceRef:
        self._refresh_type(type_name, where, event)
        labels = {"sparkplug_group": event.group[:256], "sparkplug_node": event.node[:256]}
        if event.device is not None:
            labels["sparkplug_device"] = event.device[:256]
        # Conflict: another host process created it meanwhile; use that one.
        with contextlib.suppress(Conflict):
            device_service.create_device(self.platform, self.principal, name, type_name, labels)
        return device_service.resolve(self.platform, self.principal.tenant_id, name)

    def _refresh_type(self, type_name: str, where: str, event: Born) -> None:
        try:
            existing = devicetypes.load_type(self.platform, self.principal.tenant_id, type_name)
        except NotFound:
            existing = None
        if existing is not None and existing.category != mapping.CATEGORY:
            return  # A type someone modelled by hand is theirs; metrics it lacks are rejected on ingest.
        derived = mapping.derive_type(type_name, where, event.metrics, existing)
        if derived is not None:
            devicetypes.put_type(self.platform, self.principal, derived)

    def _ingest(self, event: Samples) -> None:
        bound = self._bound.get((event.group, event.node, event.device))
        if bound is None:
            return
        by_ts: dict[int | None, dict[str, Any]] = {}
        for sample in event.samples:
            point = bound.points.get(sample.name)
            if point is not None:
                by_ts.setdefault(sample.timestamp_ms, {})[point] = sample.value
        records: list[dict[str, Any]] = [
            {"device": bound.ref.id, "ts": None if ts is None else ts * US_PER_MS, "values": values}
            for ts, values in by_ts.items()
        ]
        if not records:
            return
        result = telemetry.ingest(self.platform, self.principal, records)
        if result.rejected:
            self.rejected += len(result.rejected)
            log.warning(
                "%s: %d points rejected, first: %s", bound.ref.name, len(result.rejected), result.rejected[0]
            )

    def _set_state(self, ref: DeviceRef, state: str) -> None:
        current = device_service.get_device(self.platform, self.principal, ref.id)
        if current["labels"].get(STATE_LABEL) == state:
            return
        labels = {**current["labels"], STATE_LABEL: state}
        device_service.update_device(self.platform, self.principal, ref.id, {"labels": labels})

    # -- outbound -----------------------------------------------------------------------------------
    def _publish_command(
        self, topic: Topic, metric: str, value: Value, datatype: int = DataType.BOOLEAN
    ) -> None:
        payload = Payload(
            timestamp=int(time.time() * 1000),
            metrics=(Metric(name=metric, timestamp=int(time.time() * 1000), datatype=datatype, value=value),),
        )
        self._client.publish(str(topic), encode_payload(payload), qos=0)

    def state_of(self, device_id: str) -> str | None:
        """``online``/``offline`` as last set by a birth or death in this session; None if never bound."""
        bound = self._by_device.get(device_id)
        if bound is None:
            return None
        return "online" if self.session.is_born(bound.group, bound.node, bound.device) else "offline"

    def send_command(self, principal: Principal, device_id: str, point: str, value: Value) -> None:
        """Writes ``value`` to the metric behind ``point`` of a Sparkplug device (NCMD or DCMD).

        Sparkplug has no command reply: the edge node reports the new value in its next data message.
        The value is checked against the data type the birth declared; range and access checks belong
        to the caller (the RPC router), which holds the device type.
        """
        principal.require(Permission.WRITE_DEVICES)
        with self._lock:
            bound = self._by_device.get(device_id)
            if bound is None or bound.ref.tenant_id != principal.tenant_id:
                raise NotFound("device is not bound to a Sparkplug edge node", key="error.no_device")
            if not self.session.is_born(bound.group, bound.node, bound.device):
                raise Conflict("the Sparkplug device is offline", key="error.device_offline")
            metric = bound.metrics.get(point)
            if metric is None:
                raise InvalidInput(
                    f"device has no Sparkplug metric for point {point!r}",
                    key="error.unknown_point",
                    point=point,
                )
            datatype = self.session.datatype(bound.group, bound.node, bound.device, metric) or 0
            checked = _coerce(value, datatype, point)
            kind = MessageType.DCMD if bound.device is not None else MessageType.NCMD
            topic = Topic(bound.group, kind, bound.node, bound.device)
        self._publish_command(topic, metric, checked, datatype)


def _coerce(value: Value, datatype: int, point: str) -> Value:
    ok = (
        (datatype == DataType.BOOLEAN and isinstance(value, bool))
        or (datatype in INTEGER_TYPES and isinstance(value, int) and not isinstance(value, bool))
        or (datatype in FLOAT_TYPES and isinstance(value, int | float) and not isinstance(value, bool))
        or (datatype in TEXT_TYPES and isinstance(value, str))
    )
    if not ok:
        raise InvalidInput(
            f"value {value!r} does not fit Sparkplug data type {datatype}", key="error.bad_value", point=point
        )
    return float(value) if datatype in FLOAT_TYPES and isinstance(value, int) else value
