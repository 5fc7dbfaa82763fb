"""Alarm rule templates of a monitoring point: the standard's set-points as ordinary platform rules.

A gas point gets two rules: the first-level alarm (severity major) at the first set-point and the
second-level alarm (critical) at the second, as GB/T 50493-2019 asks of combustible gas (25 % and 50 %
LEL) and toxic gas (100 % and 200 % of the occupational exposure limit). A process point gets one rule
per limit it has: high and low (major), high-high and low-low (critical). The rules are inclusive (a
reading that reaches the set-point raises), fire at once (no delay: the standards count from the first
reading) and clear 5 % of the set-point below it so a reading hovering at the limit does not flap.
"""

from __future__ import annotations

from indunet.apps.safety.assess import GAS, Limits
from indunet.platform.rules import RuleSpec, Severity, create_rule, delete_rule
from indunet.platform.rules.model import Threshold
from indunet.platform.runtime import DeviceRef, Platform
from indunet.security import Principal

HYSTERESIS = 0.05

_LABELS = {
    "high": ("high", Severity.MAJOR),
    "high_high": ("high-high", Severity.CRITICAL),
    "low": ("low", Severity.MAJOR),
    "low_low": ("low-low", Severity.CRITICAL),
}


def rule_specs(device: DeviceRef, point: str, kind: str, limits: Limits, unit: str) -> list[RuleSpec]:
    specs: list[RuleSpec] = []
    for field, limit in limits.to_dict().items():
        if limit is None:
            continue
        label, severity = _LABELS[field]
        if kind in GAS:
            label = "gas alarm 1" if field == "high" else "gas alarm 2"
        bound = {"high": limit} if field.startswith("high") else {"low": limit}
        specs.append(
            RuleSpec(
                name=f"{unit} {device.name}/{point} {label}"[:128],
                description=f"Safety monitoring of {unit}: {kind} {label} at {limit:g}",
                type=device.type_name,
                device=device.id,
                severity=severity,
                condition=Threshold(
                    kind="threshold",
                    point=point,
                    hysteresis=abs(limit) * HYSTERESIS,
                    inclusive=True,
                    **bound,
                ),
            )
        )
    return specs


def create_rules(
    platform: Platform,
    principal: Principal,
    device: DeviceRef,
    point: str,
    kind: str,
    limits: Limits,
    unit: str,
) -> list[str]:
    created: list[str] = []
    try:
        for spec in rule_specs(device, point, kind, limits, unit):
            created.append(create_rule(platform, principal, spec)["id"])
    except Exception:
        # All of a point's rules or none: a half-made pair would alarm at one set-point only.
        for rule_id in created:
            delete_rule(platform, principal, rule_id)
        raise
    return created
