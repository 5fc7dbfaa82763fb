"""One device connection: CONNECT and authentication, then the ThingsBoard device API until it ends.

Theory of operation: the connection is an asyncio ``Protocol``. Inbound bytes go to the sans-I/O
``Framer``; ``_pump`` takes packets from it in order. Telemetry (the hot path: thousands of devices,
each publishing a message and waiting for its PUBACK) is handled without a task switch: consecutive
telemetry messages become one job for the server's ``GroupCommit`` (one commit shared with every
other connection's jobs of that round), and their PUBACKs go out together, in order, from the
round's completion callback, only once the points are durable. Every other packet (CONNECT, attribute
and RPC traffic, the gateway API, provisioning) runs as a coroutine, one at a time; ``_pump`` takes
no further packet until the one in hand is done, so replies keep the order of requests. The
platform's blocking services run in worker threads. Errors in a QoS 1 message are answered with its
PUBACK reason code; QoS 0 has no acknowledgement, so an error there ends the connection with a
DISCONNECT that carries the reason. MQTT 3.1.1 clients share this logic (see ``v311``): without
reason codes, any refusal of a PUBLISH closes their connection, as that standard prescribes.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import mqtt5
from mqtt5 import DisconnectReasonCode as Disconnect
from mqtt5 import PubAckReasonCode as PubAck
from mqtt5 import SubAckReasonCode as SubAck

from indunet.core.errors import (
    AuthenticationFailed,
    IndunetError,
    InvalidInput,
    PermissionDenied,
    StorageError,
)
from indunet.core.timeutil import now_us
from indunet.platform import device_api, rpc, telemetry
from indunet.platform.accounts import principal_from_secret
from indunet.platform.telemetry import IngestResult
from indunet.security import Principal
from indunet.transport.mqtt import codec311, gateway, provision, tbapi, topics, v311
from indunet.transport.mqtt.codec import (
    NEED_DATA,
    ConnectRefused311,
    Framer,
    MalformedPacket,
    NeedData,
    ProtocolViolation,
    UnsupportedProtocol,
)
from indunet.transport.mqtt.sessions import Session

if TYPE_CHECKING:
    from indunet.transport.mqtt.server import MqttServer

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
CLOSE_GRACE_S = 5.0
"""How long a closing connection may take to flush what it was sent before it is cut off."""
MAX_KEEP_ALIVE_S = 600
# CONNACK for MQTT 3.1/3.1.1 clients: "unacceptable protocol version" in their own format.
_CONNACK_311_BAD_VERSION = b"\x20\x02\x00\x01"
_PUBACK_SHORT = b"\x40\x02"


class Refused(Exception):
    """End the connection with this DISCONNECT reason (a QoS 0 message that could not be handled)."""

    def __init__(self, reason: Disconnect, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class _Telemetry:
    """Telemetry messages waiting for one shared ingest: their records and whom to acknowledge."""

    records: list[dict[str, Any]] = field(default_factory=list)
    messages: list[tuple[mqtt5.PublishPacket, int, int]] = field(default_factory=list)

    def add(self, packet: mqtt5.PublishPacket, records: list[dict[str, Any]]) -> None:
        start = len(self.records)
        self.records.extend(records)
        self.messages.append((packet, start, len(self.records)))


class MqttConnection(asyncio.Protocol):
    def __init__(self, server: MqttServer) -> None:
        self.server = server
        self.settings = server.platform.settings
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.framer = Framer(self.settings.mqtt_max_packet_bytes)
        self.principal: Principal | None = None
        self.device_id = ""
        self.client_id = ""
        self.session = Session()
        self.session_expiry = 0
        self.will: mqtt5.Will | None = None
        self.client_max_packet: int | None = None
        self.keep_alive = 0
        self.closing = False
        self.connected = False
        self.busy = False
        """A coroutine or a group-commit job is in hand: the next packet waits for it."""
        self.write_paused = False
        self.unacked = 0
        """QoS 1 PUBLISH packets received and not yet acknowledged (receive maximum)."""
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self.last_received = self.loop.time()
        self.last_arrival = 0
        self.provisioning = False
        self.gateway: gateway.Gateway | None = None
        self._connect_timer: asyncio.TimerHandle | None = None
        self._held: mqtt5.Packet | None = None

    @property
    def v311(self) -> bool:
        return self.framer.level == codec311.PROTOCOL_LEVEL

    # -- lifecycle -------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport (TCP or TLS)
        self.server.connection_opened(self)
        self._connect_timer = self.loop.call_later(CONNECT_TIMEOUT_S, self._connect_timeout)

    def _connect_timeout(self) -> None:
        if not self.connected:
            self._close()

    def data_received(self, data: bytes) -> None:
        self.last_received = self.loop.time()
        self.framer.receive_data(data)
        if self.busy and self.framer.buffered > self.settings.mqtt_max_packet_bytes and self.transport:
            # Still working on earlier packets: stop reading rather than buffer without bound.
            self.transport.pause_reading()
        self._pump()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._connect_timer is not None:
            self._connect_timer.cancel()
        self.closing = True
        self.transport = None
        self.loop.create_task(self._finish())

    def pause_writing(self) -> None:
        # The client does not read its acknowledgements: read no more of its messages until it does.
        self.write_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.transport is not None and not self.busy:
            self.transport.resume_reading()

    async def _finish(self) -> None:
        try:
            if self.principal is not None:
                self.server.connection_ended(self)
                if self.will is not None:
                    await self._publish_will(self.will)
                if self.gateway is not None:
                    await asyncio.to_thread(self.gateway.close)
                self.server.sessions.keep(self.device_id, self.client_id, self.session, self.session_expiry)
        finally:
            self.finished.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        """End the connection the way ``exc`` calls for; a bug costs this one connection, never the server."""
        if isinstance(exc, Refused):
            self._disconnect(exc.reason, str(exc))
        elif isinstance(exc, ProtocolViolation):
            if self.connected:
                self._disconnect(exc.reason, str(exc))
            else:
                self._close()
        elif isinstance(exc, ConnectionError | ssl.SSLError):
            self._close()
        else:
            log.error("mqtt %s: connection failed", self.client_id or "?", exc_info=exc)
            self._disconnect(Disconnect.UNSPECIFIED_ERROR, "internal error")

    def take_over(self) -> None:
        """Another connection with this client id arrived; it wins (MQTT 5 session takeover)."""
        self.will = None
        self._disconnect(Disconnect.SESSION_TAKEN_OVER, "session taken over")

    def shut_down(self) -> None:
        self._disconnect(Disconnect.SERVER_SHUTTING_DOWN, "server shutting down")

    def _disconnect(self, reason: Disconnect, message: str) -> None:
        if self.closing:
            return
        self.closing = True
        if reason != Disconnect.NORMAL_DISCONNECTION:
            log.info("mqtt %s: disconnecting (%s): %s", self.client_id or "?", reason.name, message)
        if self.connected and not self.v311:  # 3.1.1 has no DISCONNECT to send: closing is its answer
            self._write(mqtt5.DisconnectPacket(reason_code=reason, reason_str=message[:200]).write())
        self._close()

    def _close(self) -> None:
        """Close after the pending writes; a client that never reads them is cut off after a grace."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()
            self.loop.call_later(CLOSE_GRACE_S, self._abort)

    def _abort(self) -> None:
        if self.transport is not None:  # connection_lost not called yet: the buffer never drained
            self.transport.abort()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    # -- CONNECT ---------------------------------------------------------------------------------------
    def _connect_packet(self) -> mqtt5.ConnectPacket | NeedData | None:
        """The CONNECT, NEED_DATA, or None when the first packet was refused (answered, then closed)."""
        try:
            packet = self.framer.next_packet()
        except UnsupportedProtocol:
            self._write(_CONNACK_311_BAD_VERSION)
            return None
        except ConnectRefused311 as exc:
            self._write(codec311.ConnAck(exc.return_code).write())
            return None
        except MalformedPacket:
            if not self.v311:  # [MQTT-3.1.4-1]: a malformed 3.1.1 CONNECT is closed without CONNACK
                self._write(mqtt5.ConnAckPacket(reason_code=mqtt5.ConnAckReasonCode.MALFORMED_PACKET).write())
            return None
        except ProtocolViolation as exc:
            self._write(mqtt5.ConnAckPacket(reason_code=mqtt5.ConnAckReasonCode(exc.reason.value)).write())
            return None
        if packet is NEED_DATA:
            return packet
        assert isinstance(packet, mqtt5.ConnectPacket)  # the framer admits nothing else first
        return packet

    def _refuse_connect(self, reason: mqtt5.ConnAckReasonCode, message: str) -> bool:
        if self.v311:
            self._write(v311.connack(reason))
        else:
            self._write(mqtt5.ConnAckPacket(reason_code=reason, reason_str=message).write())
        return False

    async def _handshake(self, connect: mqtt5.ConnectPacket) -> bool:
        codes = mqtt5.ConnAckReasonCode
        if connect.username == provision.USERNAME:
            return await self._accept_provisioning(connect)
        if not connect.username:
            return self._refuse_connect(
                codes.BAD_USER_NAME_OR_PASSWORD, "the device access token is the user name"
            )
        try:
            principal = await asyncio.to_thread(principal_from_secret, self.server.platform, connect.username)
        except AuthenticationFailed:
            return self._refuse_connect(codes.BAD_USER_NAME_OR_PASSWORD, "unknown device access token")
        except StorageError:
            return self._refuse_connect(codes.SERVER_UNAVAILABLE, "storage unavailable")
        if principal.device_id is None:
            return self._refuse_connect(codes.NOT_AUTHORIZED, "only device access tokens connect here")
        self.principal = principal
        self.device_id = principal.device_id
        assigned = None if connect.client_id else f"indunet-{uuid.uuid4().hex}"
        self.client_id = connect.client_id or (assigned or "")
        self.will = connect.will
        self.session_expiry = connect.session_expiry_interval
        self.client_max_packet = connect.max_packet_size
        keep_alive = _keep_alive(connect)
        self.keep_alive = keep_alive
        resumed = self.server.sessions.resume(self.device_id, self.client_id, connect.clean_start)
        if resumed is not None:
            self.session = resumed
        self.server.connection_started(self)
        if self.v311:
            self._write(v311.connack(codes.SUCCESS, resumed is not None))
        else:
            self._write(self._connack_v5(connect, resumed is not None, assigned, keep_alive))
        self.connected = True
        return True

    async def _accept_provisioning(self, connect: mqtt5.ConnectPacket) -> bool:
        """A provisioning client: it may only ask for a device (see ``provision``), nothing else."""
        self.provisioning = True
        assigned = None if connect.client_id else f"indunet-{uuid.uuid4().hex}"
        self.client_id = connect.client_id or (assigned or "")
        self.keep_alive = _keep_alive(connect)
        if self.v311:
            self._write(v311.connack(mqtt5.ConnAckReasonCode.SUCCESS))
        else:
            self._write(self._connack_v5(connect, False, assigned, self.keep_alive))
        self.connected = True
        return True

    def _connack_v5(
        self, connect: mqtt5.ConnectPacket, resumed: bool, assigned: str | None, keep_alive: int
    ) -> bytes:
        return mqtt5.ConnAckPacket(
            session_present=resumed,
            assigned_client_id=assigned,
            server_keep_alive=keep_alive if keep_alive != connect.keep_alive else None,
            receive_max=self.settings.mqtt_receive_maximum,
            max_qos=mqtt5.QoS.AT_LEAST_ONCE,
            retain_available=False,
            max_packet_size=self.settings.mqtt_max_packet_bytes,
            topic_alias_max=0,
            wildcard_subscription_available=True,
            subscription_id_available=False,
            shared_subscription_available=False,
        ).write()

    # -- packets ---------------------------------------------------------------------------------------
    def check_keep_alive(self, now: float) -> None:
        """Called by the server's sweep: [MQTT-3.1.2-22], nothing for 1.5 x keep alive ends the connection."""
        if self.keep_alive and now - self.last_received > self.keep_alive * 1.5:
            self._disconnect(Disconnect.KEEP_ALIVE_TIMEOUT, "nothing received within 1.5 x keep alive")

    def _pump(self) -> None:
        """Handle the packets received so far, in order, until one has to wait (see the module docstring)."""
        try:
            while not self.busy and not self.closing:
                if not self.connected:
                    connect = self._connect_packet()
                    if connect is NEED_DATA:
                        return
                    if connect is None:
                        self._disconnect(Disconnect.NORMAL_DISCONNECTION, "")
                        return
                    self._start(self._connect(connect))
                    continue
                packet = self._next()
                if packet is NEED_DATA:
                    if self.transport is not None and not self.write_paused:
                        self.transport.resume_reading()
                    return
                if (
                    isinstance(packet, mqtt5.PublishPacket)
                    and packet.topic == topics.TELEMETRY
                    and not self.provisioning
                ):
                    self._telemetry(packet)
                elif self.provisioning:
                    self._start(self._provisioning_packet(packet))
                else:
                    self._start(self._handle_one(packet))
        except Exception as exc:
            self._fail(exc)

    def _next(self) -> mqtt5.Packet | NeedData:
        """The next packet to handle: one put back by ``_telemetry``, else the next from the framer."""
        held = self._held
        if held is not None:
            self._held = None
            return held
        packet = self.framer.next_packet()
        if isinstance(packet, mqtt5.PublishPacket) and packet.qos:
            self.unacked += 1
            if self.unacked > self.settings.mqtt_receive_maximum:
                raise Refused(
                    Disconnect.RECEIVE_MAX_EXCEEDED, "more unacknowledged QoS 1 messages than allowed"
                )
        return packet

    def _start(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` (the handling of one packet); the next packet waits until it is done."""
        self.busy = True
        task = self.loop.create_task(work)
        self.server.track(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.busy = False
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._fail(exc)
            return
        self._pump()

    async def _connect(self, connect: mqtt5.ConnectPacket) -> None:
        if not await self._handshake(connect):
            self._disconnect(Disconnect.NORMAL_DISCONNECTION, "")

    async def _handle_one(self, packet: mqtt5.Packet) -> None:
        if isinstance(packet, mqtt5.PublishPacket):
            await self._publish(packet)
        elif isinstance(packet, mqtt5.SubscribePacket):
            self._subscribe(packet)
        elif isinstance(packet, mqtt5.UnsubscribePacket):
            self._unsubscribe(packet)
        elif isinstance(packet, mqtt5.PingReqPacket):
            self._write(mqtt5.PingRespPacket().write())
        elif isinstance(packet, mqtt5.DisconnectPacket):
            if packet.reason_code != Disconnect.DISCONNECT_WITH_WILL_MESSAGE:
                self.will = None
            if packet.session_expiry_interval is not None:
                self.session_expiry = packet.session_expiry_interval
            self.closing = True
            self._close()
        elif isinstance(packet, mqtt5.PubAckPacket):
            pass  # the server sends QoS 0 only; a stray PUBACK acknowledges nothing and harms nothing
        else:
            raise Refused(Disconnect.PROTOCOL_ERROR, f"{type(packet).__name__} is not expected from a client")

    async def _provisioning_packet(self, packet: mqtt5.Packet) -> None:
        if not isinstance(packet, mqtt5.PublishPacket):
            await self._handle_one(packet)
            return
        if packet.qos == mqtt5.QoS.EXACTLY_ONCE:
            raise Refused(Disconnect.QOS_NOT_SUPPORTED, "QoS 2 is not supported")
        if packet.topic != provision.REQUEST:
            self._ack(packet, PubAck.NOT_AUTHORIZED, "a provisioning client may only publish a request")
            return
        # All provisioning clients share one bucket: requests are rare, and a flood of them is an attack.
        if not self.server.limiter.allow(provision.USERNAME, provision.USERNAME):
            self._ack(packet, PubAck.QUOTA_EXCEEDED, "too many provisioning requests")
            return
        answer = await asyncio.to_thread(provision.provision, self.server.platform, packet.payload)
        self._ack(packet)
        self.deliver(provision.RESPONSE, answer)

    # -- PUBLISH ---------------------------------------------------------------------------------------
    def _check_publish(self, packet: mqtt5.PublishPacket) -> PubAck | None:
        """Reason to refuse the message before it is handled, or None to go ahead."""
        if packet.qos == mqtt5.QoS.EXACTLY_ONCE:
            raise Refused(Disconnect.QOS_NOT_SUPPORTED, "QoS 2 is not supported")
        if packet.retain:
            raise Refused(Disconnect.RETAIN_NOT_SUPPORTED, "retained messages are not supported")
        if packet.topic_alias is not None:
            raise Refused(Disconnect.TOPIC_ALIAS_INVALID, "topic aliases are not supported")
        assert self.principal is not None
        if not self.server.limiter.allow(self.principal.tenant_id, self.device_id):
            return PubAck.QUOTA_EXCEEDED
        return None

    def _ack(self, packet: mqtt5.PublishPacket, reason: PubAck = PubAck.SUCCESS, message: str = "") -> None:
        if packet.qos:
            self.unacked -= 1
        if self.v311:
            if reason.value >= 0x80:
                raise Refused(Disconnect(reason.value), message or reason.name)
            if packet.qos == mqtt5.QoS.AT_LEAST_ONCE:
                assert packet.packet_id is not None
                self._write(codec311.PubAck(packet.packet_id).write())
            return
        if packet.qos == mqtt5.QoS.AT_LEAST_ONCE:
            assert packet.packet_id is not None
            if reason == PubAck.SUCCESS and not message:
                # [MQTT-3.4.2.1]: success without properties is the 4-byte short form.
                self._write(_PUBACK_SHORT + packet.packet_id.to_bytes(2, "big"))
                return
            self._write(
                mqtt5.PubAckPacket(
                    packet.packet_id, reason_code=reason, reason_str=message[:200] or None
                ).write()
            )
        elif reason.value >= 0x80:
            raise Refused(Disconnect(reason.value), message or reason.name)

    def _telemetry_records(self, packet: mqtt5.PublishPacket) -> list[dict[str, Any]] | None:
        refused = self._check_publish(packet)
        if refused is not None:
            self._ack(packet, refused, "message rate above the device's or tenant's quota")
            return None
        try:
            records = tbapi.telemetry_records(packet.payload)
        except tbapi.BadPayload as exc:
            self._ack(packet, PubAck.PAYLOAD_FORMAT_INVALID, str(exc))
            return None
        for record in records:
            if "ts" not in record:
                # Messages batched into one ingest would share its arrival time and overwrite each
                # other; each untimed message gets its own receipt time instead.
                self.last_arrival = max(now_us(), self.last_arrival + 1)
                record["ts"] = self.last_arrival
        return records

    def _telemetry(self, first: mqtt5.PublishPacket) -> None:
        """``first`` and the telemetry messages right behind it become one group-commit job."""
        assert self.principal is not None
        batch = _Telemetry()
        packet: mqtt5.Packet | NeedData = first
        while True:
            assert isinstance(packet, mqtt5.PublishPacket)
            records = self._telemetry_records(packet)
            if records is not None:
                batch.add(packet, records)
            packet = self._next()
            if packet is NEED_DATA:
                break
            if not (isinstance(packet, mqtt5.PublishPacket) and packet.topic == topics.TELEMETRY):
                self._held = packet
                break
        if batch.messages:
            self.busy = True
            self.server.group_commit.submit(self.principal, batch.records, partial(self._committed, batch))

    def _committed(self, batch: _Telemetry, outcome: IngestResult | BaseException) -> None:
        """Group commit is done with ``batch``: acknowledge its messages in order, then go on."""
        self.busy = False
        try:
            if isinstance(outcome, IndunetError):
                for packet, _, _ in batch.messages:
                    self._ack(packet, PubAck.UNSPECIFIED_ERROR, outcome.message)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                self._acknowledge(batch, outcome)
        except Exception as exc:
            self._fail(exc)
            return
        self._pump()

    def _acknowledge(self, batch: _Telemetry, result: IngestResult) -> None:
        rejected: dict[int, list[dict[str, Any]]] = {}
        for entry in result.rejected:
            rejected.setdefault(entry["record"], []).append(entry)
        for packet, start, end in batch.messages:
            problems = [entry for index in range(start, end) for entry in rejected.get(index, [])]
            if not problems:
                self._ack(packet)
                continue
            summary = "; ".join(f"{p.get('point', '')}: {p['message']}" for p in problems[:5])
            stored = sum(len(batch.records[index]["values"]) for index in range(start, end)) - len(problems)
            # Some points stored: the message succeeded and the reason string names what was refused.
            self._ack(packet, PubAck.SUCCESS if stored > 0 else PubAck.PAYLOAD_FORMAT_INVALID, summary)

    async def _publish(self, packet: mqtt5.PublishPacket) -> None:
        refused = self._check_publish(packet)
        if refused is not None:
            self._ack(packet, refused, "message rate above the device's or tenant's quota")
            return
        topic = packet.topic
        try:
            if topic == topics.ATTRIBUTES:
                await self._client_attributes(packet.payload)
            elif (number := topics.request_id(topic, topics.ATTRIBUTES_REQUEST)) is not None:
                await self._attribute_request(number, packet.payload)
            elif (number := topics.request_id(topic, topics.RPC_RESPONSE)) is not None:
                self._rpc_response(number, packet.payload)
            elif (number := topics.request_id(topic, topics.RPC_REQUEST)) is not None:
                self._client_rpc(number, packet.payload)
            elif topic.startswith(gateway.ROOT):
                self._ack(packet, *await self._gateway_publish(topic, packet.payload))
                return
            else:
                self._ack(packet, PubAck.NOT_AUTHORIZED, f"a device may not publish to {topic!r}")
                return
        except tbapi.BadPayload as exc:
            self._ack(packet, PubAck.PAYLOAD_FORMAT_INVALID, str(exc))
            return
        except PermissionDenied as exc:
            self._ack(packet, PubAck.NOT_AUTHORIZED, exc.message)
            return
        except IndunetError as exc:
            self._ack(packet, PubAck.UNSPECIFIED_ERROR, exc.message)
            return
        self._ack(packet)

    async def _gateway_publish(self, topic: str, payload: bytes) -> tuple[PubAck, str]:
        """The gateway API (see ``gateway``): the PUBACK reason for one message to ``v1/gateway/...``."""
        if self.gateway is None:
            assert self.principal is not None
            self.gateway = await asyncio.to_thread(
                gateway.Gateway, self.server.platform, self.principal, self._post_threadsafe
            )
        gw = self.gateway
        try:
            if topic == gateway.TELEMETRY:
                outcome = await asyncio.to_thread(gw.ingest, gateway.telemetry_records(payload))
                summary = "; ".join(outcome.problems[:5])
                # As on the device API: some points stored is success, the reason string names the rest.
                return (
                    PubAck.SUCCESS
                    if outcome.stored or not outcome.problems
                    else PubAck.PAYLOAD_FORMAT_INVALID
                ), summary
            if topic == gateway.CONNECT:
                await asyncio.to_thread(gw.child, *gateway.connect_request(payload))
            elif topic == gateway.DISCONNECT:
                await asyncio.to_thread(gw.disconnect, gateway.connect_request(payload)[0])
            elif topic == gateway.ATTRIBUTES:
                await asyncio.to_thread(gw.set_attributes, gateway.attribute_updates(payload))
            elif topic == gateway.ATTRIBUTES_REQUEST:
                await asyncio.to_thread(gw.answer_attributes, gateway.attribute_request(payload))
            elif topic == gateway.CLAIM:
                await asyncio.to_thread(gw.claim, gateway.claims(payload))
            elif topic == gateway.RPC:
                gw.answer(*gateway.rpc_reply(payload))
            else:
                return PubAck.NOT_AUTHORIZED, f"a gateway may not publish to {topic!r}"
        except InvalidInput as exc:
            return PubAck.PAYLOAD_FORMAT_INVALID, exc.message
        return PubAck.SUCCESS, ""

    def _post_threadsafe(self, topic: str, value: Any) -> None:
        self.loop.call_soon_threadsafe(self.deliver, topic, value)

    async def _client_attributes(self, payload: bytes) -> None:
        assert self.principal is not None
        values = tbapi.attributes(payload)
        await asyncio.to_thread(
            device_api.set_client_attributes, self.server.platform, self.principal, values
        )

    async def _attribute_request(self, number: int, payload: bytes) -> None:
        assert self.principal is not None
        client, shared, everything = tbapi.attribute_request(payload)
        scopes = (
            ("client", "shared")
            if everything
            else tuple(scope for scope, keys in (("client", client), ("shared", shared)) if keys is not None)
        )
        found = await asyncio.to_thread(
            device_api.get_attributes,
            self.server.platform,
            self.principal,
            self.device_id,
            client,
            shared,
            scopes,
        )
        self.deliver(f"{topics.ATTRIBUTES_RESPONSE}{number}", found)

    def _rpc_response(self, number: int, payload: bytes) -> None:
        try:
            result = tbapi.parse_json(payload)
        except tbapi.BadPayload:
            result = payload.decode("utf-8", "replace")
        self.server.router.respond(self.device_id, number, result)

    def _client_rpc(self, number: int, payload: bytes) -> None:
        method, _params = tbapi.rpc_call(payload)
        try:
            answer: Any = rpc.answer_client_rpc(method, self.server.session_limits)
        except InvalidInput as exc:
            answer = {"error": exc.message}
        self.deliver(f"{topics.RPC_RESPONSE}{number}", answer)

    async def _publish_will(self, will: mqtt5.Will) -> None:
        """A will on the device's own telemetry or attributes topic is stored as if the device sent it."""
        assert self.principal is not None
        try:
            if will.topic == topics.TELEMETRY:
                records = tbapi.telemetry_records(will.payload or b"")
                await asyncio.to_thread(telemetry.ingest, self.server.platform, self.principal, records)
            elif will.topic == topics.ATTRIBUTES:
                await self._client_attributes(will.payload or b"")
        except (tbapi.BadPayload, IndunetError) as exc:
            log.info("mqtt %s: will message not stored: %s", self.client_id, exc)

    # -- SUBSCRIBE -------------------------------------------------------------------------------------
    def _subscribe(self, packet: mqtt5.SubscribePacket) -> None:
        codes: list[SubAck] = []
        for topic_filter in packet.topic_filters:
            pattern = topic_filter.pattern
            if pattern.startswith("$share/"):
                codes.append(SubAck.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED)
            elif not topics.valid_filter(pattern):
                codes.append(SubAck.TOPIC_FILTER_INVALID)
            elif not (pattern == provision.RESPONSE if self.provisioning else topics.may_subscribe(pattern)):
                codes.append(SubAck.NOT_AUTHORIZED)
            else:
                qos = min(int(topic_filter.max_qos), 1)
                self.session.subscriptions[pattern] = qos
                codes.append(SubAck(qos))
        if self.v311:
            self._write(v311.suback(packet.packet_id, codes))
        else:
            self._write(mqtt5.SubAckPacket(packet.packet_id, codes).write())

    def _unsubscribe(self, packet: mqtt5.UnsubscribePacket) -> None:
        if self.v311:
            for pattern in packet.patterns:
                self.session.subscriptions.pop(pattern, None)
            self._write(codec311.UnsubAck(packet.packet_id).write())
            return
        codes = [
            mqtt5.UnsubAckReasonCode.SUCCESS
            if self.session.subscriptions.pop(pattern, None) is not None
            else mqtt5.UnsubAckReasonCode.NO_SUBSCRIPTION_EXISTED
            for pattern in packet.patterns
        ]
        self._write(mqtt5.UnsubAckPacket(packet.packet_id, codes).write())

    # -- to the device ---------------------------------------------------------------------------------
    def deliver(self, topic: str, value: Any) -> None:
        """Publish to the device at QoS 0 when it subscribed to the topic; call on the event loop."""
        if self.closing or not any(topics.matches(p, topic) for p in self.session.subscriptions):
            return
        payload = tbapi.dumps(value)
        if self.v311:
            data = codec311.Publish(topic, payload).write()
        else:
            data = mqtt5.PublishPacket(topic, payload).write()
        if self.client_max_packet is not None and len(data) > self.client_max_packet:
            log.info("mqtt %s: %s not sent, larger than the client accepts", self.client_id, topic)
            return
        self._write(data)

    # DeviceChannel, called from any thread
    def send_rpc(self, request_id: int, method: str, params: Any) -> None:
        payload = {"method": method, "params": params}
        self.loop.call_soon_threadsafe(self.deliver, f"{topics.RPC_REQUEST}{request_id}", payload)

    def send_attributes(self, update: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self.deliver, topics.ATTRIBUTES, update)


def _keep_alive(connect: mqtt5.ConnectPacket) -> int:
    """The keep-alive the server holds the client to: its own, unless 0 (none) or above our maximum."""
    return connect.keep_alive if 0 < connect.keep_alive <= MAX_KEEP_ALIVE_S else MAX_KEEP_ALIVE_S
