"""The host's per-node bookkeeping: births, sequence numbers, aliases, deaths and rebirth requests."""

from __future__ import annotations

from indunet.transport.sparkplug.payload import DataType, Metric, Payload
from indunet.transport.sparkplug.session import Born, HostSession, Offline, RebirthNeeded, Sample, Samples
from indunet.transport.sparkplug.topics import MessageType, Topic

G, N = "plant", "edge1"


def topic(kind: MessageType, device: str | None = None) -> Topic:
    return Topic(G, kind, N, device)


def born_session() -> HostSession:
    session = HostSession(rebirth_after_s=10)
    nbirth = Payload(
        seq=0,
        metrics=(
            Metric(name="bdSeq", datatype=DataType.INT64, value=3),
            Metric(name="Node Control/Rebirth", datatype=DataType.BOOLEAN, value=False),
        ),
    )
    session.receive(topic(MessageType.NBIRTH), nbirth, 0.0)
    dbirth = Payload(
        seq=1,
        timestamp=1000,
        metrics=(
            Metric(name="Temp", alias=7, datatype=DataType.INT16, value=-4),
            Metric(name="Run", alias=8, datatype=DataType.BOOLEAN, value=True),
        ),
    )
    events = session.receive(topic(MessageType.DBIRTH, "m1"), dbirth, 0.0)
    assert isinstance(events[0], Born) and [m.name for m in events[0].metrics] == ["Temp", "Run"]
    assert events[1] == Samples(G, N, "m1", (Sample("Temp", 1000, -4), Sample("Run", 1000, True)))
    return session


def test_data_by_alias_uses_the_birth_name_and_signed_type() -> None:
    session = born_session()
    # No datatype in DATA: -2 arrives as the unsigned 32-bit pattern and is read as the born Int16.
    data = Payload(seq=2, timestamp=2000, metrics=(Metric(alias=7, value=0xFFFF_FFFE),))
    assert session.receive(topic(MessageType.DDATA, "m1"), data, 1.0) == [
        Samples(G, N, "m1", (Sample("Temp", 2000, -2),))
    ]


def test_sequence_gap_asks_for_one_rebirth_and_still_stores_the_data() -> None:
    session = born_session()
    data = Payload(seq=5, metrics=(Metric(name="Temp", timestamp=3, value=1),))
    events = session.receive(topic(MessageType.DDATA, "m1"), data, 1.0)
    assert isinstance(events[0], RebirthNeeded) and "expected 2" in events[0].reason
    assert isinstance(events[1], Samples)
    # The next gap within the throttle window does not send a second request.
    events = session.receive(topic(MessageType.DDATA, "m1"), Payload(seq=9), 2.0)
    assert not any(isinstance(e, RebirthNeeded) for e in events)


def test_sequence_wraps_after_255() -> None:
    session = born_session()
    seq = 2
    for _ in range(300):
        events = session.receive(topic(MessageType.NDATA), Payload(seq=seq % 256), 1.0)
        assert events == []
        seq += 1


def test_unknown_alias_drops_the_metric_and_asks_for_rebirth() -> None:
    session = born_session()
    data = Payload(seq=2, metrics=(Metric(alias=99, value=1), Metric(alias=8, value=False)))
    events = session.receive(topic(MessageType.DDATA, "m1"), data, 1.0)
    assert events[0] == RebirthNeeded(G, N, "unknown alias 99")
    assert events[1] == Samples(G, N, "m1", (Sample("Run", None, False),))


def test_data_before_birth_is_dropped_with_a_rebirth_request() -> None:
    session = HostSession()
    events = session.receive(
        topic(MessageType.NDATA), Payload(seq=4, metrics=(Metric(name="x", value=1),)), 0
    )
    assert events == [RebirthNeeded(G, N, "message before NBIRTH")]


def test_ddeath_and_ndeath_mark_offline_and_stale_ndeath_is_ignored() -> None:
    session = born_session()
    assert session.receive(topic(MessageType.DDEATH, "m1"), Payload(seq=2), 1.0) == [Offline(G, N, "m1")]
    assert not session.is_born(G, N, "m1")
    stale = Payload(metrics=(Metric(name="bdSeq", datatype=DataType.INT64, value=2),))
    assert session.receive(topic(MessageType.NDEATH), stale, 1.0) == []
    assert session.is_born(G, N)
    current = Payload(metrics=(Metric(name="bdSeq", datatype=DataType.INT64, value=3),))
    assert session.receive(topic(MessageType.NDEATH), current, 1.0) == [Offline(G, N, None)]
    assert not session.is_born(G, N)


def test_ndeath_takes_the_nodes_devices_offline() -> None:
    session = born_session()
    current = Payload(metrics=(Metric(name="bdSeq", datatype=DataType.INT64, value=3),))
    assert session.receive(topic(MessageType.NDEATH), current, 1.0) == [
        Offline(G, N, "m1"),
        Offline(G, N, None),
    ]
