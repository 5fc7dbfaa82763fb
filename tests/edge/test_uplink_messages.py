"""Queued samples to gateway-API payloads: every sample in exactly one message, none over the limit."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.edge.queue import Queued
from indunet.edge.uplink import GATEWAY_TELEMETRY, OWN_TELEMETRY, messages

_rows = st.lists(
    st.tuples(
        st.sampled_from(["gw", "pump-1", "pump-2", "cnc \u673a\u5e8a"]),
        st.integers(0, 2**41),
        st.integers(0, 300),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(_rows, st.integers(200, 5000))
def test_every_sample_lands_in_one_message_within_the_size_limit(
    spec: list[tuple[str, int, int]], limit: int
) -> None:
    rows = [
        Queued(i + 1, device, ts, json.dumps({"flow": 1.5, "tag": "x" * pad}))
        for i, (device, ts, pad) in enumerate(spec)
    ]
    batch, too_large = messages(rows, "gw", limit)
    seen: list[int] = [r.id for r in too_large]
    for message in batch:
        assert len(message.payload) <= limit
        document = json.loads(message.payload)
        if message.topic == OWN_TELEMETRY:
            assert all(r.device == "gw" for r in message.rows)
            assert [item["ts"] for item in document] == [r.ts_ms for r in message.rows]
        else:
            assert message.topic == GATEWAY_TELEMETRY
            for row in message.rows:
                assert {"ts": row.ts_ms, "values": json.loads(row.body)} in document[row.device]
        seen.extend(r.id for r in message.rows)
    assert sorted(seen) == [r.id for r in rows]
    for row in too_large:  # only what could never fit alone is left out
        item = len(f'{{"ts":{row.ts_ms},"values":{row.body}}}'.encode())
        alone = 2 + item if row.device == "gw" else 2 + len(json.dumps(row.device).encode()) + 3 + item
        assert alone > limit


def test_one_device_keeps_its_order_across_messages() -> None:
    rows = [Queued(i, "pump-1", 1000 + i, '{"flow":1.0}') for i in range(1, 200)]
    batch, _ = messages(rows, "gw", 1024)
    assert len(batch) > 1
    sent = [item["ts"] for message in batch for item in json.loads(message.payload)["pump-1"]]
    assert sent == [1000 + i for i in range(1, 200)]
