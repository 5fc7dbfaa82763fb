"""The ``indunet`` command, run in-process against a data directory of its own."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.helpers import PASSWORD

from indunet.cli import main
from indunet.core.config import Settings
from indunet.platform.runtime import Platform
from indunet.web.app import create_app

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment: no settings from the developer's shell or a stray indunet.toml."""
    for key in list(os.environ):
        if key.startswith("INDUNET_") or key in ("LANG", "LC_ALL"):
            monkeypatch.delenv(key)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    data = tmp_path / "data"
    monkeypatch.setenv("INDUNET_DATA_DIR", str(data))
    monkeypatch.setenv("INDUNET_LANGUAGE", "en")
    return data


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one command; argparse's own exits count as exit codes too."""
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def acme(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A migrated data directory with tenant acme."""
    assert run(capsys, "db", "upgrade")[0] == 0
    assert run(capsys, "tenant", "add", "acme")[0] == 0
    return data_dir


@pytest.fixture
def api(acme: Path) -> Iterator[TestClient]:
    """The API of a platform opened on the CLI's data directory, as `indunet serve` would."""
    platform = Platform(Settings(data_dir=acme))
    with TestClient(create_app(platform)) as client:
        yield client
    platform.close()


def test_db_upgrade_is_idempotent(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        code, out, err = run(capsys, "db", "upgrade")
        assert (code, err) == (0, "")
        assert "up to date" in out and str(data_dir / "indunet.db") in out
    assert (data_dir / "indunet.db").exists() and (data_dir / "timeseries.db").exists()


def test_tenant_add_and_list(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "tenant", "add", "globex", "--display-name", "Globex Corp", "--retention-days", "30"
    )
    assert code == 0 and "globex" in out
    code, out, _ = run(capsys, "tenant", "list")
    lines = sorted(line.split("\t") for line in out.splitlines())
    assert [(row[0], row[2], row[3]) for row in lines] == [
        ("acme", "acme", "365d"),
        ("globex", "Globex Corp", "30d"),
    ]


def test_duplicate_tenant_exits_2(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "tenant", "add", "acme")
    assert code == 2
    assert out == ""
    assert err.startswith("indunet: ") and "acme" in err


@pytest.mark.parametrize("name", ["Acme", "has space", "_x", "a.b", "a" * 65])
def test_bad_tenant_name_exits_2(acme: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, _, err = run(capsys, "tenant", "add", name)
    assert code == 2 and err.startswith("indunet: ")


def test_added_user_can_log_in(acme: Path, capsys: pytest.CaptureFixture[str], api: TestClient) -> None:
    code, out, err = run(
        capsys, "user", "add", "a@b.cn", "--tenant", "acme", "--role", "admin", "--password", PASSWORD
    )
    assert (code, err) == (0, "")
    assert "a@b.cn" in out and "admin" in out
    token = api.post("/api/auth/token", data={"username": "a@b.cn", "password": PASSWORD})
    assert token.status_code == 200, token.text
    me = api.get("/api/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}).json()
    assert (me["user"]["role"], me["tenant"]["name"]) == ("admin", "acme")
    wrong = api.post("/api/auth/token", data={"username": "a@b.cn", "password": "not " + PASSWORD})
    assert wrong.status_code == 401


def test_password_from_the_environment(
    acme: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, api: TestClient
) -> None:
    monkeypatch.setenv("INDUNET_PASSWORD", PASSWORD)
    assert run(capsys, "user", "add", "env@b.cn", "--tenant", "acme")[0] == 0
    response = api.post("/api/auth/token", data={"username": "env@b.cn", "password": PASSWORD})
    assert response.status_code == 200


def test_user_add_without_a_password_exits_2(
    acme: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: nobody to ask
    code, out, err = run(capsys, "user", "add", "nopw@b.cn", "--tenant", "acme")
    assert (code, out) == (2, "")
    assert "--password" in err and "INDUNET_PASSWORD" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("user", "add", "x@b.cn", "--tenant", "acme", "--role", "superuser", "--password", PASSWORD),
        ("user", "add", "not-an-email", "--tenant", "acme", "--password", PASSWORD),
        ("user", "add", "x@b.cn", "--tenant", "acme", "--password", "short"),
        ("user", "add", "x@b.cn", "--tenant", "nobody", "--password", PASSWORD),
        ("user", "add", "x@b.cn", "--password", PASSWORD),
    ],
    ids=["bad-role", "bad-email", "short-password", "unknown-tenant", "no-tenant"],
)
def test_bad_user_add_exits_2(
    acme: Path, capsys: pytest.CaptureFixture[str], api: TestClient, argv: tuple[str, ...]
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err and "Traceback" not in err
    assert api.post("/api/auth/token", data={"username": "x@b.cn", "password": PASSWORD}).status_code == 401


def test_duplicate_user_exits_2(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("user", "add", "dup@b.cn", "--tenant", "acme", "--password", PASSWORD)
    assert run(capsys, *argv)[0] == 0
    code, _, err = run(capsys, *argv)
    assert code == 2 and "dup@b.cn" in err


def test_device_add_prints_a_working_token(
    acme: Path, capsys: pytest.CaptureFixture[str], api: TestClient
) -> None:
    code, out, err = run(capsys, "device", "add", "cnc-9", "--type", "cnc_machine_tool", "--tenant", "acme")
    assert (code, err) == (0, "")
    token = out.strip()
    assert re.fullmatch(r"dev_[0-9a-f]{32}_[A-Za-z0-9_-]+", token)
    sent = api.post(
        "/api/telemetry", json={"spindle_speed": 1234}, headers={"Authorization": f"Bearer {token}"}
    )
    assert sent.json()["accepted"] == 1
    again = run(capsys, "device", "add", "cnc-9", "--type", "cnc_machine_tool", "--tenant", "acme")
    assert again[0] == 2 and "cnc-9" in again[2]


@pytest.mark.parametrize(
    "argv",
    [
        ("device", "add", "cnc-9", "--type", "cnc_machine_tool", "--tenant", "nobody"),
        ("device", "add", "cnc 9", "--type", "cnc_machine_tool", "--tenant", "acme"),
        ("device", "add", "cnc-9", "--type", "no_such_type", "--tenant", "acme"),
    ],
    ids=["unknown-tenant", "bad-name", "unknown-type"],
)
def test_bad_device_add_exits_2(
    acme: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("indunet: ")


def test_chinese_messages(
    acme: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDUNET_LANGUAGE", "zh-CN")
    code, out, _ = run(capsys, "tenant", "add", "initech")
    assert code == 0 and "已新增租户 initech" in out
    code, out, _ = run(capsys, "user", "add", "zh@b.cn", "--tenant", "initech", "--password", PASSWORD)
    assert code == 0 and "已将用户 zh@b.cn" in out
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and "数据库结构已是最新" in out
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "管理租户" in out


@pytest.mark.parametrize(
    "argv",
    [
        ("tenant", "add", "acme"),
        ("user", "add", "nobody@b.cn", "--tenant", "nobody", "--password", PASSWORD),
        ("device", "add", "cnc-9", "--type", "cnc_machine_tool", "--tenant", "nobody"),
        ("user", "add", "not-an-email", "--tenant", "acme", "--password", PASSWORD),
    ],
    ids=["duplicate-tenant", "unknown-tenant-user", "unknown-tenant-device", "bad-email"],
)
def test_chinese_error_messages(
    acme: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...]
) -> None:
    monkeypatch.setenv("INDUNET_LANGUAGE", "zh-CN")
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert CJK.search(err), f"not in Chinese: {err!r}"


def test_bad_configuration_exits_2(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDUNET_PORT", "not-a-port")
    code, _, err = run(capsys, "tenant", "list")
    assert code == 2 and "port" in err
    code, _, err = run(capsys, "--config", str(data_dir / "missing.toml"), "tenant", "list")
    assert code == 2 and "missing.toml" in err


def test_console_script_help() -> None:
    script = Path(sys.executable).parent / "indunet"
    result = subprocess.run(
        [str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "INDUNET_LANGUAGE": "en"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: indunet")
    for command in ("serve", "demo", "db", "tenant", "user", "device", "retention"):
        assert command in result.stdout


def test_commands_before_db_upgrade_fail_with_a_message(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An operator who forgot `indunet db upgrade` gets a one-line error, not a SQLAlchemy traceback.
    code, out, err = run(capsys, "tenant", "add", "acme")
    assert code != 0 and out == ""
    assert err.startswith("indunet: ")
    assert "indunet db upgrade" in err
