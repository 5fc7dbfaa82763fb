"""REST for server-side RPC and shared attributes: status codes, permissions, audit."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.helpers import Tenant

from indunet.platform.rpc import router_for
from indunet.platform.runtime import Platform


class SilentChannel:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str, Any]] = []

    def send_rpc(self, request_id: int, method: str, params: Any) -> None:
        self.sent.append((request_id, method, params))

    def send_attributes(self, update: dict[str, Any]) -> None:
        pass


def test_rpc_to_offline_device_is_409(client: TestClient, tenant_b: Tenant) -> None:
    response = client.post(
        f"/api/devices/{tenant_b.device['id']}/rpc", json={"method": "reboot"}, headers=tenant_b.engineer
    )
    assert response.status_code == 409


def test_rpc_timeout_is_504_and_audited(platform: Platform, client: TestClient, tenant_b: Tenant) -> None:
    channel = SilentChannel()
    router = router_for(platform)
    router.register(tenant_b.device["id"], channel)
    try:
        response = client.post(
            f"/api/devices/{tenant_b.device['id']}/rpc",
            json={"method": "reboot", "params": {"now": True}, "timeout_ms": 50},
            headers=tenant_b.engineer,
        )
        assert response.status_code == 504
        assert channel.sent[-1][1:] == ("reboot", {"now": True})
        oneway = client.post(
            f"/api/devices/{tenant_b.device['id']}/rpc",
            json={"method": "blink", "oneway": True},
            headers=tenant_b.engineer,
        )
        assert oneway.status_code == 200 and oneway.json() == {"sent": True}
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
