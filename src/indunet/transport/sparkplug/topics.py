"""Sparkplug B topic names: ``spBv1.0/<group_id>/<message_type>/<edge_node_id>[/<device_id>]``.

Host application state lives outside any group, at ``spBv1.0/STATE/<host_id>`` (Sparkplug 3.0).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from indunet.core.errors import InvalidInput

NAMESPACE = "spBv1.0"
_MAX_ID = 256


class MessageType(StrEnum):
    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    NDATA = "NDATA"
    DDATA = "DDATA"
    NCMD = "NCMD"
    DCMD = "DCMD"

    @property
    def device_level(self) -> bool:
        return self.value.startswith("D")


@dataclass(frozen=True, slots=True)
class Topic:
    group: str
    kind: MessageType
    node: str
    device: str | None = None

    def __str__(self) -> str:
        tail = f"/{self.device}" if self.device is not None else ""
        return f"{NAMESPACE}/{self.group}/{self.kind.value}/{self.node}{tail}"


def check_id(value: str, what: str) -> str:
    """Sparkplug ids are UTF-8 without the MQTT separators and wildcards."""
    if not value or len(value) > _MAX_ID or any(c in value for c in "/+#"):
        raise InvalidInput(f"bad Sparkplug {what} {value!r}", key="error.sparkplug_topic")
    return value


def parse_topic(topic: str) -> Topic:
    """A group message topic; raises ``InvalidInput`` for STATE and anything not Sparkplug B."""
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE:
        raise InvalidInput(f"not a Sparkplug B topic: {topic[:200]!r}", key="error.sparkplug_topic")
    try:
        kind = MessageType(parts[2])
    except ValueError:
        raise InvalidInput(
            f"unknown Sparkplug message type {parts[2][:20]!r}", key="error.sparkplug_topic"
        ) from None
    if kind.device_level != (len(parts) == 5):
        raise InvalidInput(f"{kind.value} topic has the wrong depth", key="error.sparkplug_topic")
    group, node = check_id(parts[1], "group id"), check_id(parts[3], "edge node id")
    device = check_id(parts[4], "device id") if len(parts) == 5 else None
    return Topic(group, kind, node, device)


def state_topic(host_id: str) -> str:
    return f"{NAMESPACE}/STATE/{check_id(host_id, 'host id')}"
