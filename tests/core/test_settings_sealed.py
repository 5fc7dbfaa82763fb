"""Sealed values in the settings: in the TOML file and in INDUNET_* variables, opened with the keyring
named by INDUNET_KEYRING or lying beside the TOML file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indunet.core.config import load_settings
from indunet.core.errors import ConfigurationError
from indunet.security import sealed
from indunet.security.keyring import Keyring

JWT = "k" * 40
PROVISION = "provision-secret-0123456789"
DB = "postgresql://indunet:pg-s3cret@db.example.cn:5432/plant"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("INDUNET_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def _toml(path: Path, ring: Keyring) -> Path:
    path.write_text(
        f'jwt_secret = "{sealed.seal_string(ring, JWT)}"\n'
        "port = 9000\n"
        "[mqtt_provisioning.line1-key]\n"
        f'secret = "{sealed.seal_string(ring, PROVISION)}"   # sealed\n'
        'tenant = "acme"\n'
        'type = "pump"\n',
        encoding="utf-8",
    )
    return path


def test_sealed_values_in_the_file_open_with_the_keyring_beside_it(tmp_path: Path) -> None:
    ring = Keyring.new(tmp_path / "site.toml.keyring.json")
    settings = load_settings(_toml(tmp_path / "site.toml", ring), environ={})
    assert settings.jwt_secret == JWT and settings.port == 9000
    assert settings.mqtt_provisioning["line1-key"].secret == PROVISION


def test_the_default_file_in_the_working_directory_too(tmp_path: Path) -> None:
    ring = Keyring.new(tmp_path / "indunet.toml.keyring.json")
    _toml(tmp_path / "indunet.toml", ring)
    assert load_settings(environ={}).jwt_secret == JWT


def test_sealed_variables_open_with_the_named_keyring(tmp_path: Path) -> None:
    ring = Keyring.new(tmp_path / "ring.json")
    env = {
        "INDUNET_KEYRING": str(tmp_path / "ring.json"),
        "INDUNET_DATABASE_URL": sealed.seal_string(ring, DB),
        "INDUNET_PORT": "9100",
    }
    settings = load_settings(environ=env)
    assert settings.database_url == DB and settings.is_postgres and settings.port == 9100


def test_variables_beside_a_sealed_file_share_its_keyring(tmp_path: Path) -> None:
    ring = Keyring.new(tmp_path / "site.toml.keyring.json")
    path = _toml(tmp_path / "site.toml", ring)
    settings = load_settings(path, environ={"INDUNET_DATABASE_URL": sealed.seal_string(ring, DB)})
    assert (settings.database_url, settings.jwt_secret) == (DB, JWT)


def test_plain_settings_need_no_keyring(tmp_path: Path) -> None:
    (tmp_path / "site.toml").write_text(f'jwt_secret = "{JWT}"\n')
    env = {"INDUNET_KEYRING": str(tmp_path / "absent.json"), "INDUNET_DATABASE_URL": DB}
    settings = load_settings(tmp_path / "site.toml", environ=env)
    assert (settings.jwt_secret, settings.database_url) == (JWT, DB)


def test_without_the_keyring_the_settings_are_named_and_the_values_not(tmp_path: Path) -> None:
    ring = Keyring.new()  # never written
    path = _toml(tmp_path / "site.toml", ring)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert "jwt_secret: no keyring at" in message
    assert "mqtt_provisioning.line1-key.secret: no keyring at" in message
    assert JWT not in message and PROVISION not in message
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ={"INDUNET_JWT_SECRET": sealed.seal_string(ring, JWT)})
    assert str(caught.value).startswith("environment: 1 sealed value(s) cannot be opened")
    assert "INDUNET_JWT_SECRET: no keyring at indunet.toml.keyring.json" in str(caught.value)


def test_a_value_sealed_under_another_keyring_is_refused(tmp_path: Path) -> None:
    Keyring.new(tmp_path / "site.toml.keyring.json")
    path = _toml(tmp_path / "site.toml", Keyring.new())
    with pytest.raises(
        ConfigurationError, match=r"jwt_secret: sealed with key .* which this keyring does not"
    ):
        load_settings(path, environ={})
