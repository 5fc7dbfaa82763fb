"""REST for server-side RPC and shared attributes: status codes, permissions, audit."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.helpers import Tenant

from indunet.platform.rpc import router_for
from indunet.platform.runtime import Platform
from indunet.security import Principal


class SilentChannel:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str, Any]] = []

    def send_rpc(self, request_id: int, method: str, params: Any) -> None:
        self.sent.append((request_id, method, params))

    def send_attributes(self, update: dict[str, Any]) -> None:
        pass


def test_rpc_to_offline_device_is_409(client: TestClient, tenant_b: Tenant) -> None:
    response = client.post(
        f"/api/devices/{tenant_b.device['id']}/rpc",
        json={"method": "stop_program"},
        headers=tenant_b.engineer,
    )
    assert response.status_code == 409


def test_rpc_timeout_is_504_and_audited(platform: Platform, client: TestClient, tenant_b: Tenant) -> None:
    channel = SilentChannel()
    router = router_for(platform)
    router.register(tenant_b.device["id"], channel)
    try:
        response = client.post(
            f"/api/devices/{tenant_b.device['id']}/rpc",
            json={"method": "start_program", "params": {"program_name": "O1"}, "timeout_ms": 50},
            headers=tenant_b.engineer,
        )
        assert response.status_code == 504
        assert channel.sent[-1][1:] == ("start_program", {"program_name": "O1"})
        oneway = client.post(
            f"/api/devices/{tenant_b.device['id']}/rpc",
            json={"method": "reset_alarms", "oneway": True},
            headers=tenant_b.engineer,
        )
        assert oneway.status_code == 200 and oneway.json() == {"status": "sent"}
    finally:
        router.unregister(tenant_b.device["id"], channel)
    audit = client.get("/api/audit", params={"action": "rpc"}, headers=tenant_b.admin)
    assert audit.status_code == 200
    assert {row["after"]["outcome"] for row in audit.json()["items"]} >= {"timeout", "sent"}


def test_viewer_may_not_send_rpc_or_set_shared_attributes(client: TestClient, tenant_b: Tenant) -> None:
    device = tenant_b.device["id"]
    assert (
        client.post(f"/api/devices/{device}/rpc", json={"method": "x"}, headers=tenant_b.viewer).status_code
        == 403
    )
    response = client.put(f"/api/devices/{device}/attributes/shared", json={"a": 1}, headers=tenant_b.viewer)
    assert response.status_code == 403


def test_shared_attributes_round_trip_and_other_tenant_sees_nothing(
    client: TestClient, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    device = tenant_b.device["id"]
    response = client.put(
        f"/api/devices/{device}/attributes/shared", json={"limit": 5}, headers=tenant_b.engineer
    )
    assert response.status_code == 200 and response.json()["shared"]["limit"] == 5
    assert client.get(f"/api/devices/{device}/attributes", headers=tenant_b.viewer).json()["shared"] == {
        "limit": 5
    }
    assert client.get(f"/api/devices/{device}/attributes", headers=tenant_a.viewer).status_code == 404
    assert (
        client.put(f"/api/devices/{device}/attributes/shared", json={}, headers=tenant_b.engineer).status_code
        == 422
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"method": "reboot"}, "declares no command or point 'reboot'"),
        ({"method": "spindle_speed", "params": {"value": 10.0}}, "read-only"),
        ({"method": "setValue", "params": {"point": "spindle_override", "value": 200}}, "outside [50, 120]"),
        ({"method": "spindle_override", "params": {"value": "fast"}}, "expected a number"),
        ({"method": "set_spindle_override", "params": {}}, "requires param 'percent'"),
        ({"method": "start_program", "params": {"program_name": 3}}, "expected a string"),
        ({"method": "set_spindle_override", "params": 130}, "outside [50, 120]"),
        ({"method": "spindle_speed", "params": 10.0}, "read-only"),
    ],
)
def test_commands_outside_the_model_are_422_before_sending_and_audited(
    platform: Platform, client: TestClient, tenant_b: Tenant, body: dict[str, Any], reason: str
) -> None:
    channel = SilentChannel()
    router = router_for(platform)
    router.register(tenant_b.device["id"], channel)
    try:
        response = client.post(
            f"/api/devices/{tenant_b.device['id']}/rpc", json=body, headers=tenant_b.engineer
        )
    finally:
        router.unregister(tenant_b.device["id"], channel)
    assert response.status_code == 422
    assert reason in response.json()["detail"]
    assert channel.sent == []
    audit = client.get("/api/audit", params={"action": "rpc"}, headers=tenant_b.admin).json()["items"]
    assert any(
        row["before"]["method"] == body["method"]
        and row["after"]["outcome"] == "refused"
        and reason in row["after"]["reason"]
        for row in audit
    )


def test_answered_call_returns_the_result(platform: Platform, client: TestClient, tenant_b: Tenant) -> None:
    device = tenant_b.device["id"]
    router = router_for(platform)

    class Answering(SilentChannel):
        def send_rpc(self, request_id: int, method: str, params: Any) -> None:
            threading.Thread(target=router.respond, args=(device, request_id, {"applied": params})).start()

    channel = Answering()
    router.register(device, channel)
    try:
        response = client.post(
            f"/api/devices/{device}/rpc",
            json={"method": "set_feed_override", "params": {"percent": 90}},
            headers=tenant_b.engineer,
        )
        # A bare value is checked against the point and reaches the device as it was given.
        bare = client.post(
            f"/api/devices/{device}/rpc",
            json={"method": "feed_override", "params": 90},
            headers=tenant_b.engineer,
        )
    finally:
        router.unregister(device, channel)
    assert response.status_code == 200
    assert response.json() == {"result": {"applied": {"percent": 90}}}
    assert bare.status_code == 200 and bare.json() == {"result": {"applied": 90}}


class FakeSparkplug:
    """Stands in for the Sparkplug host: holds devices, writes points, never answers."""

    def __init__(self, held: str) -> None:
        self.held = held
        self.writes: list[tuple[str, str, Any]] = []

    def state_of(self, device_id: str) -> str | None:
        return "online" if device_id == self.held else None

    def send_command(self, principal: Principal, device_id: str, point: str, value: Any) -> None:
        self.writes.append((device_id, point, value))


def test_writes_to_a_device_held_by_a_reply_less_transport_are_sent_and_checked(
    platform: Platform, client: TestClient, tenant_b: Tenant
) -> None:
    device = tenant_b.device["id"]
    writer = FakeSparkplug(device)
    router = router_for(platform)
    router.add_writer(writer)
    try:
        url = f"/api/devices/{device}/rpc"
        sent = client.post(
            url, json={"method": "feed_override", "params": {"value": 75}}, headers=tenant_b.engineer
        )
        refused = client.post(
            url, json={"method": "feed_override", "params": {"value": 175}}, headers=tenant_b.engineer
        )
        command = client.post(url, json={"method": "stop_program"}, headers=tenant_b.engineer)
    finally:
        router.remove_writer(writer)
    assert sent.status_code == 200 and sent.json() == {"status": "sent"}
    assert refused.status_code == 422 and "outside [0, 150]" in refused.json()["detail"]
    assert command.status_code == 422 and "point writes only" in command.json()["detail"]
    assert writer.writes == [(device, "feed_override", 75)]
