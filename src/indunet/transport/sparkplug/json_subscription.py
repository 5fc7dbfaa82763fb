"""Generic MQTT JSON subscriptions: messages on an external broker mapped onto device points.

``to_record`` is the sans-I/O part (topic and bytes in, one telemetry record out, ``InvalidInput`` for
anything it cannot map); ``JsonSubscriber`` holds one broker client per broker URL and feeds the
records to ``telemetry.ingest``, creating a device of the configured type on its first message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from indunet.core.config import MqttSubscription
from indunet.core.errors import Conflict, IndunetError, InvalidInput, NotFound, PayloadTooLarge
from indunet.platform import devices as device_service
from indunet.platform import telemetry
from indunet.platform.runtime import Platform
from indunet.platform.tenants import get_tenant_by_name
from indunet.security import Principal
from indunet.transport.sparkplug.broker import BrokerClient

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 256 * 1024
_PLACEHOLDER = re.compile(r"\{(\d+)\}")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching with ``+`` (one level) and ``#`` (the rest, including the parent)."""
    wanted, parts = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(parts) or (level != "+" and level != parts[index]):
            return False
    return len(parts) == len(wanted)


def device_for(template: str, topic: str) -> str:
    segments = topic.split("/")

    def segment(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(segments) or not segments[index]:
            raise InvalidInput(f"topic {topic[:200]!r} has no segment {index}", key="error.no_device_field")
        return segments[index]

    return _PLACEHOLDER.sub(segment, template)


def _field(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def to_record(subscription: MqttSubscription, topic: str, data: bytes) -> dict[str, Any]:
    """The telemetry record a JSON message stands for, under the subscription's mapping."""
    if len(data) > MAX_JSON_BYTES:
        raise PayloadTooLarge(f"message of {len(data)} bytes exceeds {MAX_JSON_BYTES}", key="error.too_large")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"message is not JSON: {exc}", key="error.bad_json") from None
    if not isinstance(document, dict):
        raise InvalidInput("message must be a JSON object", key="error.bad_json")
    if subscription.points:
        values = {point: _field(document, path) for path, point in subscription.points.items()}
        values = {k: v for k, v in values.items() if v is not None}
    else:
        values = {k: v for k, v in document.items() if k != subscription.timestamp_field}
    if not values:
        raise InvalidInput("message holds none of the mapped fields", key="error.no_values")
    record: dict[str, Any] = {"device": device_for(subscription.device, topic), "values": values}
    if subscription.timestamp_field:
        record["ts"] = _field(document, subscription.timestamp_field)
    return record


class JsonSubscriber:
    def __init__(self, platform: Platform, subscriptions: Sequence[MqttSubscription], client_id: str) -> None:
        self.platform = platform
        self.subscriptions = list(subscriptions)
        self.rejected = 0
        self._principals = {
            s.tenant: Principal.system(get_tenant_by_name(platform, s.tenant)["id"], label="system:mqtt-json")
            for s in subscriptions
        }
        by_broker: dict[str, list[MqttSubscription]] = {}
        for subscription in subscriptions:
            by_broker.setdefault(subscription.broker_url, []).append(subscription)
        self._clients = [
            BrokerClient(url, f"{client_id}-{n}"[:64], self.handle, sorted({s.topic for s in subs}))
            for n, (url, subs) in enumerate(by_broker.items())
        ]

    def start(self, timeout_s: float = 10.0) -> None:
        for client in self._clients:
            client.start(timeout_s)

    def stop(self) -> None:
        for client in self._clients:
            client.stop()

    def handle(self, topic: str, data: bytes) -> None:
        for subscription in self.subscriptions:
            if not topic_matches(subscription.topic, topic):
                continue
            try:
                self._ingest(subscription, topic, data)
            except IndunetError as exc:
                self.rejected += 1
                log.warning("MQTT JSON message on %s not ingested: %s", topic[:200], exc.message)

    def _ingest(self, subscription: MqttSubscription, topic: str, data: bytes) -> None:
        record = to_record(subscription, topic, data)
        principal = self._principals[subscription.tenant]
        try:
            ref = device_service.resolve(self.platform, principal.tenant_id, record["device"])
        except NotFound:
            if not subscription.device_type:
                raise
            # Conflict: another message created it first.
            with contextlib.suppress(Conflict):
                device_service.create_device(
                    self.platform, principal, record["device"], subscription.device_type
                )
            ref = device_service.resolve(self.platform, principal.tenant_id, record["device"])
        result = telemetry.ingest(self.platform, principal, [{**record, "device": ref.id}])
        if result.rejected:
            self.rejected += len(result.rejected)
            log.warning("MQTT JSON on %s: points rejected: %s", topic[:200], result.rejected[:3])
