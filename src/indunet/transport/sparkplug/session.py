"""The Sparkplug host application's view of its edge nodes, without I/O.

Theory of operation. ``HostSession.receive(topic, payload, now)`` takes one decoded message and returns
events for the adapter to carry out: births (create or update devices), samples (ingest), offline
marks and rebirth requests. Per edge node it keeps what Sparkplug 3.0 makes the host track:

- the NBIRTH's ``bdSeq``: an NDEATH whose bdSeq differs is a stale will from an earlier session and
  is ignored;
- the sequence number: every message of a node after NBIRTH (DBIRTH, NDATA, DDATA, DDEATH) carries
  ``seq`` one higher, modulo 256. A gap means lost messages, so the host asks for a rebirth;
- aliases: births map alias → metric name for the whole node; data may then send only the alias. An
  alias never born also asks for a rebirth, and the metric is dropped (its meaning is unknown);
- the birth data types, so data messages that omit ``datatype`` still decode signed integers right.

Messages from a node that never sent NBIRTH (the host started later, or lost it) are dropped with a
rebirth request. Rebirth requests to one node are throttled until it answers or ``rebirth_after_s``
passes, so a burst of gaps sends one NCMD, not hundreds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from indunet.transport.sparkplug.payload import DataType, Metric, Payload, Value, retype
from indunet.transport.sparkplug.topics import MessageType, Topic

BD_SEQ = "bdSeq"
REBIRTH_METRIC = "Node Control/Rebirth"
# Control metrics steer the edge node; they are not process values and are never stored as points.
_CONTROL_PREFIXES = ("Node Control/", "Device Control/")


def is_control(name: str) -> bool:
    return name == BD_SEQ or name.startswith(_CONTROL_PREFIXES)


@dataclass(frozen=True, slots=True)
class BirthMetric:
    name: str
    datatype: int
    properties: dict[str, Value]


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    timestamp_ms: int | None
    value: Value


@dataclass(frozen=True, slots=True)
class Born:
    group: str
    node: str
    device: str | None
    metrics: tuple[BirthMetric, ...]


@dataclass(frozen=True, slots=True)
class Samples:
    group: str
    node: str
    device: str | None
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True)
class Offline:
    group: str
    node: str
    device: str | None


@dataclass(frozen=True, slots=True)
class RebirthNeeded:
    group: str
    node: str
    reason: str


Event = Born | Samples | Offline | RebirthNeeded


@dataclass(slots=True)
class _Node:
    born: bool = False
    bd_seq: int | None = None
    next_seq: int = 0
    aliases: dict[int, tuple[str | None, str]] = field(default_factory=dict)
    datatypes: dict[tuple[str | None, str], int] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)
    rebirth_sent_at: float | None = None


class HostSession:
    def __init__(self, rebirth_after_s: float = 10.0) -> None:
        self.rebirth_after_s = rebirth_after_s
        self._nodes: dict[tuple[str, str], _Node] = {}

    def datatype(self, group: str, node: str, device: str | None, name: str) -> int | None:
        """The data type a birth declared for a metric; None if it was never born."""
        state = self._nodes.get((group, node))
        return None if state is None else state.datatypes.get((device, name))

    def is_born(self, group: str, node: str, device: str | None = None) -> bool:
        state = self._nodes.get((group, node))
        if state is None or not state.born:
            return False
        return device is None or device in state.devices

    def receive(self, topic: Topic, payload: Payload, now: float) -> list[Event]:
        key = (topic.group, topic.node)
        node = self._nodes.setdefault(key, _Node())
        kind = topic.kind
        if kind is MessageType.NBIRTH:
            return self._node_birth(topic, node, payload, now)
        if kind is MessageType.NDEATH:
            return self._node_death(topic, node, payload)
        if kind in (MessageType.NCMD, MessageType.DCMD):
            return []  # Commands, ours or another host's: nothing to learn from them.
        if not node.born:
            return self._rebirth(topic, node, now, "message before NBIRTH")
        events: list[Event] = []
        expected = node.next_seq
        node.next_seq = ((payload.seq if payload.seq is not None else expected) + 1) % 256
        if payload.seq != expected:
            events += self._rebirth(topic, node, now, f"sequence {payload.seq}, expected {expected}")
        if kind is MessageType.DBIRTH:
            assert topic.device is not None
            node.devices.add(topic.device)
            metrics = self._learn(node, topic.device, payload)
            events.append(Born(topic.group, topic.node, topic.device, metrics))
            events.append(self._samples(topic, node, payload, now, events))
        elif kind is MessageType.DDEATH:
            node.devices.discard(topic.device or "")
            events.append(Offline(topic.group, topic.node, topic.device))
        elif topic.device is not None and topic.device not in node.devices:
            events += self._rebirth(topic, node, now, f"data from device {topic.device!r} before its DBIRTH")
        else:
            events.append(self._samples(topic, node, payload, now, events))
        return [e for e in events if not (isinstance(e, Samples) and not e.samples)]

    def _node_birth(self, topic: Topic, node: _Node, payload: Payload, now: float) -> list[Event]:
        node.born = True
        node.rebirth_sent_at = None
        node.aliases.clear()
        node.datatypes.clear()
        node.devices.clear()
        node.bd_seq = next(
            (m.value for m in payload.metrics if m.name == BD_SEQ and isinstance(m.value, int)), None
        )
        node.next_seq = ((payload.seq or 0) + 1) % 256
        metrics = self._learn(node, None, payload)
        events: list[Event] = [Born(topic.group, topic.node, None, metrics)]
        events.append(self._samples(topic, node, payload, now, events))
        return [e for e in events if not (isinstance(e, Samples) and not e.samples)]

    def _node_death(self, topic: Topic, node: _Node, payload: Payload) -> list[Event]:
        bd_seq = next((m.value for m in payload.metrics if m.name == BD_SEQ), None)
        if not node.born or (node.bd_seq is not None and bd_seq is not None and bd_seq != node.bd_seq):
            return []
        node.born = False
        gone: list[Event] = [Offline(topic.group, topic.node, d) for d in sorted(node.devices)]
        node.devices.clear()
        return [*gone, Offline(topic.group, topic.node, None)]

    def _learn(self, node: _Node, device: str | None, payload: Payload) -> tuple[BirthMetric, ...]:
        learned: list[BirthMetric] = []
        for metric in payload.metrics:
            if metric.name is None:
                continue
            if metric.alias is not None:
                node.aliases[metric.alias] = (device, metric.name)
            node.datatypes[(device, metric.name)] = metric.datatype
            if not is_control(metric.name):
                learned.append(BirthMetric(metric.name, metric.datatype, dict(metric.properties)))
        return tuple(learned)

    def _samples(
        self, topic: Topic, node: _Node, payload: Payload, now: float, events: list[Event]
    ) -> Samples:
        device = topic.device
        found: list[Sample] = []
        unknown: int | None = None
        for metric in payload.metrics:
            name = self._name(node, device, metric)
            if name is None:
                unknown = metric.alias
                continue
            if is_control(name) or metric.is_transient or metric.is_null:
                continue
            datatype = metric.datatype or node.datatypes.get((device, name), DataType.UNKNOWN)
            value = retype(metric.value, datatype)
            if value is None or isinstance(value, bytes):
                continue
            found.append(Sample(name, metric.timestamp or payload.timestamp, value))
        if unknown is not None:
            events += self._rebirth(topic, node, now, f"unknown alias {unknown}")
        return Samples(topic.group, topic.node, device, tuple(found))

    @staticmethod
    def _name(node: _Node, device: str | None, metric: Metric) -> str | None:
        if metric.name is not None:
            return metric.name
        if metric.alias is None:
            return None
        owner, name = node.aliases.get(metric.alias, (None, None))
        return name if name is not None and owner == device else None

    def _rebirth(self, topic: Topic, node: _Node, now: float, reason: str) -> list[Event]:
        sent = node.rebirth_sent_at
        if sent is not None and now - sent < self.rebirth_after_s:
            return []
        node.rebirth_sent_at = now
        return [RebirthNeeded(topic.group, topic.node, reason)]
