"""The one module that touches paho-mqtt: a client of an external broker, moving topics and bytes.

Messages are handed to ``on_message`` in paho's network thread. Subscriptions use QoS 1 and paho
acknowledges a message only after ``on_message`` returns, so what the handler stored durably is what
the broker forgets. On every (re)connection the subscriptions are renewed and ``on_connect`` runs,
which is where a Sparkplug host republishes its STATE birth.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from indunet.core.errors import ConfigurationError, StorageError

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...`` (TLS, port 8883 by default)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise ConfigurationError(f"broker URL must be mqtt://host[:port] or mqtts://..., not {url!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ConfigurationError(f"broker URL {url!r}: {exc}") from None
    return BrokerAddress(
        parts.hostname,
        port,
        tls,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


class BrokerClient:
    def __init__(
        self,
        url: str,
        client_id: str,
        on_message: MessageHandler,
        subscriptions: Sequence[str],
        will: tuple[str, bytes] | None = None,
        on_connect: Callable[[], None] | None = None,
    ) -> None:
        self.address = parse_broker_url(url)
        self._subscriptions = list(subscriptions)
        self._on_message = on_message
        self._on_connect = on_connect
        self._ready = threading.Event()
        self._pending: set[int] = set()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True
        )
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set()
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.on_connect = self._connected
        client.on_subscribe = self._subscribed
        client.on_message = self._message
        self._client = client

    def start(self, timeout_s: float = 10.0) -> None:
        """Connects and returns once every subscription is in place."""
        try:
            self._client.connect(self.address.host, self.address.port, keepalive=30)
        except OSError as exc:
            raise StorageError(
                f"MQTT broker {self.address.host}:{self.address.port} unreachable: {exc}",
                key="error.broker_unreachable",
            ) from exc
        self._client.loop_start()
        if not self._ready.wait(timeout_s):
            self.stop()
            raise StorageError(
                f"MQTT broker {self.address.host}:{self.address.port} did not accept the subscriptions",
                key="error.broker_unreachable",
            )

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=qos, retain=retain)

    def publish_and_wait(self, topic: str, payload: bytes, retain: bool, timeout_s: float = 5.0) -> None:
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout_s)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # -- paho callbacks (network thread) -------------------------------------------------------------
    def _connected(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker %s refused the connection: %s", self.address.host, reason)
            return
        if self._on_connect is not None:
            self._on_connect()
        if not self._subscriptions:
            self._ready.set()
            return
        result, mid = client.subscribe([(topic, 1) for topic in self._subscriptions])
        if result == mqtt.MQTT_ERR_SUCCESS and mid is not None:
            self._pending.add(mid)

    def _subscribed(
        self,
        _client: mqtt.Client,
        _userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if any(r.is_failure for r in reasons):
            log.error("broker %s refused a subscription: %s", self.address.host, reasons)
            return
        self._pending.discard(mid)
        if not self._pending:
            self._ready.set()

    def _message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            self._on_message(message.topic, bytes(message.payload))
        except Exception:
            # One bad message must not stop the network loop for every other device on the broker.
            log.exception("handling a message on %s failed", message.topic[:200])
