"""TLS for the device MQTT endpoint: the server's SSL context, checked and built from the settings at start-up.

A device may present an X.509 certificate (``mqtt_tls_client_auth``); it is verified against
``mqtt_tls_ca`` during the handshake, but the device is still identified by the access token in its
MQTT user name: a certificate alone does not name a device.
"""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

from indunet.core.config import Settings
from indunet.core.errors import ConfigurationError

HANDSHAKE_TIMEOUT_S = 10.0
"""A client that has not finished the TLS handshake by then is dropped, so it cannot hold a socket."""
_MAX_PEM_BYTES = 1024 * 1024
_VERIFY = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


class _EncryptedKey(Exception):
    """Raised instead of OpenSSL's password prompt, which would block a server started without a terminal."""


def _no_password() -> str:
    raise _EncryptedKey


def _unusable(setting: str, path: str, reason: str) -> ConfigurationError:
    return ConfigurationError(
        f"{setting} ({path}) cannot be used: {reason}",
        key="error.mqtt_tls_file",
        setting=setting,
        path=path,
        reason=reason,
    )


def _pem_file(settings: Settings, setting: str, marker: str) -> str:
    """The configured path, once it is known to be a readable, bounded PEM file containing ``marker``."""
    path: str = getattr(settings, setting)
    if not path:
        raise ConfigurationError(
            f"the MQTT TLS listener needs {setting}", key="error.mqtt_tls_missing", setting=setting
        )
    file = Path(path)
    try:
        status = file.stat()
        # A FIFO or device (/dev/zero) would block or never end; only regular files of sane size are read.
        if not stat.S_ISREG(status.st_mode):
            raise _unusable(setting, path, "not a regular file")
        if status.st_size > _MAX_PEM_BYTES:
            raise _unusable(setting, path, f"larger than {_MAX_PEM_BYTES} bytes")
        text = file.read_bytes()
    except OSError as exc:
        raise _unusable(setting, path, exc.strerror or str(exc)) from exc
    if marker.encode() not in text:
        raise _unusable(setting, path, f"no PEM block with '{marker}'")
    return path


def server_context(settings: Settings) -> ssl.SSLContext:
    """The SSL context for the TLS listener (TLS 1.2 or later), or ConfigurationError naming the bad setting."""
    cert = _pem_file(settings, "mqtt_tls_cert", "-----BEGIN CERTIFICATE-----")
    key = _pem_file(settings, "mqtt_tls_key", "PRIVATE KEY-----")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key, password=_no_password)
    except _EncryptedKey:
        raise _unusable("mqtt_tls_key", key, "the key is encrypted; give it unencrypted") from None
    except ssl.SSLError as exc:
        raise _unusable("mqtt_tls_key", key, f"does not fit mqtt_tls_cert ({exc.reason or exc})") from exc
    mode = settings.mqtt_tls_client_auth
    if mode == "none":
        if settings.mqtt_tls_ca:
            raise ConfigurationError(
                "mqtt_tls_ca is set but mqtt_tls_client_auth is 'none': device certificates would not be checked",
                key="error.mqtt_tls_ca_unused",
            )
        return context
    if not settings.mqtt_tls_ca:
        raise ConfigurationError(
            f"mqtt_tls_client_auth '{mode}' needs mqtt_tls_ca", key="error.mqtt_tls_ca_needed", mode=mode
        )
    ca = _pem_file(settings, "mqtt_tls_ca", "-----BEGIN CERTIFICATE-----")
    try:
        context.load_verify_locations(cafile=ca)
    except ssl.SSLError as exc:
        raise _unusable("mqtt_tls_ca", ca, exc.reason or str(exc)) from exc
    context.verify_mode = _VERIFY[mode]
    return context
