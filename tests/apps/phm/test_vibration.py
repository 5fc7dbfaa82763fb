"""Vibration condition indicators against signals whose answers are known: tones, noise and a bearing
with an outer-race defect, plus properties that hold for any signal."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from indunet.apps.phm.vibration import (
    Bearing,
    VibrationError,
    band_energies,
    crest_factor,
    envelope_spectrum,
    indicators,
    kurtosis,
    velocity_rms,
)

FS = 25_600.0
N = 25_600  # one second: 1 Hz bins


def tone(hz: float, amplitude: float, n: int = N, fs: float = FS) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(n) / fs)


def test_a_pure_tone_has_the_textbook_crest_factor_and_kurtosis() -> None:
    x = tone(50.0, 3.0)
    assert crest_factor(x, FS) == pytest.approx(math.sqrt(2), rel=1e-3)
    assert kurtosis(x, FS) == pytest.approx(1.5, rel=1e-3)
    noise = np.random.default_rng(0).normal(0, 1, 200_000)
    assert kurtosis(noise) == pytest.approx(3.0, abs=0.05)


def test_velocity_of_a_tone_is_its_acceleration_over_two_pi_f() -> None:
    """10 m/s² peak at 159.15 Hz is 10 mm/s peak, 7.07 mm/s RMS (ISO 10816's quantity)."""
    hz = 1000 / (2 * math.pi)
    assert velocity_rms(tone(hz, 10.0), FS) == pytest.approx(10 / math.sqrt(2), rel=2e-3)
    # Outside the 10-1000 Hz band it does not count.
    assert velocity_rms(tone(3000.0, 10.0), FS) < 0.01


def test_band_energies_find_the_band_that_grew() -> None:
    x = tone(25.0, 1.0) + tone(50.0, 0.2) + tone(4000.0, 0.5)
    low, second, high = band_energies(x, FS, [0, 40, 200, FS / 2])
    assert low == pytest.approx(0.5, rel=1e-3) and second == pytest.approx(0.02, rel=1e-3)
    assert high == pytest.approx(0.125, rel=1e-3)


def test_an_outer_race_defect_shows_at_bpfo_in_the_envelope_and_in_the_kurtosis() -> None:
    """Impulses at BPFO exciting a 6 kHz resonance, under shaft-speed vibration and noise."""
    rng = np.random.default_rng(1)
    bearing = Bearing(balls=9, ball_mm=7.94, pitch_mm=39.04)  # a 6205 deep-groove ball bearing
    shaft_hz = 29.95
    bpfo = bearing.frequencies(shaft_hz)["bpfo"]
    t = np.arange(N) / FS
    healthy = tone(shaft_hz, 1.0) + rng.normal(0, 0.3, N)
    ring = np.exp(-t[:200] * 1500) * np.sin(2 * np.pi * 6000 * t[:200])
    impulses = np.zeros(N)
    impulses[(np.arange(0, 1, 1 / bpfo) * FS).astype(int)] = 4.0
    faulty = healthy + np.convolve(impulses, ring)[:N]
    before = indicators(healthy, FS, shaft_hz, bearing)
    after = indicators(faulty, FS, shaft_hz, bearing)
    assert bpfo == pytest.approx(107.4, abs=0.2)
    assert after["kurtosis"] > before["kurtosis"] + 1
    assert after["envelope_bpfo"] > 5 * before["envelope_bpfo"]
    assert after["envelope_bpfo"] > 3 * after["envelope_bpfi"]
    freqs, amplitude = envelope_spectrum(faulty, FS, highpass_hz=2000)
    assert abs(freqs[np.argmax(amplitude[5:]) + 5] - bpfo) < 1.5


@settings(max_examples=80, deadline=None)
@given(hnp.arrays(np.float64, st.integers(64, 2048), elements=st.floats(-1e3, 1e3)), st.floats(100, 50_000))
def test_bands_from_zero_to_nyquist_hold_all_the_energy(x: np.ndarray, fs: float) -> None:
    edges = [0.0, fs / 7, fs / 3, fs / 2]
    total = float(np.mean((x - x.mean()) ** 2))
    assert sum(band_energies(x, fs, edges)) == pytest.approx(total, rel=1e-9, abs=1e-9)
    assert crest_factor(x, fs) >= 0 and kurtosis(x, fs) >= 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: kurtosis(np.zeros(10)), "64 to"),
        (lambda: crest_factor([math.nan] * 100), "finite"),
        (lambda: band_energies(np.zeros(100), 1000.0, [10.0]), "band edges"),
        (lambda: velocity_rms(np.zeros(1000), 1000.0), "half of 1000"),
        (lambda: kurtosis(np.zeros(100), fs=0.0), "sampling rate"),
    ],
)
def test_what_cannot_be_judged_is_refused(call: object, message: str) -> None:
    with pytest.raises(VibrationError, match=message):
        call()  # type: ignore[operator]
