"""ThingsBoard device provisioning: a provision key and secret buy a new device and its access token.

A client connects with user name ``provision``, publishes ``{"deviceName", "provisionDeviceKey",
"provisionDeviceSecret"}`` to ``/provision/request`` and is answered on ``/provision/response``. Keys are
configured per tenant and device type (``Settings.mqtt_provisioning``); secrets are compared in
constant time, and an unknown key and a wrong secret get the same answer so keys cannot be probed.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from indunet.core.errors import IndunetError
from indunet.platform.devices import create_device
from indunet.platform.runtime import Platform
from indunet.platform.tenants import get_tenant_by_name
from indunet.security import Principal

USERNAME = "provision"
REQUEST = "/provision/request"
RESPONSE = "/provision/response"


def _failure(message: str) -> dict[str, Any]:
    return {"status": "FAILURE", "errorMsg": message}


def provision(platform: Platform, payload: bytes) -> dict[str, Any]:
    """The ``/provision/response`` document for one request; never raises for a bad request."""
    try:
        request = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _failure("the request is not JSON")
    if not isinstance(request, dict):
        return _failure("the request must be an object")
    name, key, secret = (
        request.get(k) for k in ("deviceName", "provisionDeviceKey", "provisionDeviceSecret")
    )
    if not all(isinstance(v, str) and v for v in (name, key, secret)):
        return _failure("deviceName, provisionDeviceKey and provisionDeviceSecret are required")
    assert isinstance(name, str) and isinstance(key, str) and isinstance(secret, str)
    profile = platform.settings.mqtt_provisioning.get(key)
    expected = profile.secret if profile is not None else ""
    # Compared even for an unknown key, so the answer's timing does not tell which keys exist.
    if not hmac.compare_digest(expected.encode(), secret.encode()) or profile is None:
        return _failure("provision key and secret do not match")
    try:
        tenant = get_tenant_by_name(platform, profile.tenant)
        principal = Principal.system(tenant["id"], label=f"provision:{key[:64]}")
        device = create_device(platform, principal, name, profile.type)
    except IndunetError as exc:
        return _failure(exc.message)
    return {"status": "SUCCESS", "credentialsType": "ACCESS_TOKEN", "credentialsValue": device["token"]}
