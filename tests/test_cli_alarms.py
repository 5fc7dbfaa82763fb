"""``indunet alarms list|ack`` against a data directory whose rule engine has raised an alarm."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.test_cli import acme, data_dir, run  # noqa: F401 - fixtures

from indunet.core.config import load_settings
from indunet.platform import devices, rules, telemetry, tenants
from indunet.platform.runtime import Platform
from indunet.security import Principal


@pytest.fixture
def raised(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811 - fixture imported above
    """Tenant acme with an open alarm on its device cnc-01."""
    assert run(capsys, "device", "add", "cnc-01", "--type", "cnc_machine_tool", "--tenant", "acme")[0] == 0
    platform = Platform(load_settings())
    engine = rules.RuleEngine(platform)
    engine.start()
    try:
        tenant = tenants.get_tenant_by_name(platform, "acme")
        admin = Principal.system(tenant["id"])
        rules.create_rule(
            platform,
            admin,
            rules.parse_spec(
                {
                    "name": "overload",
                    "type": "cnc_machine_tool",
                    "severity": "critical",
                    "condition": {"kind": "threshold", "point": "spindle_load", "high": 90},
                }
            ),
        )
        device = devices.resolve(platform, tenant["id"], "cnc-01")
        telemetry.ingest(platform, admin, [{"device": device.id, "values": {"spindle_load": 99}}])
        assert engine.wait_idle()
    finally:
        engine.stop()
        platform.close()


def test_list_and_acknowledge(raised: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "alarms", "list", "--tenant", "acme", "--status", "active")
    assert code == 0
    [line, summary] = out.strip().splitlines()
    alarm_id, status, severity, device, name = line.split("\t")[:5]
    assert (status, severity, device, name) == ("active", "critical", "cnc-01", "overload")
    assert summary == "1 of 1 alarms"

    code, out, _ = run(capsys, "alarms", "ack", alarm_id, "--tenant", "acme")
    assert code == 0 and "acknowledged" in out
    assert (
        run(capsys, "alarms", "list", "--tenant", "acme", "--status", "active")[1].strip() == "0 of 0 alarms"
    )
    # Twice is a conflict, reported with exit code 2.
    code, _, err = run(capsys, "alarms", "ack", alarm_id, "--tenant", "acme")
    assert code == 2 and "acknowledged already" in err


def test_unknown_alarm_and_bad_status(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    code, _, err = run(capsys, "alarms", "ack", "no-such-alarm", "--tenant", "acme")
    assert code == 2 and "alarm" in err.lower()
    assert run(capsys, "alarms", "list", "--tenant", "acme", "--status", "bogus")[0] == 2


def test_messages_in_chinese(
    raised: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDUNET_LANGUAGE", "zh-CN")
    code, out, _ = run(capsys, "alarms", "list", "--tenant", "acme")
    assert code == 0 and "共 1 条告警" in out
