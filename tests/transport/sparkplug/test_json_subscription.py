"""Generic MQTT JSON subscriptions: topic filters, device templates and field mapping."""

from __future__ import annotations

import pytest

from indunet.core.config import MqttSubscription
from indunet.core.errors import InvalidInput
from indunet.transport.sparkplug.json_subscription import device_for, to_record, topic_matches

SUB = MqttSubscription(
    broker_url="mqtt://127.0.0.1",
    topic="factory/+/sensors/#",
    tenant="t",
    device="line-{1}-{3}",
    points={"temp": "temperature", "p.value": "pressure"},
    timestamp_field="ts",
)


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("a/b", "a/b/c", False),
        ("+", "a", True),
    ],
)
def test_topic_filters(topic_filter: str, topic: str, matches: bool) -> None:
    assert topic_matches(topic_filter, topic) is matches


def test_mapped_fields_and_timestamp_make_a_record() -> None:
    record = to_record(
        SUB, "factory/7/sensors/pump", b'{"temp": 21.5, "p": {"value": 3}, "ts": 1700000000000}'
    )
    assert record == {
        "device": "line-7-pump",
        "values": {"temperature": 21.5, "pressure": 3},
        "ts": 1700000000000,
    }


@pytest.mark.parametrize(
    ("payload", "message"),
    [(b"not json", "not JSON"), (b"[1]", "JSON object"), (b'{"other": 1}', "none of the mapped")],
)
def test_unmappable_messages_are_clear_errors(payload: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        to_record(SUB, "factory/7/sensors/pump", payload)


def test_template_segment_missing_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="no segment 3"):
        device_for("line-{1}-{3}", "factory/7")
