"""Vibration waveforms over REST: a pump's accelerometer posts a waveform, its indicators land as the
pump's points (overall level in ``vibration``, the rest as ``vibration_<indicator>``), those the type has
no point for come back as skipped; a defect's impulses show in the stored kurtosis and BPFO envelope."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.helpers import Tenant, new_tenant

from indunet.core.timeutil import now_us
from indunet.platform import devices
from indunet.platform.runtime import Platform
from indunet.security import Principal

FS = 25_600.0
BEARING = {"balls": 9, "ball_mm": 7.94, "pitch_mm": 39.04}
SHAFT_HZ = 49.3


def waveform(defect: bool, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    n = 16_384
    t = np.arange(n) / FS
    x = 2.0 * np.sin(2 * np.pi * SHAFT_HZ * t) + rng.normal(0, 0.4, n)
    if defect:
        bpfo = 9 / 2 * SHAFT_HZ * (1 - 7.94 / 39.04)
        ring = np.exp(-t[:200] * 1500) * np.sin(2 * np.pi * 6000 * t[:200])
        impulses = np.zeros(n)
        impulses[(np.arange(0, n / FS, 1 / bpfo) * FS).astype(int)] = 6.0
        x += np.convolve(impulses, ring)[:n]
    return [round(float(v), 5) for v in x]


@pytest.fixture
def plant(platform: Platform, client: TestClient) -> Tenant:
    tenant = new_tenant(platform, client, "waves")
    tenant.device = devices.create_device(
        platform, Principal.system(tenant.id), "p-101", "centrifugal_pump", {}
    )
    return tenant


def post(client: TestClient, tenant: Tenant, **body: Any) -> Any:
    return client.post("/api/telemetry/waveforms", json=body, headers=tenant.engineer)


def test_indicators_are_stored_as_the_pump_s_points(client: TestClient, plant: Tenant) -> None:
    ts = now_us() // 1000 - 60_000
    healthy = post(client, plant, device="p-101", point="vibration", ts=ts, fs=FS, samples=waveform(False, 1),
                   shaft_hz=SHAFT_HZ, bearing=BEARING)  # fmt: skip
    worn = post(client, plant, device="p-101", point="vibration", ts=ts + 1000, fs=FS, samples=waveform(True, 2),
                shaft_hz=SHAFT_HZ, bearing=BEARING)  # fmt: skip
    assert healthy.status_code == 200, healthy.text
    first, second = healthy.json(), worn.json()
    assert first["stored"] == ["vibration", "vibration_crest_factor", "vibration_envelope_bpfi",
                               "vibration_envelope_bpfo", "vibration_kurtosis"]  # fmt: skip
    assert set(first["skipped"]) == {"vibration_acceleration_rms", "vibration_peak", "vibration_envelope_bsf",
                                     "vibration_envelope_ftf"}  # fmt: skip
    latest = client.get(f"/api/telemetry/{plant.device['id']}/latest", headers=plant.viewer).json()["values"]
    assert latest["vibration_kurtosis"]["value"] == pytest.approx(second["indicators"]["kurtosis"], rel=1e-5)
    assert second["indicators"]["kurtosis"] > first["indicators"]["kurtosis"] + 1
    assert second["indicators"]["envelope_bpfo"] > 5 * first["indicators"]["envelope_bpfo"]
    # 2 m/s² at 49.3 Hz is 6.46 mm/s peak, 4.57 mm/s RMS: ISO 10816-7 zone C for this pump.
    assert first["indicators"]["velocity_rms"] == pytest.approx(4.57, abs=0.1)


def test_g_units_and_refusals(client: TestClient, plant: Tenant) -> None:
    in_g = [v / 9.80665 for v in waveform(False, 3)]
    answer = post(client, plant, device="p-101", point="vibration", fs=FS, unit="g", samples=in_g)
    assert answer.status_code == 200
    assert answer.json()["indicators"]["velocity_rms"] == pytest.approx(4.57, abs=0.1)
    assert (
        post(client, plant, device="p-101", point="vibration", fs=FS, samples=[0.0] * 10).status_code == 422
    )
    slow = post(client, plant, device="p-101", point="vibration", fs=1000.0, samples=[0.0, 1.0] * 100)
    # Sampled too slowly for the 10-1000 Hz band: no overall level, the shape indicators still.
    assert slow.status_code == 200 and "velocity_rms" not in slow.json()["indicators"]
    assert "vibration" not in slow.json()["stored"] and "vibration_kurtosis" in slow.json()["stored"]
    bad_name = post(client, plant, device="p-101", point="Vibration!", fs=FS, samples=[0.0] * 100)
    assert bad_name.status_code == 422
    viewer = client.post("/api/telemetry/waveforms", json={"device": "p-101", "point": "vibration", "fs": FS,
                                                         "samples": [0.0] * 100}, headers=plant.viewer)  # fmt: skip
    assert viewer.status_code == 403
