"""``indunet serve --role``: split roles need the NATS bus and say so instead of starting half a system."""

from __future__ import annotations

from pathlib import Path

import pytest

from indunet.cli import main


@pytest.mark.parametrize("role", ["transport", "writer", "rules"])
def test_a_split_role_without_a_bus_exits_2(
    role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("INDUNET_BUS_URL", "INDUNET_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INDUNET_DATA_DIR", str(tmp_path))
    assert main(["serve", "--role", role]) == 2
    assert "bus" in capsys.readouterr().err


def test_an_unknown_bus_scheme_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INDUNET_BUS_URL", "kafka://127.0.0.1:9092")
    assert main(["serve", "--role", "writer"]) == 2
    assert "bus_url" in capsys.readouterr().err
