"""MQTT 3.1.1 clients on the MQTT 5 connection logic: their packets in as ``mqtt5`` objects, answers out.

The connection handles one packet model (``mqtt5``'s); a 3.1.1 packet maps onto it without loss (3.1.1
is MQTT 5 without properties or reason codes). Going out, 3.1.1 has no reason codes: CONNACK refusals
become return codes 4 (bad user name or password) or 5 (not authorised), SUBACK failures 0x80, and every
other refusal (a quota, a topic the device may not publish to, a bad payload) can only close the network
connection, which the standard prescribes when a server will not process a PUBLISH ([MQTT-4.8.0-1]).
"""

from __future__ import annotations

import mqtt5

from indunet.transport.mqtt import codec311
from indunet.transport.mqtt.sessions import NEVER_EXPIRES

# mqtt5's reason codes are not hashable, so the table is keyed by their values.
_CONNACK_CODES = {
    mqtt5.ConnAckReasonCode.SUCCESS.value: codec311.ReturnCode.ACCEPTED,
    mqtt5.ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD.value: codec311.ReturnCode.BAD_USER_NAME_OR_PASSWORD,
    mqtt5.ConnAckReasonCode.SERVER_UNAVAILABLE.value: codec311.ReturnCode.SERVER_UNAVAILABLE,
    mqtt5.ConnAckReasonCode.CLIENT_ID_NOT_VALID.value: codec311.ReturnCode.IDENTIFIER_REJECTED,
    mqtt5.ConnAckReasonCode.UNSUPPORTED_PROTOCOL_VERSION.value: codec311.ReturnCode.UNACCEPTABLE_PROTOCOL_VERSION,
}


def to_v5(packet: codec311.Packet) -> mqtt5.Packet:
    """The ``mqtt5`` packet with the same meaning; Malformed for packets only a server sends."""
    if isinstance(packet, codec311.Publish):
        return mqtt5.PublishPacket(
            packet.topic,
            packet.payload,
            qos=mqtt5.QoS(packet.qos),
            packet_id=packet.packet_id,
            retain=packet.retain,
            duplicate=packet.dup,
        )
    if isinstance(packet, codec311.Connect):
        will = packet.will
        return mqtt5.ConnectPacket(
            packet.client_id,
            username=packet.username,
            password=packet.password,
            clean_start=packet.clean_session,
            keep_alive=packet.keep_alive,
            # A 3.1.1 session without clean session lasts until the client asks for a clean one.
            session_expiry_interval=0 if packet.clean_session else NEVER_EXPIRES,
            will=None
            if will is None
            else mqtt5.Will(will.topic, payload=will.payload, qos=mqtt5.QoS(will.qos), retain=will.retain),
        )
    if isinstance(packet, codec311.PubAck):
        return mqtt5.PubAckPacket(packet.packet_id)
    if isinstance(packet, codec311.Subscribe):
        filters = [mqtt5.TopicFilter(pattern, max_qos=mqtt5.QoS(qos)) for pattern, qos in packet.filters]
        return mqtt5.SubscribePacket(packet.packet_id, filters)
    if isinstance(packet, codec311.Unsubscribe):
        return mqtt5.UnsubscribePacket(packet.packet_id, list(packet.filters))
    if isinstance(packet, codec311.PingReq):
        return mqtt5.PingReqPacket()
    if isinstance(packet, codec311.Disconnect):
        return mqtt5.DisconnectPacket()
    raise codec311.Malformed(f"{type(packet).__name__} is sent by servers, not clients")


def connack(reason: mqtt5.ConnAckReasonCode, session_present: bool = False) -> bytes:
    code = _CONNACK_CODES.get(reason.value, codec311.ReturnCode.NOT_AUTHORIZED)
    return codec311.ConnAck(code, session_present and code == codec311.ReturnCode.ACCEPTED).write()


def suback(packet_id: int, codes: list[mqtt5.SubAckReasonCode]) -> bytes:
    granted = tuple(code.value if code.value < 0x80 else codec311.SUBACK_FAILURE for code in codes)
    return codec311.SubAck(packet_id, granted).write()
