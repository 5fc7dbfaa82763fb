"""Sealed credentials in the gateway's configuration file: opened before the file is checked, with
the keyring beside the file or named by INDUNET_KEYRING; plain files need no keyring."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.edge import configs

from indunet.core.errors import ConfigurationError
from indunet.edge import config as gateway_config
from indunet.security import sealed
from indunet.security.keyring import Keyring

TOKEN = "dev_0f3c9a1e2b4d4c8e9a7f6b5c4d3e2f10_Jq8s1"
PASSWORD = "s3cret-cnc"
BROKER = "br0ker-pw"


def _write(path: Path, ring: Keyring | None) -> Path:
    seal = (lambda s: sealed.seal_string(ring, s)) if ring else (lambda s: s)
    path.write_text(configs.commented_gateway(seal(TOKEN), seal(PASSWORD), seal(BROKER)), encoding="utf-8")
    return path


def _connection(config: gateway_config.GatewayConfig, device: str) -> dict[str, object]:
    return dict(next(d for d in config.devices if d.name == device).spec.connection)


def test_sealed_token_and_passwords_load_as_their_plain_values(tmp_path: Path) -> None:
    ring = Keyring.new(tmp_path / "gateway.yaml.keyring.json")
    path = _write(tmp_path / "gateway.yaml", ring)
    assert TOKEN not in path.read_text() and PASSWORD not in path.read_text()
    config = gateway_config.load(path, environ={})
    assert config.uplink.token == TOKEN
    assert _connection(config, "cnc-1")["password"] == PASSWORD
    assert _connection(config, "flow-7")["password"] == BROKER
    assert _connection(config, "cnc-1")["username"] == "operator"


def test_the_keyring_named_by_the_variable_wins(tmp_path: Path) -> None:
    elsewhere = tmp_path / "secure" / "ring.json"
    elsewhere.parent.mkdir()
    path = _write(tmp_path / "gateway.yaml", Keyring.new(elsewhere))
    config = gateway_config.load(path, environ={"INDUNET_KEYRING": str(elsewhere)})
    assert config.uplink.token == TOKEN
    with pytest.raises(ConfigurationError, match="no keyring at"):
        gateway_config.load(path, environ={})


def test_a_plain_file_needs_no_keyring(tmp_path: Path) -> None:
    path = _write(tmp_path / "gateway.yaml", None)
    config = gateway_config.load(path, environ={"INDUNET_KEYRING": str(tmp_path / "absent.json")})
    assert config.uplink.token == TOKEN
    assert _connection(config, "cnc-1")["password"] == PASSWORD
    assert not (tmp_path / "gateway.yaml.keyring.json").exists()


def test_without_the_keyring_the_fields_are_named_and_the_values_not(tmp_path: Path) -> None:
    path = _write(tmp_path / "gateway.yaml", Keyring.new())  # the ring was never written down
    with pytest.raises(ConfigurationError) as caught:
        gateway_config.load(path, environ={})
    message = str(caught.value)
    assert str(path) in message
    for place in ("uplink.token", "devices[1].connection.password", "devices[2].connection.password"):
        assert f"{place}: no keyring at {tmp_path / 'gateway.yaml.keyring.json'}" in message
    assert TOKEN not in message and PASSWORD not in message and BROKER not in message


def test_a_tampered_token_does_not_load(tmp_path: Path) -> None:
    ring = Keyring.new(tmp_path / "gateway.yaml.keyring.json")
    path = _write(tmp_path / "gateway.yaml", ring)
    text = path.read_text()
    start = text.index("password: sm4:") + len("password: sm4:") + 30
    path.write_text(text[:start] + ("B" if text[start] == "A" else "A") + text[start + 1 :])
    with pytest.raises(ConfigurationError, match=r"devices\[1\]\.connection\.password: sealed data does not"):
        gateway_config.load(path, environ={})


def test_a_sealed_value_still_goes_through_the_checks(tmp_path: Path) -> None:
    ring = Keyring.new(tmp_path / "gateway.yaml.keyring.json")
    path = tmp_path / "gateway.yaml"
    path.write_text(configs.commented_gateway(sealed.seal_string(ring, ""), PASSWORD, BROKER))
    with pytest.raises(ConfigurationError, match=r"uplink\.token: String should have at least 1 character"):
        gateway_config.load(path, environ={})


@pytest.mark.parametrize(
    ("place", "credential"),
    [
        (("uplink", "token"), True),
        (("devices", 0, "connection", "password"), True),
        (("devices", 3, "connection", "API_KEY"), True),
        (("devices", 0, "connection", "Private_Key_Password"), True),
        (("devices", 0, "connection", "auth", "secret"), True),
        (("devices", 0, "connection", "username"), False),
        (("devices", 0, "connection", "private_key"), False),  # a file name, not a secret
        (("devices", 0, "commands", "password"), False),
        (("devices", 0, "password"), False),
        (("uplink", "http"), False),
        (("token",), False),
    ],
)
def test_which_places_hold_credentials(place: tuple[str | int, ...], credential: bool) -> None:
    assert gateway_config.is_credential(place) is credential
