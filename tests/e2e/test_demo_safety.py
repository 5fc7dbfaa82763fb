"""``indunet demo``'s hazardous-chemicals site: three units graded by GB 18218-2018, the instruments bound
as monitoring points, a month of closed incidents, and the scheduled LPG leak at sphere T-201 raising a
warning (its climb to red is timed in tests/apps/safety/test_tank_farm_warnings.py)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from indunet.demo_safety import ENTERPRISE

DEADLINE_S = 600  # the first leak starts half a minute after the site registers


def _get(base_url: str, headers: dict[str, str], path: str, **params: Any) -> Any:
    response = httpx.get(f"{base_url}{path}", params=params, headers=headers, timeout=30)
    response.raise_for_status()
    return response.json()


def test_the_demo_site_warns_of_the_lpg_leak(live_server: tuple[str, str, str, str]) -> None:
    base_url, email, password, _device = live_server
    token = httpx.post(f"{base_url}/api/auth/token", data={"username": email, "password": password}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    deadline = time.monotonic() + DEADLINE_S
    while True:
        # The site registers a little after the server answers: until then the demo has no units.
        units = [
            u for u in _get(base_url, headers, "/api/safety/units")["items"] if u["enterprise"] == ENTERPRISE
        ]
        lpg = next((u for u in units if u["name"] == "tank-area-B"), None)
        if lpg is not None and lpg["warning"] is not None and lpg["warning"]["condition_level"] is not None:
            break
        assert time.monotonic() < deadline, f"units {[(u['name'], u['warning']) for u in units]}"
        time.sleep(5)
    grades = {u["name"]: (u["major"], u["level"]) for u in units}
    assert grades == {"tank-area-A": (True, 3), "tank-area-B": (True, 2), "reactor-area": (False, None)}
    points = _get(base_url, headers, "/api/safety/points", unit="tank-area-B")["items"]
    assert {p["device"] for p in points} >= {"GD-B01", "GD-B02", "TD-B01", "T-201", "T-301"}
    warning = _get(base_url, headers, f"/api/safety/warnings/{lpg['warning']['number']}")
    assert {r["point"] for r in warning["reasons"] if "point" in r} & {
        "GD-B01/concentration",
        "GD-B02/concentration",
    }
    closed = _get(base_url, headers, "/api/safety/warnings", status="closed")
    assert closed["total"] >= 7  # the month of history
