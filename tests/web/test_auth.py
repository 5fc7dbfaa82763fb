"""Login, tokens and credentials as an attacker would try them."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from fastapi.testclient import TestClient
from tests.helpers import PASSWORD, Tenant

from indunet.platform.runtime import Platform


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(platform: Platform, tenant: Tenant, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    me = platform.tokens.verify(tenant.admin["Authorization"].split()[1])
    claims: dict[str, object] = {
        "sub": me.subject,
        "tid": me.tenant_id,
        "role": "admin",
        "iss": platform.settings.jwt_issuer,
        "aud": platform.settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return claims


def _signed(platform: Platform, claims: dict[str, object], alg: str = "HS256") -> str:
    return jwt.encode(claims, platform.settings.resolved_jwt_secret(), algorithm=alg)


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_login_issues_a_token_that_opens_the_api(client: TestClient, tenant_a: Tenant) -> None:
    response = client.post(
        "/api/auth/token", data={"username": tenant_a.emails["viewer"], "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert me["user"]["role"] == "viewer" and me["tenant"]["name"] == tenant_a.name


@pytest.mark.parametrize("username", ["nobody@example.cn", "admin@x"])
def test_wrong_credentials_get_one_indistinct_401(
    client: TestClient, tenant_a: Tenant, username: str
) -> None:
    for user, password in ((username, PASSWORD), (tenant_a.emails["admin"], "wrong password!")):
        response = client.post("/api/auth/token", data={"username": user, "password": password})
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "Wrong e-mail or password."


def test_every_api_route_needs_credentials(client: TestClient) -> None:
    open_routes = {"/api/auth/token", "/api/health"}
    for path, methods in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        if path in open_routes:
            continue
        concrete = (
            path.replace("{device_id}", "x")
            .replace("{name}", "x")
            .replace("{key_id}", "x")
            .replace("{user_id}", "x")
        )
        for method in methods:
            response = client.request(method.upper(), concrete)
            assert response.status_code == 401, (method, path, response.status_code)


def test_expired_token_is_refused(client: TestClient, platform: Platform, tenant_a: Tenant) -> None:
    now = int(time.time())
    token = _signed(platform, _claims(platform, tenant_a, iat=now - 3600, nbf=now - 3600, exp=now - 60))
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_alg_none_is_refused(client: TestClient, platform: Platform, tenant_a: Tenant) -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(platform, tenant_a))}."
    assert _me(client, unsigned) == 401


def test_other_algorithms_and_keys_are_refused(
    client: TestClient, platform: Platform, tenant_a: Tenant
) -> None:
    claims = _claims(platform, tenant_a)
    assert _me(client, _signed(platform, claims)) == 200  # the control: the same claims, properly signed
    assert _me(client, _signed(platform, claims, alg="HS512")) == 401
    assert (
        _me(client, jwt.encode(claims, "another key of at least thirty-two bytes!", algorithm="HS256")) == 401
    )


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("aud", "someone-else"),
        ("iss", "evil"),
        ("tid", "00000000-0000-0000-0000-000000000000"),
        ("role", "admin2"),
    ],
)
def test_wrong_audience_issuer_tenant_or_role_is_refused(
    client: TestClient, platform: Platform, tenant_a: Tenant, claim: str, value: str
) -> None:
    assert _me(client, _signed(platform, _claims(platform, tenant_a, **{claim: value}))) == 401


def test_missing_expiry_is_refused(client: TestClient, platform: Platform, tenant_a: Tenant) -> None:
    claims = _claims(platform, tenant_a)
    del claims["exp"]
    assert _me(client, _signed(platform, claims)) == 401


def test_api_key_lifecycle(client: TestClient, tenant_a: Tenant) -> None:
    created = client.post("/api/api-keys", json={"name": "etl-job", "role": "viewer"}, headers=tenant_a.admin)
    assert created.status_code == 201
    key = created.json()["key"]
    assert client.get("/api/devices", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/api/devices", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    # A viewer key cannot write.
    assert (
        client.post(
            "/api/devices", json={"name": "x1", "type": "cnc_machine_tool"}, headers={"X-API-Key": key}
        ).status_code
        == 403
    )
    listed = client.get("/api/api-keys", headers=tenant_a.admin).json()["items"]
    assert all("secret" not in str(item) and key not in str(item) for item in listed)
    assert client.delete(f"/api/api-keys/{created.json()['id']}", headers=tenant_a.admin).status_code == 204
    assert client.get("/api/devices", headers={"X-API-Key": key}).status_code == 401


def test_tampered_api_key_is_refused(client: TestClient, tenant_a: Tenant) -> None:
    key = client.post("/api/api-keys", json={"name": "tamper"}, headers=tenant_a.admin).json()["key"]
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert client.get("/api/devices", headers={"X-API-Key": forged}).status_code == 401


def test_device_token_writes_only_its_own_telemetry(client: TestClient, tenant_a: Tenant) -> None:
    auth = tenant_a.device_auth
    ok = client.post("/api/telemetry", json={"values": {"spindle_speed": 100}}, headers=auth)
    assert ok.status_code == 200 and ok.json()["accepted"] == 1
    other = client.post(
        "/api/devices", json={"name": "cnc-other", "type": "cnc_machine_tool"}, headers=tenant_a.engineer
    ).json()
    foreign = client.post(
        "/api/telemetry", json={"device": other["name"], "values": {"spindle_speed": 1}}, headers=auth
    )
    assert foreign.json()["accepted"] == 0
    assert foreign.json()["rejected"][0]["reason"] == "unknown_device"
    # A device token is not a user: it cannot browse the registry.
    assert client.get("/api/devices", headers=auth).status_code == 403


def test_viewer_cannot_write_and_engineer_cannot_manage_users(client: TestClient, tenant_a: Tenant) -> None:
    body = {"name": "viewer-made", "type": "cnc_machine_tool"}
    assert client.post("/api/devices", json=body, headers=tenant_a.viewer).status_code == 403
    user = {"email": "x@example.cn", "password": "long enough pw", "role": "admin"}
    assert client.post("/api/users", json=user, headers=tenant_a.engineer).status_code == 403


def test_disabled_user_loses_access_at_once(client: TestClient, tenant_a: Tenant) -> None:
    email = f"temp-{time.time_ns()}@example.cn"
    created = client.post(
        "/api/users", json={"email": email, "password": PASSWORD, "role": "viewer"}, headers=tenant_a.admin
    ).json()
    token = client.post("/api/auth/token", data={"username": email, "password": PASSWORD}).json()[
        "access_token"
    ]
    assert _me(client, token) == 200
    client.patch(f"/api/users/{created['id']}", json={"disabled": True}, headers=tenant_a.admin)
    assert _me(client, token) == 401


def test_problem_details_follow_accept_language(client: TestClient, tenant_a: Tenant) -> None:
    body = {"username": tenant_a.emails["admin"], "password": "wrong password!"}
    zh = client.post("/api/auth/token", data=body, headers={"Accept-Language": "zh-CN,zh;q=0.9"}).json()
    assert zh["title"] == "认证失败"
    assert zh["detail"].startswith("邮箱或密码错误")
    en = client.post("/api/auth/token", data=body, headers={"Accept-Language": "en-US"}).json()
    assert (en["title"], en["detail"]) == ("Authentication failed", "Wrong e-mail or password.")
