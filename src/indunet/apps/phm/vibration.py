"""Condition indicators of a vibration waveform, pure functions over sample arrays (no I/O), for the
edge or the platform alike.

- Overall level: RMS velocity in the 10–1000 Hz band of ISO 10816 / ISO 20816, integrated from
  acceleration in the frequency domain (v(f) = a(f) / 2πf), the number the standard's zones judge.
- Shape of the time signal: peak, crest factor (peak / RMS) and kurtosis (fourth standardised moment,
  3 for Gaussian noise, 1.5 for a pure tone): both rise when a bearing defect strikes impulses into an
  otherwise smooth signal, long before the RMS grows.
- Band energies from the spectrum: the share of the signal's energy in each band, so a growing band
  (1× running speed: unbalance; 2×: misalignment; high frequencies: bearings, lubrication) stands out.
  The bands' energies add up to the signal's (Parseval), so nothing is counted twice or lost.
- Envelope spectrum: the spectrum of the amplitude envelope (Hilbert transform) of a high-pass band,
  where a bearing defect shows at its characteristic frequency (BPFO, BPFI, BSF, FTF from the bearing's
  geometry) instead of being smeared across the resonances it excites.

Every function refuses what it cannot judge (too short, not finite, a sampling rate that does not
reach the band) with ``VibrationError``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_SAMPLES = 1 << 20
MIN_SAMPLES = 64
ISO_BAND_HZ = (10.0, 1000.0)


class VibrationError(ValueError):
    """A waveform or request these indicators cannot be computed from."""


def _checked(samples: Sequence[float] | np.ndarray, fs: float) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1 or not MIN_SAMPLES <= len(x) <= MAX_SAMPLES:
        raise VibrationError(f"a waveform is one array of {MIN_SAMPLES} to {MAX_SAMPLES:,} samples")
    if not np.isfinite(x).all():
        raise VibrationError("samples must be finite numbers")
    if not (math.isfinite(fs) and 0 < fs <= 1e7):
        raise VibrationError("the sampling rate must be above 0 and at most 10 MHz")
    return x


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def crest_factor(samples: Sequence[float] | np.ndarray, fs: float = 1.0) -> float:
    x = _checked(samples, fs)
    x = x - x.mean()
    level = rms(x)
    return float(np.max(np.abs(x)) / level) if level > 0 else 0.0


def kurtosis(samples: Sequence[float] | np.ndarray, fs: float = 1.0) -> float:
    """Pearson's kurtosis (3 for Gaussian noise); 0 for a constant signal."""
    x = _checked(samples, fs)
    x = x - x.mean()
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak == 0:
        return 0.0
    # Kurtosis does not depend on scale; scaling to the peak keeps x**4 from underflowing to zero on a
    # signal of tiny amplitude (0/0 would be NaN).
    x = x / peak
    variance = float(np.mean(x**2))
    return float(np.mean(x**4) / variance**2) if variance > 0 else 0.0


def band_energies(samples: Sequence[float] | np.ndarray, fs: float, edges: Sequence[float]) -> list[float]:
    """Mean-square energy of the (mean-removed) signal in each band ``[edges[i], edges[i+1])`` Hz; the
    bands from 0 to ``fs/2`` together hold all of it."""
    x = _checked(samples, fs)
    bounds = np.asarray(edges, dtype=np.float64)
    if len(bounds) < 2 or np.any(np.diff(bounds) <= 0) or bounds[0] < 0:
        raise VibrationError("band edges must be at least two growing frequencies from 0 Hz up")
    power, freqs = _power(x - x.mean(), fs)
    # The Nyquist bin closes the last band when that band ends at fs/2.
    upper = np.where(bounds[1:] >= fs / 2, np.inf, bounds[1:])
    return [
        float(power[(freqs >= lo) & (freqs < hi)].sum()) for lo, hi in zip(bounds[:-1], upper, strict=True)
    ]


def _power(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided power per frequency bin, scaled so that it sums to mean(x²) (Parseval)."""
    n = len(x)
    spectrum = np.fft.rfft(x)
    power = np.abs(spectrum) ** 2 / n**2
    power[1:] *= 2
    if n % 2 == 0:
        power[-1] /= 2  # the Nyquist bin has no mirror image
    return power, np.fft.rfftfreq(n, 1.0 / fs)


def velocity_rms(
    acceleration: Sequence[float] | np.ndarray, fs: float, band: tuple[float, float] = ISO_BAND_HZ
) -> float:
    """RMS vibration velocity in mm/s within ``band`` Hz, from acceleration in m/s²."""
    x = _checked(acceleration, fs)
    low, high = band
    if not 0 < low < high or high > fs / 2:
        raise VibrationError(f"the band {low:g}-{high:g} Hz must lie above 0 and below half of {fs:g} Hz")
    power, freqs = _power(x - x.mean(), fs)
    inside = (freqs >= low) & (freqs <= high)
    velocity_power = power[inside] / (2 * np.pi * freqs[inside]) ** 2
    return float(np.sqrt(velocity_power.sum()) * 1000.0)


def envelope_spectrum(
    samples: Sequence[float] | np.ndarray, fs: float, highpass_hz: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, amplitude) of the envelope of the signal above ``highpass_hz`` (FFT band-pass,
    then the analytic signal's magnitude)."""
    x = _checked(samples, fs)
    n = len(x)
    spectrum = np.fft.fft(x - x.mean())
    freqs = np.fft.fftfreq(n, 1.0 / fs)
    # The analytic signal: positive frequencies doubled, negative ones dropped, DC and those below the
    # high-pass removed.
    keep = freqs > max(highpass_hz, 0.0)
    analytic = np.fft.ifft(np.where(keep, 2 * spectrum, 0))
    envelope = np.abs(analytic)
    envelope -= envelope.mean()
    amplitude = np.abs(np.fft.rfft(envelope)) * 2 / n
    return np.fft.rfftfreq(n, 1.0 / fs), amplitude


@dataclass(frozen=True)
class Bearing:
    """Rolling-element bearing geometry: balls, ball and pitch diameters, contact angle (degrees)."""

    balls: int
    ball_mm: float
    pitch_mm: float
    contact_deg: float = 0.0

    def frequencies(self, shaft_hz: float) -> dict[str, float]:
        """Defect frequencies at a shaft speed: outer race (BPFO), inner race (BPFI), ball spin
        (BSF) and cage (FTF)."""
        ratio = self.ball_mm / self.pitch_mm * math.cos(math.radians(self.contact_deg))
        return {
            "bpfo": self.balls / 2 * shaft_hz * (1 - ratio),
            "bpfi": self.balls / 2 * shaft_hz * (1 + ratio),
            "bsf": self.pitch_mm / (2 * self.ball_mm) * shaft_hz * (1 - ratio**2),
            "ftf": shaft_hz / 2 * (1 - ratio),
        }


def defect_amplitude(
    freqs: np.ndarray, amplitude: np.ndarray, target_hz: float, tolerance: float = 0.02
) -> float:
    """The envelope spectrum's largest amplitude within ±``tolerance`` (relative) of ``target_hz``."""
    near = np.abs(freqs - target_hz) <= max(
        tolerance * target_hz, freqs[1] - freqs[0] if len(freqs) > 1 else 0
    )
    return float(amplitude[near].max()) if near.any() else 0.0


def indicators(
    acceleration: Sequence[float] | np.ndarray,
    fs: float,
    shaft_hz: float | None = None,
    bearing: Bearing | None = None,
) -> dict[str, float]:
    """The usual condition indicators of one acceleration waveform (m/s²), ready to store as points."""
    x = _checked(acceleration, fs)
    found = {
        "acceleration_rms": rms(x - x.mean()),
        "peak": float(np.max(np.abs(x - x.mean()))),
        "crest_factor": crest_factor(x, fs),
        "kurtosis": kurtosis(x, fs),
    }
    if fs / 2 > ISO_BAND_HZ[1]:
        found["velocity_rms"] = velocity_rms(x, fs)
    if shaft_hz is not None and bearing is not None:
        freqs, amplitude = envelope_spectrum(x, fs, highpass_hz=min(fs / 4, 20 * shaft_hz))
        for name, hz in bearing.frequencies(shaft_hz).items():
            if hz < fs / 2:
                found[f"envelope_{name}"] = defect_amplitude(freqs, amplitude, hz)
    return found
