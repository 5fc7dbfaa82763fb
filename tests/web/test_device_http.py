"""The ThingsBoard-compatible HTTP device API: token in the path, ThingsBoard payload shapes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from tests.helpers import Tenant

from indunet.platform import device_api, rpc_poll
from indunet.platform.runtime import Platform
from indunet.security import Principal


def test_thingsboard_http_telemetry_shapes(client: TestClient, tenant_a: Tenant) -> None:
    token = tenant_a.device["token"]
    now = time.time_ns() // 1_000_000
    bodies = [
        {"spindle_speed": 1200.0, "program_name": "O7"},
        {"ts": now - 1000, "values": {"spindle_speed": 1100.0}},
        [
            {"ts": now - 2000, "values": {"spindle_speed": 1000.0}},
            {"ts": now - 3000, "values": {"tool_number": 4}},
        ],
    ]
    accepted = [client.post(f"/api/v1/{token}/telemetry", json=body).json()["accepted"] for body in bodies]
    assert accepted == [2, 1, 2]
    latest = client.get(f"/api/telemetry/{tenant_a.device['id']}/latest", headers=tenant_a.viewer).json()[
        "values"
    ]
    assert latest["program_name"]["value"] == "O7"
    assert latest["tool_number"]["value"] == 4


def test_bad_values_are_reported_not_stored(client: TestClient, tenant_a: Tenant) -> None:
    response = client.post(f"/api/v1/{tenant_a.device['token']}/telemetry", json={"spindle_load": -5.0})
    assert response.status_code == 200
    assert response.json()["rejected"][0]["reason"] == "out_of_range"


def test_wrong_or_foreign_tokens_are_refused(client: TestClient, tenant_a: Tenant) -> None:
    token = tenant_a.device["token"]
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    for bad in (forged, "not-a-token", "A" * 150):
        response = client.post(f"/api/v1/{bad}/telemetry", json={"spindle_speed": 1.0})
        assert response.status_code == 401, bad
        assert response.headers["content-type"] == "application/problem+json"
    key = client.post(
        "/api/api-keys", json={"name": "in-path", "role": "engineer"}, headers=tenant_a.admin
    ).json()
    response = client.post(f"/api/v1/{key['key']}/telemetry", json={"spindle_speed": 1.0})
    assert response.status_code == 401


def test_client_attributes_post_and_get_by_scope(
    platform: Platform, client: TestClient, tenant_a: Tenant
) -> None:
    token = tenant_a.device["token"]
    assert client.post(f"/api/v1/{token}/attributes", json={"fw": "1.2", "mode": "auto"}).status_code == 200
    device_api.set_shared_attributes(
        platform, Principal.system(tenant_a.id), tenant_a.device["id"], {"target": 5, "limit": 9}
    )
    both = client.get(f"/api/v1/{token}/attributes").json()
    assert both["client"]["fw"] == "1.2" and both["shared"]["target"] == 5
    some = client.get(f"/api/v1/{token}/attributes", params={"clientKeys": "fw, nope", "sharedKeys": "limit"})
    assert some.json() == {"client": {"fw": "1.2"}, "shared": {"limit": 9}}
    only_shared = client.get(f"/api/v1/{token}/attributes", params={"sharedKeys": "target"}).json()
    assert only_shared == {"shared": {"target": 5}}
    assert client.post(f"/api/v1/{token}/attributes", json=[1, 2]).status_code == 422
    assert client.post(f"/api/v1/{token}/attributes", json={}).status_code == 422
    assert client.get("/api/v1/not-a-token/attributes").status_code == 401


def test_server_side_rpc_by_long_polling(platform: Platform, client: TestClient, tenant_a: Tenant) -> None:
    token, device = tenant_a.device["token"], tenant_a.device["id"]
    received: list[dict[str, Any]] = []

    def http_device() -> None:
        # A ThingsBoard HTTP device: poll, carry out the command, post the answer.
        command = client.get(f"/api/v1/{token}/rpc", params={"timeout": 20000})
        assert command.status_code == 200
        received.append(command.json())
        answer = client.post(f"/api/v1/{token}/rpc/{command.json()['id']}", json={"applied": True})
        assert answer.json() == {"delivered": True}

    worker = threading.Thread(target=http_device)
    worker.start()
    channel = rpc_poll.channel_for(platform, device)
    _until(lambda: channel.waiting() == 1)
    response = client.post(
        f"/api/devices/{device}/rpc",
        json={"method": "spindle_override", "params": {"value": 110}},
        headers=tenant_a.engineer,
    )
    worker.join(30)
    assert response.status_code == 200 and response.json() == {"result": {"applied": True}}
    assert received[0]["method"] == "spindle_override" and received[0]["params"] == {"value": 110}
    assert channel.waiting() == 0


def test_poll_timeout_is_408_and_bad_timeouts_422(client: TestClient, tenant_a: Tenant) -> None:
    token = tenant_a.device["token"]
    empty = client.get(f"/api/v1/{token}/rpc", params={"timeout": 20})
    assert empty.status_code == 408 and empty.content == b""
    for bad in (0, -5, 600_000, "soon"):
        assert client.get(f"/api/v1/{token}/rpc", params={"timeout": bad}).status_code == 422
    late = client.post(f"/api/v1/{token}/rpc/424242", json={"ok": 1})
    assert late.status_code == 200 and late.json() == {"delivered": False}
    assert client.get("/api/v1/not-a-token/rpc", params={"timeout": 20}).status_code == 401


def test_client_side_rpc(client: TestClient, tenant_a: Tenant) -> None:
    url = f"/api/v1/{tenant_a.device['token']}/rpc"
    now = client.post(url, json={"method": "getCurrentTime", "params": {}})
    assert now.status_code == 200 and abs(now.json()["currentTime"] - time.time() * 1000) < 3_600_000
    limits = client.post(url, json={"method": "getSessionLimits"}).json()
    assert limits["maxPayloadSize"] > 0 and "rateLimits" in limits
    unknown = client.post(url, json={"method": "getWeather", "params": {}})
    assert unknown.status_code == 422 and "getWeather" in unknown.json()["detail"]
    assert client.post(url, json={"params": {}}).status_code == 422


def _until(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_malformed_device_requests_are_422_after_the_token_is_checked(
    client: TestClient, tenant_a: Tenant
) -> None:
    token = tenant_a.device["token"]
    assert client.post(f"/api/v1/{token}/rpc/seven", json={}).status_code == 422
    assert client.post(f"/api/v1/{token}/rpc", content=b"{not json").status_code == 422
    assert (
        client.post(f"/api/v1/{token}/rpc", json={"method": "getCurrentTime", "extra": 1}).status_code == 422
    )
    assert client.post(f"/api/v1/{token}/attributes", content=b"[").status_code == 422
    assert client.post("/api/v1/not-a-token/rpc", content=b"{not json").status_code == 401
