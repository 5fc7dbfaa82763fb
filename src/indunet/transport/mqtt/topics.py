"""The ThingsBoard device API's topics: what a device may publish and subscribe to, and filter matching."""

from __future__ import annotations

TELEMETRY = "v1/devices/me/telemetry"
ATTRIBUTES = "v1/devices/me/attributes"
ATTRIBUTES_REQUEST = "v1/devices/me/attributes/request/"
ATTRIBUTES_RESPONSE = "v1/devices/me/attributes/response/"
RPC_REQUEST = "v1/devices/me/rpc/request/"
RPC_RESPONSE = "v1/devices/me/rpc/response/"

_DEVICE_ROOT = "v1/devices/me/"
_GATEWAY_ROOT = "v1/gateway/"
MAX_REQUEST_ID = 10**9


def request_id(topic: str, prefix: str) -> int | None:
    """The numeric id ending ``topic`` under ``prefix``, or None when the topic is not of that form."""
    tail = topic[len(prefix) :]
    if not topic.startswith(prefix) or not tail.isdigit() or len(tail) > 9:
        return None
    return int(tail)


def may_subscribe(pattern: str) -> bool:
    """A device subscribes only to its own branch (``v1/devices/me/...``) and, acting as a gateway, to
    the gateway branch (``v1/gateway/...``), which carries only its own children's traffic."""
    return pattern.startswith((_DEVICE_ROOT, _GATEWAY_ROOT)) and valid_filter(pattern)


def valid_filter(pattern: str) -> bool:
    levels = pattern.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return bool(pattern) and "\x00" not in pattern


def matches(pattern: str, topic: str) -> bool:
    pattern_levels = pattern.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(pattern_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(pattern_levels) == len(topic_levels)
