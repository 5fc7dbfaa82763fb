"""``indunet secrets seal|seal-config|rekey`` as an operator uses them: exit codes, what lands in the
files (and what stays), and the gateway loading the result."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml
from tests.edge import configs

from indunet import cli_secrets
from indunet.cli import main
from indunet.core.errors import ConfigurationError
from indunet.edge import config as gateway_config
from indunet.security import sealed
from indunet.security.keyring import Keyring

TOKEN = "dev_0f3c9a1e2b4d4c8e9a7f6b5c4d3e2f10_Jq8s1"
PASSWORD = "s3cret-cnc"
BROKER = "br0ker-pw"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No settings or keyring from the developer's shell, English messages, a clean directory."""
    for key in list(os.environ):
        if key.startswith("INDUNET_") or key in ("LANG", "LC_ALL"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("INDUNET_LANGUAGE", "en")
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)  # restored by pytest's capture
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def _gateway(path: Path, token: str = TOKEN, password: str = PASSWORD, broker: str = BROKER) -> Path:
    path.write_text(configs.commented_gateway(token, password, broker), encoding="utf-8")
    return path


def _ring(path: Path) -> Keyring:
    return Keyring.load(path)


# --- seal ------------------------------------------------------------------------------------------


def test_seal_prints_a_token_and_creates_the_keyring_beside_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "secrets", "seal", "--config", "gateway.yaml", stdin="hunter2\n")
    assert code == 0
    ring_path = tmp_path / "gateway.yaml.keyring.json"
    assert err.startswith("indunet: created the keyring gateway.yaml.keyring.json")
    assert stat.S_IMODE(ring_path.stat().st_mode) == 0o600
    token = out.strip()
    assert sealed.is_sealed(token) and "hunter2" not in out
    assert sealed.open_string(_ring(ring_path), token) == "hunter2"  # the final line break is not kept
    code, out, err = run(capsys, "secrets", "seal", "--keyring", str(ring_path), stdin="  two words  ")
    assert (code, err) == (0, "")  # an existing keyring: nothing said about it
    assert sealed.open_string(_ring(ring_path), out.strip()) == "  two words  "


def test_seal_reads_without_echo_at_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts: list[str] = []
    monkeypatch.setattr(sys, "stdin", Terminal(""))
    monkeypatch.setattr(cli_secrets.getpass, "getpass", lambda prompt: prompts.append(prompt) or "typed")
    monkeypatch.setenv("INDUNET_KEYRING", str(tmp_path / "ring.json"))
    code, out, _err = run(capsys, "secrets", "seal")
    assert code == 0 and prompts == ["Secret to seal: "]
    assert sealed.open_string(_ring(tmp_path / "ring.json"), out.strip()) == "typed"


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["secrets", "seal"], "x", "indunet: Name the keyring with --keyring FILE or --config FILE"),
        (["secrets", "seal", "--keyring", "ring.json"], "\n", "indunet: Nothing to seal"),
        (
            ["secrets", "seal", "--keyring", "ring.json"],
            "x" * 9000,
            "indunet: The secret is longer than 8192",
        ),
        (
            ["secrets", "seal", "--keyring", "no/such/dir/ring.json"],
            "x",
            "indunet: The keyring cannot be used",
        ),
    ],
)
def test_seal_refusals_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], stdin: str, message: str
) -> None:
    code, out, err = run(capsys, *argv, stdin=stdin)
    assert (code, out) == (2, "")
    assert err.startswith(message)
    assert not (tmp_path / "ring.json").exists()


def test_seal_takes_a_keyring_or_a_config_not_both(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "secrets", "seal", "--keyring", "a", "--config", "b", stdin="x")
    assert code == 2 and "not allowed with argument" in err


# --- seal-config -----------------------------------------------------------------------------------


def test_seal_config_seals_exactly_the_credentials_and_keeps_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _gateway(tmp_path / "gateway.yaml")
    original = path.read_text()
    path.chmod(0o640)
    code, out, err = run(capsys, "secrets", "seal-config", "--config", str(path))
    assert code == 0, err
    ring = _ring(tmp_path / "gateway.yaml.keyring.json")
    assert out == (
        f"{path}: 3 field(s) sealed under key {ring.current}: uplink.token, "
        "devices[1].connection.password, devices[2].connection.password\n"
    )
    text = path.read_text()
    assert TOKEN not in text and PASSWORD not in text and BROKER not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    # Only the three values changed: comments, quoting elsewhere, layout are the engineer's.
    expected = original.replace(f'"{TOKEN}"', "T").replace(PASSWORD, "T").replace(f"'{BROKER}'", "T")
    assert sealed.TOKEN.sub("T", text) == expected
    assert sealed.open_tree(yaml.safe_load(text), lambda: ring) == yaml.safe_load(original)
    config = gateway_config.load(path, environ={})
    assert config.uplink.token == TOKEN
    code, out, _err = run(capsys, "secrets", "seal-config", "--config", str(path))
    assert (code, out) == (0, f"{path}: no plain credential to seal (3 sealed already).\n")
    assert path.read_text() == text


def test_seal_config_with_a_named_keyring(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _gateway(tmp_path / "gw.yml")
    ring_path = tmp_path / "ring.json"
    code, _out, _err = run(
        capsys, "secrets", "seal-config", "--config", str(path), "--keyring", str(ring_path)
    )
    assert code == 0 and ring_path.exists() and not (tmp_path / "gw.yml.keyring.json").exists()
    assert gateway_config.load(path, environ={"INDUNET_KEYRING": str(ring_path)}).uplink.token == TOKEN


def test_seal_config_refuses_settings_and_unknown_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "site.toml").write_text('jwt_secret = "x"\n')
    code, _out, err = run(capsys, "secrets", "seal-config", "--config", "site.toml")
    assert code == 2 and err.startswith("indunet: Settings files (TOML) are not sealed in place")
    (tmp_path / "other.yaml").write_text("a: 1\n")
    code, _out, err = run(capsys, "secrets", "seal-config", "--config", "other.yaml")
    assert code == 2 and "name it with --kind" in err
    code, _out, err = run(capsys, "secrets", "seal-config", "--config", "other.yaml", "--kind", "gateway")
    assert code == 0
    code, _out, err = run(capsys, "secrets", "seal-config", "--config", "missing.yaml")
    assert code == 2 and err.startswith("indunet: Cannot read missing.yaml")


def test_seal_config_refuses_an_anchored_credential_and_leaves_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _gateway(tmp_path / "gateway.yaml")
    path.write_text(path.read_text().replace(f"password: {PASSWORD}", f"password: &pw {PASSWORD}"))
    before = path.read_text()
    code, _out, err = run(capsys, "secrets", "seal-config", "--config", str(path))
    assert code == 2
    assert "devices[1].connection.password: anchored or tagged" in err
    assert path.read_text() == before


# --- rekey -----------------------------------------------------------------------------------------


def _sealed_pair(tmp_path: Path) -> tuple[Path, Path, Path, Keyring]:
    """Two gateway files sealed under one named keyring."""
    ring_path = tmp_path / "ring.json"
    ring = Keyring.new(ring_path)
    one = _gateway(tmp_path / "one.yaml", *(sealed.seal_string(ring, s) for s in (TOKEN, PASSWORD, BROKER)))
    two = _gateway(tmp_path / "two.yaml", sealed.seal_string(ring, "dev_two"), PASSWORD, BROKER)
    return one, two, ring_path, ring


def test_rekey_reseals_under_a_new_key_keeping_comments_and_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two, ring_path, ring = _sealed_pair(tmp_path)
    old_key, before_one, before_two = ring.current, one.read_text(), two.read_text()
    one.chmod(0o600)
    code, out, err = run(capsys, "secrets", "rekey", str(one), str(two), "--keyring", str(ring_path))
    assert code == 0, err
    ring = _ring(ring_path)
    assert ring.current != old_key and set(ring.keys) == {old_key, ring.current}
    assert out.splitlines() == [
        f"{one}: 3 sealed value(s) sealed again",
        f"{two}: 1 sealed value(s) sealed again",
        f"New key {ring.current}: 4 value(s) sealed again in 2 file(s).",
        f"Older keys kept: {old_key}. Once every file sealed under them is resealed, drop them with --drop-old.",
    ]
    for path, before in ((one, before_one), (two, before_two)):
        after = path.read_text()
        assert after != before and sealed.TOKEN.sub("T", after) == sealed.TOKEN.sub("T", before)
        assert all(ring.sealed_by_current(sealed._decode(t)) for t in sealed.TOKEN.findall(after))
    assert stat.S_IMODE(one.stat().st_mode) == 0o600
    env = {"INDUNET_KEYRING": str(ring_path)}
    assert gateway_config.load(one, environ=env).uplink.token == TOKEN
    assert gateway_config.load(two, environ=env).uplink.token == "dev_two"


def test_drop_old_removes_the_old_key_so_files_not_resealed_stop_opening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two, ring_path, ring = _sealed_pair(tmp_path)
    old_key = ring.current
    code, out, _err = run(capsys, "secrets", "rekey", str(one), "--keyring", str(ring_path), "--drop-old")
    assert code == 0
    ring = _ring(ring_path)
    assert list(ring.keys) == [ring.current] and old_key not in ring.keys
    assert out.splitlines()[-1] == f"Older keys dropped: {old_key}."
    env = {"INDUNET_KEYRING": str(ring_path)}
    assert gateway_config.load(one, environ=env).uplink.token == TOKEN
    with pytest.raises(
        ConfigurationError, match=f"uplink.token: sealed with key '{old_key}', which this keyring"
    ):
        gateway_config.load(two, environ=env)  # not named: still under the dropped key


def test_rekey_with_a_damaged_token_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two, ring_path, _ring = _sealed_pair(tmp_path)
    text = two.read_text()
    start = text.index('token: "sm4:') + 50  # in the ciphertext
    two.write_text(text[:start] + ("B" if text[start] == "A" else "A") + text[start + 1 :])
    before = (one.read_text(), two.read_text(), ring_path.read_text())
    code, out, err = run(
        capsys, "secrets", "rekey", str(one), str(two), "--keyring", str(ring_path), "--drop-old"
    )
    assert (code, out) == (2, "")
    assert err.startswith(f"indunet: {two}: line 5: sealed data does not open")
    assert err.rstrip().endswith("Neither the keyring nor any file was changed.")
    assert (one.read_text(), two.read_text(), ring_path.read_text()) == before


def test_rekey_finds_the_keyring_beside_a_single_file_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ring = Keyring.new(tmp_path / "gateway.yaml.keyring.json")
    path = _gateway(tmp_path / "gateway.yaml", sealed.seal_string(ring, TOKEN))
    code, out, _err = run(capsys, "secrets", "rekey", "gateway.yaml")
    assert code == 0 and "gateway.yaml: 1 sealed value(s) sealed again" in out
    assert gateway_config.load(path, environ={}).uplink.token == TOKEN
    _gateway(tmp_path / "other.yaml")
    code, _out, err = run(capsys, "secrets", "rekey", "gateway.yaml", "other.yaml")
    assert code == 2 and "The files have different keyrings" in err
    code, _out, err = run(capsys, "secrets", "rekey", "other.yaml", "--keyring", "absent.json")
    assert code == 2 and err.startswith("indunet: There is no keyring at absent.json.")
    assert not (tmp_path / "absent.json").exists()


def test_rekey_without_sealed_values_only_rotates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ring = Keyring.new(tmp_path / "ring.json")
    path = _gateway(tmp_path / "gateway.yaml")
    before = path.read_text()
    mtime = path.stat().st_mtime_ns
    code, out, _err = run(capsys, "secrets", "rekey", str(path), "--keyring", str(tmp_path / "ring.json"))
    assert code == 0 and f"{path}: 0 sealed value(s) sealed again" in out
    assert (path.read_text(), path.stat().st_mtime_ns) == (before, mtime)
    assert json.loads((tmp_path / "ring.json").read_text())["current"] != ring.current


def test_a_file_behind_a_symbolic_link_is_rewritten_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _gateway(tmp_path / "real.yaml")
    link = tmp_path / "gateway.yaml"
    link.symlink_to(real)
    code, _out, _err = run(capsys, "secrets", "seal-config", "--config", str(link))
    assert code == 0 and link.is_symlink()
    assert TOKEN not in real.read_text()
