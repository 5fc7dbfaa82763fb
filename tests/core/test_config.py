"""Settings: defaults, the TOML file, INDUNET_* variables and explicit overrides, in that order."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from indunet.core.config import Settings, load_settings
from indunet.core.errors import ConfigurationError

PG = "postgresql://indunet:s3cret@db.example.cn:5432/plant"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No indunet.toml of the developer's, and no INDUNET_* variables from the shell."""
    for key in list(os.environ):
        if key.startswith("INDUNET_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def _toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_embedded() -> None:
    settings = load_settings(environ={})
    assert settings.data_dir == Path("var")
    assert not settings.is_postgres
    assert settings.metadata_url == f"sqlite:///{Path('var') / 'indunet.db'}"
    assert settings.timeseries_url == f"sqlite:///{Path('var') / 'timeseries.db'}"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.access_token_ttl_s == 900
    assert settings.language == "en"


def test_indunet_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    _toml(tmp_path / "indunet.toml", 'port = 9000\ndata_dir = "/srv/indunet"\n')
    settings = load_settings(environ={})
    assert settings.port == 9000
    assert settings.data_dir == Path("/srv/indunet")
    assert settings.metadata_url == "sqlite:////srv/indunet/indunet.db"


def test_toml_then_environment_then_overrides(tmp_path: Path) -> None:
    path = _toml(tmp_path / "site.toml", 'port = 9000\nhost = "192.0.2.10"\nlanguage = "zh-CN"\n')
    from_file = load_settings(path, environ={})
    assert (from_file.port, from_file.host, from_file.language) == (9000, "192.0.2.10", "zh-CN")
    env = {"INDUNET_PORT": "9100", "INDUNET_OFFLINE_AFTER_S": "15"}
    from_env = load_settings(path, environ=env)
    assert (from_env.port, from_env.host, from_env.offline_after_s) == (9100, "192.0.2.10", 15)
    flags = load_settings(path, environ=env, port=9200, host=None)
    assert (flags.port, flags.host) == (9200, "192.0.2.10")  # an unset flag keeps the file value


def test_indunet_config_names_the_file(tmp_path: Path) -> None:
    path = _toml(tmp_path / "elsewhere.toml", "max_page_size = 77\n")
    assert load_settings(environ={"INDUNET_CONFIG": str(path)}).max_page_size == 77
    # An explicit path beats INDUNET_CONFIG.
    other = _toml(tmp_path / "other.toml", "max_page_size = 88\n")
    assert load_settings(other, environ={"INDUNET_CONFIG": str(path)}).max_page_size == 88


def test_the_real_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDUNET_PORT", "8181")
    monkeypatch.setenv("INDUNET_NOT_A_SETTING", "ignored")
    assert load_settings().port == 8181


@pytest.mark.parametrize(
    ("environ", "mentions"),
    [
        ({"INDUNET_PORT": "eighty"}, "port"),
        ({"INDUNET_PORT": "0"}, "port"),
        ({"INDUNET_PORT": "70000"}, "port"),
        ({"INDUNET_ACCESS_TOKEN_TTL_S": "5"}, "access_token_ttl_s"),
        ({"INDUNET_MAX_BODY_BYTES": "10"}, "max_body_bytes"),
        ({"INDUNET_DATABASE_URL": "mysql://root@localhost/indunet"}, "database_url"),
        ({"INDUNET_OFFLINE_AFTER_S": "-1"}, "offline_after_s"),
    ],
    ids=["port-text", "port-zero", "port-high", "ttl", "body", "mysql", "offline"],
)
def test_bad_values_are_configuration_errors(environ: dict[str, str], mentions: str) -> None:
    with pytest.raises(ConfigurationError, match=mentions) as caught:
        load_settings(environ=environ)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "text",
    ["port = ", "port = 9000\nport = 9001\n", "colour = 'blue'\n", "[server]\nport = 1\n", "port = 'x'\n"],
    ids=["syntax", "duplicate-key", "unknown-key", "unknown-table", "wrong-type"],
)
def test_bad_toml_is_a_configuration_error(tmp_path: Path, text: str) -> None:
    path = _toml(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigurationError):
        load_settings(path, environ={})


def test_toml_that_is_not_utf8_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('language = "español"\n'.encode("latin-1"))
    with pytest.raises(ConfigurationError):
        load_settings(path, environ={})


def test_a_named_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_a_missing_file_named_by_indunet_config_is_an_error(tmp_path: Path) -> None:
    # A typo in INDUNET_CONFIG must not start a server on the embedded defaults instead.
    with pytest.raises(ConfigurationError, match="not found"):
        load_settings(environ={"INDUNET_CONFIG": str(tmp_path / "typo.toml")})


@pytest.mark.parametrize("url", [PG, PG.replace("postgresql://", "postgres://", 1)])
def test_a_postgres_url_moves_metadata_and_timeseries(url: str) -> None:
    settings = load_settings(environ={"INDUNET_DATABASE_URL": url, "INDUNET_DATABASE_SCHEMA": "plant_a"})
    assert settings.is_postgres
    assert settings.database_url == PG
    assert settings.metadata_url == "postgresql+psycopg://indunet:s3cret@db.example.cn:5432/plant"
    assert settings.timeseries_url == PG
    assert settings.database_schema == "plant_a"


def test_a_sqlite_url_is_used_for_metadata(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    settings = Settings(database_url=url, data_dir=tmp_path / "d")
    assert not settings.is_postgres
    assert settings.metadata_url == url
    assert settings.timeseries_url == f"sqlite:///{tmp_path / 'd' / 'timeseries.db'}"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


def test_jwt_key_is_generated_once_and_reused(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    first = Settings(data_dir=data).resolved_jwt_secret()
    key_file = data / "jwt.key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 32
    # Another start on the same data directory uses the same key, so issued tokens stay valid.
    assert Settings(data_dir=data).resolved_jwt_secret() == first
    assert Settings(data_dir=data).resolved_jwt_secret() == first
    # Another data directory gets another key.
    assert Settings(data_dir=tmp_path / "other").resolved_jwt_secret() != first


def test_a_configured_jwt_secret_wins_and_writes_no_file(tmp_path: Path) -> None:
    secret = "x" * 48
    settings = load_settings(environ={"INDUNET_JWT_SECRET": secret, "INDUNET_DATA_DIR": str(tmp_path / "d")})
    assert settings.resolved_jwt_secret() == secret
    assert not (tmp_path / "d" / "jwt.key").exists()


def test_a_short_jwt_secret_is_a_configuration_error() -> None:
    # Found at start-up with the other settings, not later as a bare ValueError from the token codec.
    with pytest.raises(ConfigurationError, match="jwt_secret"):
        load_settings(environ={"INDUNET_JWT_SECRET": "too-short"})
