"""Commands through the RPC router to a Sparkplug device (DCMD), and deaths taking devices offline."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from tests.transport.sparkplug.test_host import Edge, eventually

from indunet.core.errors import Conflict, InvalidInput, NotFound
from indunet.platform import devices, rpc, tenants
from indunet.platform.runtime import DeviceRef, Platform
from indunet.security import Principal
from indunet.transport.sparkplug import SparkplugHost
from indunet.transport.sparkplug.payload import DataType, Metric


@pytest.fixture
def routed(platform: Platform, broker_url: str) -> Iterator[tuple[Edge, str]]:
    tenant = tenants.create_tenant(platform, f"spr-{secrets.token_hex(3)}")
    group = f"g{secrets.token_hex(4)}"
    host = SparkplugHost(platform, tenant["id"], f"h{secrets.token_hex(4)}", broker_url, group)
    host.start()
    rpc.router_for(platform).add_writer(host)
    edge = Edge(group, "edge1")
    yield edge, tenant["id"]
    edge.close()
    rpc.router_for(platform).remove_writer(host)
    host.stop()


def _born_device(platform: Platform, edge: Edge, tenant_id: str) -> DeviceRef:
    edge.send("NBIRTH", (Metric(name="bdSeq", datatype=DataType.INT64, value=0),))
    edge.send(
        "DBIRTH",
        (
            Metric(name="Setpoint", alias=1, datatype=DataType.INT16, value=10),
            Metric(name="Speed", alias=2, datatype=DataType.DOUBLE, value=1.0, properties={"readOnly": True}),
        ),
        device="pump",
    )
    name = f"{edge.group}.edge1.pump"

    def found() -> DeviceRef | None:
        try:
            return devices.resolve(platform, tenant_id, name)
        except NotFound:
            return None

    return eventually(found, "device born")


def test_rest_rpc_to_a_sparkplug_device_goes_out_as_dcmd_after_model_checks(
    platform: Platform, routed: tuple[Edge, str]
) -> None:
    edge, tenant_id = routed
    system = Principal.system(tenant_id)
    device = _born_device(platform, edge, tenant_id)
    eventually(lambda: rpc.router_for(platform).writer(device.id), "host holds the device")

    answer = rpc.call_device(platform, system, device.id, "setpoint", {"value": 42})
    assert answer == rpc.SENT
    topic, command = edge.commands.get(timeout=10)
    assert topic.endswith("/DCMD/edge1/pump")
    assert (command.metrics[0].name, command.metrics[0].value) == ("Setpoint", 42)

    with pytest.raises(InvalidInput, match="read-only"):
        rpc.call_device(platform, system, device.id, "speed", {"value": 2.0})
    with pytest.raises(InvalidInput, match="expected an integer"):
        rpc.call_device(platform, system, device.id, "setValue", {"point": "setpoint", "value": 1.5})
    assert edge.commands.empty()


def test_death_takes_the_device_offline_at_once_and_commands_are_refused(
    platform: Platform, routed: tuple[Edge, str]
) -> None:
    edge, tenant_id = routed
    system = Principal.system(tenant_id)
    device = _born_device(platform, edge, tenant_id)
    eventually(
        lambda: devices.get_device(platform, system, device.id)["status"] == "online", "online after birth"
    )
    edge.send("DDEATH", (), device="pump")
    eventually(lambda: devices.get_device(platform, system, device.id)["status"] == "offline", "offline")
    with pytest.raises(Conflict):
        rpc.call_device(platform, system, device.id, "setpoint", {"value": 1})
