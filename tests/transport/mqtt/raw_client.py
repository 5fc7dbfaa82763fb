"""A blocking MQTT 5 test client on the codec, so tests see exactly the packets the server sends."""

from __future__ import annotations

import socket

import mqtt5


class RawClient:
    """A blocking MQTT 5 client built on the codec, so tests see exactly the packets the server sends."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send(self, packet: mqtt5.Packet | bytes) -> None:
        self.sock.sendall(packet if isinstance(packet, bytes) else packet.write())

    def receive(self) -> mqtt5.Packet | None:
        """The next packet, or None once the server has closed the connection."""
        while True:
            if self.buffer:
                try:
                    packet, used = mqtt5.read(memoryview(self.buffer))
                except IndexError:
                    pass
                else:
                    self.buffer = self.buffer[used:]
                    return packet
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not data:
                return None
            self.buffer += data

    def connect(self, token: str | None, **options: object) -> mqtt5.ConnAckPacket:
        self.send(mqtt5.ConnectPacket("test-client", username=token, **options))  # type: ignore[arg-type]
        ack = self.receive()
        assert isinstance(ack, mqtt5.ConnAckPacket)
        return ack

    def closed(self) -> bool:
        """True when the server closes the connection (after any packets still in flight)."""
        while True:
            packet = self.receive()
            if packet is None:
                return True
            if not isinstance(packet, mqtt5.DisconnectPacket | mqtt5.PubAckPacket | mqtt5.PublishPacket):
                return False

    def close(self) -> None:
        self.sock.close()
