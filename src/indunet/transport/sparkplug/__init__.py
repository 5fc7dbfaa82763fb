"""Sparkplug B host application and generic MQTT JSON subscriptions on external brokers."""

from __future__ import annotations

from typing import Protocol

from indunet.core.errors import ConfigurationError
from indunet.platform.runtime import Platform
from indunet.platform.tenants import get_tenant_by_name
from indunet.transport.sparkplug.host import SparkplugHost
from indunet.transport.sparkplug.json_subscription import JsonSubscriber
from indunet.transport.sparkplug.payload import Metric, Payload, PayloadError, decode_payload, encode_payload

__all__ = [
    "JsonSubscriber",
    "Metric",
    "Payload",
    "PayloadError",
    "SparkplugHost",
    "decode_payload",
    "encode_payload",
    "start_configured",
]


class _Service(Protocol):
    def stop(self) -> None: ...


def start_configured(platform: Platform) -> list[_Service]:
    """Starts what the settings configure (nothing by default); the caller stops each on shutdown."""
    settings = platform.settings
    started: list[_Service] = []
    try:
        if settings.sparkplug_broker_url:
            if not settings.sparkplug_tenant:
                raise ConfigurationError(
                    "sparkplug_broker_url is set but sparkplug_tenant is not", key="error.config"
                )
            tenant = get_tenant_by_name(platform, settings.sparkplug_tenant)
            host = SparkplugHost(
                platform,
                tenant["id"],
                settings.sparkplug_host_id,
                settings.sparkplug_broker_url,
                settings.sparkplug_group_filter,
            )
            host.start()
            started.append(host)
        if settings.mqtt_subscriptions:
            subscriber = JsonSubscriber(
                platform, settings.mqtt_subscriptions, f"indunet-json-{settings.sparkplug_host_id}"
            )
            subscriber.start()
            started.append(subscriber)
    except BaseException:
        for service in started:
            service.stop()
        raise
    return started
