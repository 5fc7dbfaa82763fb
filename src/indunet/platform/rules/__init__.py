"""Rules: declarative conditions on device telemetry that raise and clear alarms."""

from indunet.platform.rules.engine import RuleEngine
from indunet.platform.rules.evaluate import CompiledRule, Evaluator, Transition
from indunet.platform.rules.expression import Expression
from indunet.platform.rules.model import (
    DEFAULT_TIMEZONE,
    Email,
    Notify,
    RuleSpec,
    Schedule,
    Severity,
    Webhook,
    check_against_type,
    parse_spec,
)
from indunet.platform.rules.service import (
    create_rule,
    delete_rule,
    get_rule,
    list_rules,
    replace_rule,
)

__all__ = [
    "DEFAULT_TIMEZONE",
    "CompiledRule",
    "Email",
    "Evaluator",
    "Expression",
    "Notify",
    "RuleEngine",
    "RuleSpec",
    "Schedule",
    "Severity",
    "Transition",
    "Webhook",
    "check_against_type",
    "create_rule",
    "delete_rule",
    "get_rule",
    "list_rules",
    "parse_spec",
    "replace_rule",
]
