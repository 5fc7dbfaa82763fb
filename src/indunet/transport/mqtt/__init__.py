"""indunet's device-facing MQTT 5 endpoint, speaking the ThingsBoard device API."""

from indunet.transport.mqtt.server import MqttServer, MqttThread

__all__ = ["MqttServer", "MqttThread"]
