"""Malformed bytes at the live server: each connection gets an answer or is closed, and the server stays up."""

from __future__ import annotations

import random
import socket

import mqtt5
from tests.helpers import Tenant
from tests.transport.mqtt.raw_client import RawClient

from indunet.transport.mqtt import MqttThread


def _garbage(rng: random.Random) -> bytes:
    kind = rng.randrange(3)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 80))
    header = bytes([rng.choice([0x30, 0x32, 0x82, 0xA2, 0xC0, 0xE0, 0xF0, 0x62]), rng.randrange(0, 128)])
    return header + rng.randbytes(rng.randrange(0, 60))


def test_malformed_bytes_are_answered_or_closed_and_the_server_stays_up(
    mqtt: MqttThread, tenant_a: Tenant
) -> None:
    rng = random.Random(20261125)
    for round_ in range(60):
        client = RawClient(mqtt.port)
        client.sock.settimeout(15)
        if round_ % 2:
            client.connect(tenant_a.device["token"])
        try:
            client.send(_garbage(rng))
            client.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        # The server must end the exchange: read until it closes (a hang would raise a timeout here).
        while client.receive() is not None:
            pass
        client.close()
    healthy = RawClient(mqtt.port)
    assert healthy.connect(tenant_a.device["token"]).reason_code == mqtt5.ConnAckReasonCode.SUCCESS
    healthy.close()
