"""Pipelined and concurrent MQTT traffic: acknowledgement order, flow control, stuck clients, shutdown."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mqtt5
import pytest
from tests.helpers import Tenant, make_settings
from tests.transport.mqtt.raw_client import RawClient

from indunet.platform import device_api, devices, telemetry, tenants
from indunet.platform.runtime import Platform, open_platform
from indunet.security import Principal
from indunet.transport.mqtt import MqttThread
from indunet.transport.mqtt.ratelimit import RateLimiter

TELEMETRY = "v1/devices/me/telemetry"
ATTRIBUTES = "v1/devices/me/attributes"
START_MS = 1_764_000_000_000
QOS1 = mqtt5.QoS.AT_LEAST_ONCE
Code = mqtt5.PubAckReasonCode


def _unlimited(thread: MqttThread) -> MqttThread:
    """These tests are about flow control, not the message-rate quota (tested in test_server)."""
    thread.server.limiter = RateLimiter(1e9, 1e9, 1e9, 1e9)
    return thread.start()


@pytest.fixture(scope="module")
def server(platform: Platform) -> Iterator[MqttThread]:
    thread = _unlimited(MqttThread(platform, "127.0.0.1", 0))
    yield thread
    thread.stop()


def _device(platform: Platform, tenant_id: str) -> dict[str, Any]:
    name = f"pipe-{secrets.token_hex(4)}"
    return devices.create_device(platform, Principal.system(tenant_id), name, "cnc_machine_tool")


def _connected(port: int, device: dict[str, Any], **options: Any) -> RawClient:
    raw = RawClient(port)
    assert raw.connect(device["token"], **options).reason_code == mqtt5.ConnAckReasonCode.SUCCESS
    return raw


def _publish(topic: str, payload: Any, packet_id: int | None = None) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if packet_id is None:
        return mqtt5.PublishPacket(topic, body).write()
    return mqtt5.PublishPacket(topic, body, qos=QOS1, packet_id=packet_id).write()


def _acks(raw: RawClient, count: int) -> list[tuple[int, Code]]:
    """The next ``count`` PUBACKs, in the order they arrived; anything else received fails the test."""
    out = []
    for _ in range(count):
        packet = raw.receive()
        assert isinstance(packet, mqtt5.PubAckPacket), packet
        out.append((packet.packet_id, packet.reason_code))
    return out


def _stored(platform: Platform, tenant_id: str, device_id: str) -> list[Any]:
    query = telemetry.SeriesQuery(points=("spindle_speed",), start_us=0, limit=100_000)
    found = telemetry.raw(platform, Principal.system(tenant_id), device_id, query)
    return [value for _ts, value in found["series"]["spindle_speed"]]


# -- ordering and concurrency ------------------------------------------------------------------------


def test_pipelined_mixed_traffic_is_acknowledged_in_publish_order(
    platform: Platform, tenant_a: Tenant, server: MqttThread
) -> None:
    device = _device(platform, tenant_a.id)
    raw = _connected(server.port, device)
    # MQTT 5 §4.6: PUBACKs go out in the order the PUBLISHes came, whichever path each one takes
    # (telemetry joins a group commit, attributes run one at a time) and whether it failed or not.
    cycle = ("tel", "tel", "attr", "bad-tel", "tel", "ping", "tel-qos0", "bad-attr", "tel", "attr")
    data: list[bytes] = []
    expected: list[tuple[int, Code]] = []
    values: list[float] = []
    for n in range(60):
        kind, packet_id = cycle[n % len(cycle)], len(expected) + 1
        if kind == "ping":
            data.append(mqtt5.PingReqPacket().write())
        elif kind == "tel-qos0":  # no PUBACK, but stored in its place
            data.append(_publish(TELEMETRY, {"spindle_speed": float(n)}))
            values.append(float(n))
        elif kind == "tel":
            data.append(_publish(TELEMETRY, {"spindle_speed": float(n)}, packet_id))
            expected.append((packet_id, Code.SUCCESS))
            values.append(float(n))
        elif kind == "attr":
            data.append(_publish(ATTRIBUTES, {"firmware": f"v{n}"}, packet_id))
            expected.append((packet_id, Code.SUCCESS))
        else:
            data.append(_publish(TELEMETRY if kind == "bad-tel" else ATTRIBUTES, b"[1", packet_id))
            expected.append((packet_id, Code.PAYLOAD_FORMAT_INVALID))
    pings = data.count(mqtt5.PingReqPacket().write())
    raw.send(b"".join(data))
    acks: list[tuple[int, Code]] = []
    pongs = 0
    while len(acks) < len(expected) or pongs < pings:
        packet = raw.receive()
        if isinstance(packet, mqtt5.PingRespPacket):
            pongs += 1
            continue
        assert isinstance(packet, mqtt5.PubAckPacket), packet
        acks.append((packet.packet_id, packet.reason_code))
    raw.close()
    assert acks == expected
    assert pongs == pings
    # Untimed messages are stamped on arrival, one after another: stored in the order sent.
    assert _stored(platform, tenant_a.id, device["id"]) == values
    found = device_api.get_attributes(
        platform, Principal.system(tenant_a.id), device["id"], scopes=("client",)
    )
    assert found["client"]["firmware"] == "v59"  # the last attribute message wins


def test_devices_publishing_at_once_all_get_their_acks_and_all_points_are_stored(
    platform: Platform, tenant_a: Tenant, tenant_b: Tenant, server: MqttThread
) -> None:
    owners = [tenant_a.id, tenant_a.id, tenant_b.id, tenant_b.id]
    fleet = [(tenant_id, _device(platform, tenant_id)) for tenant_id in owners]
    per_device, window = 300, 50
    acks: dict[int, list[tuple[int, Code]]] = {}
    failures: list[BaseException] = []

    def run(index: int, device: dict[str, Any]) -> None:
        try:
            raw = _connected(server.port, device)
            got = []
            for first in range(1, per_device + 1, window):
                ids = range(first, first + window)
                raw.send(b"".join(_publish(TELEMETRY, {"spindle_speed": float(i)}, i) for i in ids))
                got += _acks(raw, window)
            raw.close()
            acks[index] = got
        except BaseException as exc:  # reported by the test thread below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i, d)) for i, (_t, d) in enumerate(fleet)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    everything = [(i, Code.SUCCESS) for i in range(1, per_device + 1)]
    assert [acks.get(i) for i in range(len(fleet))] == [everything] * len(fleet)
    for tenant_id, device in fleet:
        assert _stored(platform, tenant_id, device["id"]) == [float(i) for i in range(1, per_device + 1)]


# -- flow control ------------------------------------------------------------------------------------


def test_reading_acks_frees_the_receive_window_for_many_more_messages(
    platform: Platform, tenant_a: Tenant, server: MqttThread
) -> None:
    # test_server checks that one message beyond the window is refused; here the window is kept full,
    # one new message per PUBACK read, for five times as many messages in all, and none is refused.
    device = _device(platform, tenant_a.id)
    raw = _connected(server.port, device)
    window = platform.settings.mqtt_receive_maximum
    total = 5 * window
    raw.send(b"".join(_publish(TELEMETRY, {"spindle_speed": float(i)}, i) for i in range(1, window + 1)))
    acks = []
    for next_id in range(window + 1, total + window + 1):
        acks += _acks(raw, 1)
        if next_id <= total:
            raw.send(_publish(TELEMETRY, {"spindle_speed": float(next_id)}, next_id))
    raw.close()
    assert acks == [(i, Code.SUCCESS) for i in range(1, total + 1)]
    assert _stored(platform, tenant_a.id, device["id"]) == [float(i) for i in range(1, total + 1)]


def test_a_client_flooding_without_reading_does_not_hold_up_other_devices(
    platform: Platform, tenant_a: Tenant, server: MqttThread
) -> None:
    flooder, steady = _device(platform, tenant_a.id), _device(platform, tenant_a.id)
    flooding, stop = threading.Event(), threading.Event()

    def flood() -> None:
        raw = _connected(server.port, flooder)
        raw.sock.settimeout(5)  # the server may stop reading from this client: that is allowed
        chunk = b"".join(_publish(TELEMETRY, {"spindle_speed": 1.0 + n}) for n in range(200))
        try:
            for sent in range(1, 1_000_000):
                if stop.is_set():
                    break
                raw.send(chunk)  # QoS 0, and this client never reads its socket
                if sent == 50:  # 10,000 messages in: the other device starts now
                    flooding.set()
        except OSError:
            pass
        finally:
            flooding.set()
            raw.close()

    thread = threading.Thread(target=flood)
    thread.start()
    try:
        assert flooding.wait(30)
        raw = _connected(server.port, steady)
        # RawClient's 10 s socket timeout is the (generous) bound on each answer.
        for i in range(1, 51):
            raw.send(_publish(TELEMETRY, {"spindle_speed": float(i)}, i))
            assert _acks(raw, 1) == [(i, Code.SUCCESS)]
        raw.close()
    finally:
        stop.set()
        thread.join(60)
    assert _stored(platform, tenant_a.id, steady["id"]) == [float(i) for i in range(1, 51)]


# -- stopping ----------------------------------------------------------------------------------------


def _stopping(thread: MqttThread) -> threading.Thread:
    """``thread.stop()`` in a thread of its own, so that a hang fails the test instead of hanging it."""
    stopper = threading.Thread(target=thread.stop, daemon=True)
    stopper.start()
    return stopper


def test_stopping_with_clients_connected_returns_and_stores_their_wills(
    platform: Platform, tenant_a: Tenant
) -> None:
    thread = _unlimited(MqttThread(platform, "127.0.0.1", 0))
    on_attributes, on_telemetry, busy = (_device(platform, tenant_a.id) for _ in range(3))
    clients = [
        _connected(thread.port, on_attributes, will=mqtt5.Will(ATTRIBUTES, payload=b'{"online": false}')),
        _connected(
            thread.port,
            on_telemetry,
            will=mqtt5.Will(
                TELEMETRY, payload=json.dumps({"ts": START_MS, "values": {"spindle_speed": 7.5}}).encode()
            ),
        ),
        _connected(thread.port, busy),
    ]
    # The third is mid-stream when the server stops: messages sent, acknowledgements not yet read.
    clients[2].send(b"".join(_publish(TELEMETRY, {"spindle_speed": float(i)}, i) for i in range(1, 51)))
    stopper = _stopping(thread)
    stopper.join(60)
    assert not stopper.is_alive(), "MqttThread.stop() did not return"
    for raw in clients:
        seen = []
        while (packet := raw.receive()) is not None:
            seen.append(packet)
        raw.close()
        last = seen[-1] if seen else None
        assert isinstance(last, mqtt5.DisconnectPacket), last
        assert last.reason_code == mqtt5.DisconnectReasonCode.SERVER_SHUTTING_DOWN
    system = Principal.system(tenant_a.id)
    assert device_api.get_attributes(platform, system, on_attributes["id"])["client"]["online"] is False
    assert _stored(platform, tenant_a.id, on_telemetry["id"]) == [7.5]


# -- clients that never read (run once: the backend plays no part) ----------------------------------


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, dict[str, Any]]]:
    """An SQLite platform of this module's own, with one device."""
    platform = open_platform(make_settings("sqlite", Path(tmp_path_factory.mktemp("pipeline"))))
    created = tenants.create_tenant(platform, f"pipe-{secrets.token_hex(3)}")
    try:
        yield platform, _device(platform, created["id"])
    finally:
        platform.close()


def _flood_unread_acks(raw: RawClient, limit: int) -> None:
    """Send up to ``limit`` QoS 1 messages that the server refuses at once, each with a PUBACK carrying a
    reason string, within the receive maximum and never reading a reply; stop early if the server
    stops reading."""
    chunk = b"".join(_publish(TELEMETRY, b"{", i) for i in range(1, 51))
    raw.sock.settimeout(5)
    try:
        for _ in range(limit // 50):
            raw.send(chunk)
    except TimeoutError:
        pass


def _held_for_clients(thread: MqttThread) -> int:
    """Bytes the server holds to write to its clients, once it has handled what they sent: measured
    inside, as no client can see it."""
    held, deadline = -1, time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = sum(c.transport.get_write_buffer_size() for c in thread.server._connections if c.transport)
        if now == held:
            break
        held = now
    return held


def test_the_server_does_not_buffer_acks_without_bound_for_a_client_that_does_not_read(
    plain: tuple[Platform, dict[str, Any]],
) -> None:
    platform, device = plain
    thread = _unlimited(MqttThread(platform, "127.0.0.1", 0))
    try:
        raw = _connected(thread.port, device)
        _flood_unread_acks(raw, 200_000)  # ~6 MB sent, ~20 MB of PUBACKs
        held = _held_for_clients(thread)
        raw.close()
        assert held < 1_000_000, f"{held} bytes of acknowledgements held for a client that does not read"
        other = _connected(thread.port, device)
        other.send(_publish(TELEMETRY, {"spindle_speed": 1.0}, 1))
        assert _acks(other, 1) == [(1, Code.SUCCESS)]
        other.close()
    finally:
        thread.stop()


def test_stopping_does_not_wait_for_a_client_that_never_reads(plain: tuple[Platform, dict[str, Any]]) -> None:
    platform, device = plain
    thread = _unlimited(MqttThread(platform, "127.0.0.1", 0))
    raw = _connected(thread.port, device)
    _flood_unread_acks(raw, 100_000)  # leaves acknowledgements waiting in the server, never to be read
    stopper = _stopping(thread)
    stopper.join(10)
    hung = stopper.is_alive()
    raw.close()  # lets a hung stop() finish, so that the test leaves no thread behind
    stopper.join(60)
    assert not hung, "MqttThread.stop() hung on a client that does not read"
