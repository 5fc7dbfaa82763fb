"""Vibration waveforms in, condition indicators out: a device (or its gateway) posts one acceleration
waveform, and what vibration.py computes from it is stored as the device's telemetry, checked against
its type like any other point.

The waveform itself is not kept: a few seconds at tens of kHz is megabytes a reading, and the
indicators are what trends, rules, anomaly detectors and RUL models use. The overall level, RMS
velocity in the 10–1000 Hz band (ISO 10816 / 20816), goes to the named point itself (``vibration`` of
a pump, in mm/s); every other indicator to ``<point>_<indicator>`` (``vibration_kurtosis``,
``vibration_envelope_bpfo``, …). Indicators the type has no point for are computed and returned but
not stored, and the answer says which.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from indunet.apps.phm import vibration
from indunet.core.errors import InvalidInput
from indunet.core.timeutil import now_us, parse_timestamp, to_rfc3339
from indunet.platform import telemetry
from indunet.platform.devices import resolve
from indunet.platform.devicetypes import load_type
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal

MAX_SAMPLES = 65_536
STANDARD_GRAVITY = 9.80665


class BearingSpec(BaseModel):
    model_config = {"extra": "forbid"}
    balls: int = Field(ge=3, le=100)
    ball_mm: float = Field(gt=0, le=1000)
    pitch_mm: float = Field(gt=0, le=10_000)
    contact_deg: float = Field(default=0.0, ge=0, lt=90)


class WaveformSpec(BaseModel):
    model_config = {"extra": "forbid"}
    device: str | None = Field(default=None, min_length=1, max_length=128)
    point: str = Field(min_length=1, max_length=48, pattern=r"^[a-z][a-z0-9_]*$")
    ts: float | str | None = None
    fs: float = Field(gt=0, le=1_000_000, description="samples per second")
    unit: Literal["m/s2", "g"] = "m/s2"
    samples: list[float] = Field(min_length=vibration.MIN_SAMPLES, max_length=MAX_SAMPLES)
    shaft_hz: float | None = Field(default=None, gt=0, le=2000)
    bearing: BearingSpec | None = None


def ingest(platform: Platform, principal: Principal, spec: WaveformSpec) -> dict[str, Any]:
    """Compute the waveform's indicators and store those its device's type has points for."""
    principal.require(Permission.WRITE_TELEMETRY)
    key = spec.device or principal.device_id
    if key is None:
        raise InvalidInput("name the device", key="error.waveform_device")
    device = resolve(platform, principal.tenant_id, key)
    scale = STANDARD_GRAVITY if spec.unit == "g" else 1.0
    bearing = vibration.Bearing(**spec.bearing.model_dump()) if spec.bearing else None
    try:
        found = vibration.indicators([s * scale for s in spec.samples], spec.fs, spec.shaft_hz, bearing)
    except vibration.VibrationError as exc:
        raise InvalidInput(
            f"cannot judge this waveform: {exc}", key="error.waveform", reason=str(exc)
        ) from None
    device_type = load_type(platform, principal.tenant_id, device.type_name)
    stored: dict[str, float] = {}
    skipped: list[str] = []
    for name, value in found.items():
        point = spec.point if name == "velocity_rms" else f"{spec.point}_{name}"
        if device_type.point(point) is None:
            skipped.append(point)
        else:
            stored[point] = round(value, 6)
    ts = now_us() if spec.ts is None else parse_timestamp(spec.ts)
    result = telemetry.IngestResult()
    if stored:
        result = telemetry.ingest(platform, principal, [{"device": device.id, "ts": ts, "values": stored}])
    return {
        "device": device.id,
        "ts": to_rfc3339(ts),
        "indicators": found,
        "stored": sorted(stored),
        "skipped": skipped,
        "rejected": result.rejected,
    }
