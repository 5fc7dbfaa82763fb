"""Prognostics and health management: run-to-failure histories, health features, remaining-useful-life
models with prediction intervals, and their evaluation by the measures of the field."""

WRITTEN_POINTS = frozenset({"phm_anomaly", "rul", "rul_lower", "rul_upper", "health"})
"""Points the platform's PHM monitor writes for a device; no device or simulator sends them."""
