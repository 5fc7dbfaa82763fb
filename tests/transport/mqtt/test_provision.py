"""ThingsBoard device provisioning over MQTT, with the unmodified ``tb-mqtt-client``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from tb_device_mqtt import TBDeviceMqttClient  # type: ignore[import-untyped]
from tests.helpers import Tenant

from indunet.core.config import ProvisionProfile
from indunet.platform.accounts import principal_from_secret
from indunet.platform.devices import get_device
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.transport.mqtt import MqttThread
from indunet.transport.mqtt.provision import provision

SECRET = "s3cret-provisioning-secret"


@pytest.fixture
def provisioning(platform: Platform, tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    key = f"key-{uuid.uuid4().hex[:8]}"
    profile = ProvisionProfile(secret=SECRET, tenant=tenant_a.name, type="flow_pressure_instrument")
    monkeypatch.setattr(
        platform, "settings", platform.settings.model_copy(update={"mqtt_provisioning": {key: profile}})
    )
    yield key


def test_tb_client_provisions_a_device_whose_token_then_works(
    platform: Platform, tenant_a: Tenant, mqtt: MqttThread, provisioning: str
) -> None:
    name = f"prov-{uuid.uuid4().hex[:8]}"
    credentials = TBDeviceMqttClient.provision(
        "127.0.0.1", provisioning, SECRET, port=mqtt.port, device_name=name
    )
    assert credentials["status"] == "SUCCESS" and credentials["credentialsType"] == "ACCESS_TOKEN"
    principal = principal_from_secret(platform, credentials["credentialsValue"])
    assert principal.tenant_id == tenant_a.id
    assert principal.device_id is not None
    device = get_device(platform, Principal.system(tenant_a.id), principal.device_id)
    assert (device["name"], device["type"]) == (name, "flow_pressure_instrument")


@pytest.mark.parametrize(
    "payload",
    [
        b'{"deviceName": "x-dev", "provisionDeviceKey": "nope", "provisionDeviceSecret": "s3cret-provisioning-secret"}',
        b"not json",
        b"[]",
        b'{"deviceName": "x-dev"}',
    ],
)
def test_unknown_key_or_bad_request_is_a_failure_answer(
    platform: Platform, provisioning: str, payload: bytes
) -> None:
    answer = provision(platform, payload)
    assert answer["status"] == "FAILURE" and answer["errorMsg"]


def test_wrong_secret_and_taken_name_are_failures(
    platform: Platform, tenant_a: Tenant, provisioning: str
) -> None:
    wrong = (
        f'{{"deviceName": "y-dev", "provisionDeviceKey": "{provisioning}", "provisionDeviceSecret": "wrong"}}'
    )
    assert provision(platform, wrong.encode())["status"] == "FAILURE"
    taken = (
        f'{{"deviceName": "{tenant_a.device["name"]}", "provisionDeviceKey": "{provisioning}", '
        f'"provisionDeviceSecret": "{SECRET}"}}'
    )
    answer = provision(platform, taken.encode())
    assert answer["status"] == "FAILURE" and "exists" in answer["errorMsg"]


def test_tb_client_with_unknown_key_gets_no_credentials(mqtt: MqttThread, provisioning: str) -> None:
    assert (
        TBDeviceMqttClient.provision("127.0.0.1", "unknown", SECRET, port=mqtt.port, device_name="z-dev")
        is None
    )
