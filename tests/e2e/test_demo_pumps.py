"""``indunet demo``'s pump fleet: cooling-water pumps wear out, the remaining-useful-life model trained at
start-up goes into production, and each pump's predictions with their interval arrive as telemetry."""

from __future__ import annotations

import time
from typing import Any

import httpx

from indunet.demo_phm import MODEL, PUMPS

DEADLINE_S = 420  # the model is trained on two busy cores while the rest of the demo runs


def _get(base_url: str, headers: dict[str, str], path: str, **params: Any) -> Any:
    response = httpx.get(f"{base_url}{path}", params=params, headers=headers, timeout=30)
    response.raise_for_status()
    return response.json()


def test_the_demo_pumps_get_predictions_from_the_production_model(
    live_server: tuple[str, str, str, str],
) -> None:
    base_url, email, password, _device = live_server
    token = httpx.post(f"{base_url}/api/auth/token", data={"username": email, "password": password}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    deadline = time.monotonic() + DEADLINE_S
    while True:
        pumps = _get(base_url, headers, "/api/devices", q="cw-pump-", limit=100)["items"]
        models = _get(base_url, headers, "/api/phm/models", name=MODEL)["items"]
        latest = [_get(base_url, headers, f"/api/telemetry/{p['id']}/latest")["values"] for p in pumps]
        predicted = [v for v in latest if "rul" in v]
        if len(pumps) == PUMPS and len(predicted) == PUMPS:
            break
        assert time.monotonic() < deadline, f"pumps {len(pumps)}, models {models}, predicted {len(predicted)}"
        time.sleep(3)
    assert [m["stage"] for m in models] == ["production"] and models[0]["kind"] == "rul"
    for values in predicted:
        lower, rul, upper = (values[p]["value"] for p in ("rul_lower", "rul", "rul_upper"))
        assert 0 <= lower <= rul <= upper
        assert 0 <= values["health"]["value"] <= 1
        assert values["operating_hours"]["value"] >= 1
