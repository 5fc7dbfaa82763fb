"""The device MQTT endpoint over TLS: unmodified paho-mqtt with a CA made at test time, client
certificates, plain clients and stalled handshakes on the TLS port, and start-up refusing bad settings."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from cryptography.hazmat.primitives import serialization
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from tests.helpers import Tenant
from tests.transport.mqtt.pki import Pki, make_pki

from indunet.cli import main
from indunet.core.config import Settings, load_settings
from indunet.core.errors import ConfigurationError
from indunet.platform import telemetry
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.transport.mqtt import MqttThread, tls
from indunet.transport.mqtt import codec311 as c

TELEMETRY = "v1/devices/me/telemetry"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _server_files(pki: Pki) -> dict[str, str]:
    return {"mqtt_tls_cert": str(pki.server_cert), "mqtt_tls_key": str(pki.server_key)}


@contextmanager
def _serving(platform: Platform, **tls_settings: Any) -> Iterator[MqttThread]:
    """The endpoint (plain and TLS, free ports) of a platform over the same database with these settings."""
    settings = Settings.model_validate({**platform.settings.model_dump(), **tls_settings})
    own = Platform(settings)
    thread = MqttThread(own, "127.0.0.1", 0, tls_port=0).start()
    try:
        yield thread
    finally:
        thread.stop()
        own.close()


@pytest.fixture(scope="module")
def tls_mqtt(platform: Platform, pki: Pki) -> Iterator[MqttThread]:
    with _serving(platform, **_server_files(pki)) as thread:
        yield thread


@pytest.fixture(scope="module")
def mutual_mqtt(platform: Platform, pki: Pki) -> Iterator[MqttThread]:
    """TLS that requires a device certificate signed by the test CA."""
    with _serving(
        platform, **_server_files(pki), mqtt_tls_ca=str(pki.ca), mqtt_tls_client_auth="required"
    ) as thread:
        yield thread


def _paho(
    port: int,
    token: str,
    ca: Path,
    protocol: MQTTProtocolVersion = paho.MQTTv5,
    cert: Path | None = None,
    key: Path | None = None,
) -> tuple[paho.Client, list[Any]]:
    """A connected paho client over TLS and the CONNACK reason it got."""
    outcome: list[Any] = []
    connected = threading.Event()
    device = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"tls-{secrets.token_hex(4)}", protocol=protocol
    )
    device.tls_set(ca_certs=str(ca), certfile=str(cert) if cert else None, keyfile=str(key) if key else None)

    def on_connect(client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        outcome.append(reason)
        connected.set()

    device.on_connect = on_connect
    device.username_pw_set(token)
    device.connect("127.0.0.1", port)
    device.loop_start()
    assert connected.wait(15)
    return device, outcome


def _stop(device: paho.Client) -> None:
    device.disconnect()
    device.loop_stop()


def _new_value() -> float:
    """A spindle speed no other test sends, so that finding it (or not) is about this test alone."""
    return 1000 + secrets.randbelow(2_000_000) / 128


def _stored(platform: Platform, tenant: Tenant) -> list[float]:
    query = telemetry.SeriesQuery(points=("spindle_speed",), start_us=0, limit=100_000)
    result = telemetry.raw(platform, Principal.system(tenant.id), tenant.device["id"], query)
    return [value for _, value in result["series"].get("spindle_speed", [])]


def _publish_over_tls(
    platform: Platform,
    tenant: Tenant,
    port: int,
    ca: Path,
    protocol: MQTTProtocolVersion = paho.MQTTv5,
    cert: Path | None = None,
    key: Path | None = None,
) -> float:
    """Publish one new value at QoS 1 over TLS; return it once the PUBACK (sent after commit) came."""
    value = _new_value()
    device, outcome = _paho(port, tenant.device["token"], ca, protocol, cert, key)
    try:
        assert not outcome[0].is_failure, outcome
        info = device.publish(TELEMETRY, json.dumps({"spindle_speed": value}), qos=1)
        info.wait_for_publish(15)
        assert info.is_published()
    finally:
        _stop(device)
    return value


@contextmanager
def _tls_socket(port: int, context: ssl.SSLContext) -> Iterator[ssl.SSLSocket]:
    """A TLS connection to the endpoint, handshake done."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=15) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        yield sock


def _answer_until_closed(sock: socket.socket, enough: int = 1 << 20) -> bytes:
    """What the server sends before it closes the connection (or the first ``enough`` bytes)."""
    received = b""
    while len(received) < enough:
        try:
            data = sock.recv(4096)
        except (ConnectionResetError, ssl.SSLError):
            return received
        if not data:
            return received
        received += data
    return received


@pytest.mark.parametrize("protocol", [paho.MQTTv5, paho.MQTTv311], ids=["mqtt5", "mqtt311"])
def test_paho_over_tls_stores_qos1_telemetry(
    platform: Platform, tenant_a: Tenant, tls_mqtt: MqttThread, pki: Pki, protocol: MQTTProtocolVersion
) -> None:
    value = _publish_over_tls(platform, tenant_a, tls_mqtt.tls_port, pki.ca, protocol)
    assert value in _stored(platform, tenant_a)


def test_the_plain_listener_stays_open_beside_tls(tls_mqtt: MqttThread) -> None:
    assert tls_mqtt.port and tls_mqtt.tls_port and tls_mqtt.port != tls_mqtt.tls_port


def test_plain_mqtt_on_the_tls_port_gets_no_answer_and_stores_nothing(
    platform: Platform, tenant_a: Tenant, tls_mqtt: MqttThread, pki: Pki
) -> None:
    value = _new_value()
    with socket.create_connection(("127.0.0.1", tls_mqtt.tls_port), timeout=15) as sock:
        connect = c.Connect("plain-on-tls", username=tenant_a.device["token"]).write()
        publish = c.Publish(TELEMETRY, json.dumps({"spindle_speed": value}).encode(), 1, 1).write()
        sock.sendall(connect + publish)
        answer = _answer_until_closed(sock)
    assert not answer.startswith(b"\x20"), "a plain client got a CONNACK on the TLS port"
    assert value not in _stored(platform, tenant_a)
    # The server is still there for everyone else.
    assert _publish_over_tls(platform, tenant_a, tls_mqtt.tls_port, pki.ca) in _stored(platform, tenant_a)


def test_a_client_that_does_not_trust_the_certificate_fails_the_handshake(
    tenant_a: Tenant, tls_mqtt: MqttThread, pki: Pki
) -> None:
    device = paho.Client(CallbackAPIVersion.VERSION2, client_id="tls-untrusting")
    device.tls_set(ca_certs=str(pki.stranger_ca))
    device.username_pw_set(tenant_a.device["token"])
    with pytest.raises(ssl.SSLCertVerificationError):
        device.connect("127.0.0.1", tls_mqtt.tls_port)


def test_a_handshake_that_never_completes_is_dropped(
    platform: Platform, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tls, "HANDSHAKE_TIMEOUT_S", 0.5)
    # The socket waits far longer than the handshake limit, far shorter than asyncio's default (60 s).
    with (
        _serving(platform, **_server_files(pki)) as thread,
        socket.create_connection(("127.0.0.1", thread.tls_port), timeout=30) as sock,
    ):
        sock.sendall(b"\x16\x03\x01\x02\x00")  # a TLS record header announcing a ClientHello never sent
        assert _answer_until_closed(sock) == b""


def test_garbage_after_the_handshake_ends_the_connection_without_an_error_log(
    tls_mqtt: MqttThread, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    with _tls_socket(tls_mqtt.tls_port, ssl.create_default_context(cafile=str(pki.ca))) as sock:
        with socket.socket(fileno=os.dup(sock.fileno())) as beside:
            beside.sendall(b"bytes that are not a TLS record")  # around the TLS layer
        assert _answer_until_closed(sock) == b""
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


# -- client certificates -----------------------------------------------------------------------------
def _mqtt_answer_over_tls(port: int, token: str, pki: Pki, cert: Path | None, key: Path | None) -> bytes:
    """The server's CONNACK to an MQTT 3.1.1 CONNECT sent over TLS, b"" when TLS refused the client."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    if cert is not None:
        context.load_cert_chain(cert, key)
    try:
        with _tls_socket(port, context) as sock:
            sock.sendall(c.Connect("tls-cert-check", username=token).write())
            return _answer_until_closed(sock, enough=4)
    except (ssl.SSLError, ConnectionResetError):
        return b""


def test_required_client_certificate_and_token_are_both_needed(
    platform: Platform, tenant_a: Tenant, mutual_mqtt: MqttThread, pki: Pki
) -> None:
    port, token = mutual_mqtt.tls_port, tenant_a.device["token"]
    accepted = c.ConnAck(c.ReturnCode.ACCEPTED).write()
    assert _mqtt_answer_over_tls(port, token, pki, pki.device_cert, pki.device_key) == accepted
    assert _mqtt_answer_over_tls(port, token, pki, None, None) == b""
    assert _mqtt_answer_over_tls(port, token, pki, pki.stranger_cert, pki.stranger_key) == b""
    # A certificate does not name a device: the access token still does.
    refused = c.ConnAck(c.ReturnCode.BAD_USER_NAME_OR_PASSWORD).write()
    assert _mqtt_answer_over_tls(port, "dev_notatoken", pki, pki.device_cert, pki.device_key) == refused

    value = _publish_over_tls(platform, tenant_a, port, pki.ca, cert=pki.device_cert, key=pki.device_key)
    assert value in _stored(platform, tenant_a)


def test_optional_client_certificate_accepts_devices_without_one(
    platform: Platform, tenant_a: Tenant, pki: Pki
) -> None:
    with _serving(
        platform, **_server_files(pki), mqtt_tls_ca=str(pki.ca), mqtt_tls_client_auth="optional"
    ) as thread:
        token, accepted = tenant_a.device["token"], c.ConnAck(c.ReturnCode.ACCEPTED).write()
        assert _mqtt_answer_over_tls(thread.tls_port, token, pki, None, None) == accepted
        assert _mqtt_answer_over_tls(thread.tls_port, token, pki, pki.device_cert, pki.device_key) == accepted
        assert _mqtt_answer_over_tls(thread.tls_port, token, pki, pki.stranger_cert, pki.stranger_key) == b""


# -- settings checked at start-up ----------------------------------------------------------------------
def _encrypted_key(pki: Pki, directory: Path) -> Path:
    key = serialization.load_pem_private_key(pki.server_key.read_bytes(), password=None)
    path = directory / "encrypted.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret passphrase"),
        )
    )
    return path


@pytest.mark.parametrize(
    ("case", "key", "words"),
    [
        ("no-cert", "error.mqtt_tls_missing", ["mqtt_tls_cert"]),
        ("no-key", "error.mqtt_tls_missing", ["mqtt_tls_key"]),
        ("cert-missing", "error.mqtt_tls_file", ["mqtt_tls_cert", "missing.pem", "No such file"]),
        ("key-is-a-directory", "error.mqtt_tls_file", ["mqtt_tls_key", "not a regular file"]),
        ("cert-is-a-key", "error.mqtt_tls_file", ["mqtt_tls_cert", "no PEM block"]),
        ("key-of-another-cert", "error.mqtt_tls_file", ["mqtt_tls_key", "does not fit mqtt_tls_cert"]),
        ("key-encrypted", "error.mqtt_tls_file", ["mqtt_tls_key", "encrypted"]),
        ("client-auth-without-ca", "error.mqtt_tls_ca_needed", ["mqtt_tls_ca", "required"]),
        ("ca-without-client-auth", "error.mqtt_tls_ca_unused", ["mqtt_tls_ca", "none"]),
        ("ca-missing", "error.mqtt_tls_file", ["mqtt_tls_ca", "No such file"]),
    ],
)
def test_bad_tls_settings_stop_start_up_with_a_clear_error(
    platform: Platform, pki: Pki, tmp_path: Path, case: str, key: str, words: list[str]
) -> None:
    files = _server_files(pki)
    settings: dict[str, Any] = {
        "no-cert": {"mqtt_tls_key": files["mqtt_tls_key"]},
        "no-key": {"mqtt_tls_cert": files["mqtt_tls_cert"]},
        "cert-missing": {**files, "mqtt_tls_cert": str(tmp_path / "missing.pem")},
        "key-is-a-directory": {**files, "mqtt_tls_key": str(tmp_path)},
        "cert-is-a-key": {**files, "mqtt_tls_cert": files["mqtt_tls_key"]},
        "key-of-another-cert": {**files, "mqtt_tls_key": str(pki.device_key)},
        "key-encrypted": {**files, "mqtt_tls_key": str(_encrypted_key(pki, tmp_path))},
        "client-auth-without-ca": {**files, "mqtt_tls_client_auth": "required"},
        "ca-without-client-auth": {**files, "mqtt_tls_ca": str(pki.ca)},
        "ca-missing": {
            **files,
            "mqtt_tls_ca": str(tmp_path / "missing-ca.pem"),
            "mqtt_tls_client_auth": "optional",
        },
    }[case]
    own = Platform(Settings.model_validate({**platform.settings.model_dump(), **settings}))
    try:
        with pytest.raises(ConfigurationError) as caught:
            MqttThread(own, "127.0.0.1", 0, tls_port=0)
    finally:
        own.close()
    assert caught.value.key == key
    for word in words:
        assert word in caught.value.message


def test_tls_port_equal_to_the_plain_port_and_unknown_client_auth_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="mqtt_tls_port must differ"):
        load_settings(environ={"INDUNET_MQTT_PORT": "8883", "INDUNET_MQTT_TLS_PORT": "8883"})
    with pytest.raises(ConfigurationError, match="mqtt_tls_client_auth"):
        load_settings(environ={"INDUNET_MQTT_TLS_CLIENT_AUTH": "sometimes"})


# -- indunet serve ----------------------------------------------------------------------------------
@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment for ``indunet``: a data directory of its own, English messages."""
    for name in list(os.environ):
        if name.startswith("INDUNET_") or name in ("LANG", "LC_ALL"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INDUNET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INDUNET_LANGUAGE", "en")
    return tmp_path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_with_a_missing_certificate_exits_2_naming_it(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDUNET_MQTT_TLS_CERT", str(cli_env / "nowhere.pem"))
    monkeypatch.setenv("INDUNET_MQTT_TLS_KEY", str(cli_env / "nowhere.key"))
    code = main(["serve", "--mqtt-port", "0", "--mqtt-tls-port", str(_free_port())])
    err = capsys.readouterr().err
    assert code == 2
    assert "mqtt_tls_cert" in err and "nowhere.pem" in err


def test_serve_with_tls_only_prints_the_tls_listener_and_accepts_tls_clients(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, pki: Pki
) -> None:
    import uvicorn

    tls_port = _free_port()
    handshakes: list[str | None] = []

    def instead_of_http(*_args: Any, **_kwargs: Any) -> None:
        with _tls_socket(tls_port, ssl.create_default_context(cafile=str(pki.ca))) as sock:
            handshakes.append(sock.version())

    monkeypatch.setattr(uvicorn, "run", instead_of_http)
    monkeypatch.setenv("INDUNET_MQTT_TLS_CERT", str(pki.server_cert))
    monkeypatch.setenv("INDUNET_MQTT_TLS_KEY", str(pki.server_key))
    assert main(["serve", "--mqtt-port", "0", "--mqtt-tls-port", str(tls_port)]) == 0
    out = capsys.readouterr().out
    assert f"device MQTT endpoint (TLS) listening on mqtts://127.0.0.1:{tls_port}" in out
    assert "mqtt://" not in out  # the plain listener stays closed
    assert handshakes and handshakes[0] in ("TLSv1.2", "TLSv1.3")


def test_serve_on_a_taken_mqtt_port_exits_2_with_a_clear_message(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:  # as when a broker already holds 1883
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code = main(["serve", "--mqtt-port", str(taken.getsockname()[1])])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot listen" in err and "--mqtt-port" in err
