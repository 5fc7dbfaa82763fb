"""The one settings object, built once at start-up and passed down.

Sources, later ones winning: built-in defaults (embedded: SQLite under ``./var``, in-process bus),
a TOML file (``indunet.toml`` in the working directory, or the path in ``INDUNET_CONFIG``), then
``INDUNET_*`` environment variables (``INDUNET_DATABASE_URL``, ``INDUNET_DATA_DIR`` ...). Server mode is
switched on by URLs: a ``postgresql://`` database URL puts metadata and time series into PostgreSQL,
a ``nats://`` bus URL sends telemetry through NATS JetStream to writer processes.

Any value, in the file or in a variable, may be sealed (``sm4:…``, :mod:`indunet.security.sealed`):
it is opened with the keyring named by ``INDUNET_KEYRING``, or else the one beside the TOML file
(``indunet.toml.keyring.json``), before the settings are checked.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from indunet.core.errors import ConfigurationError

_ENV_PREFIX = "INDUNET_"


class ProvisionProfile(BaseModel):
    """What a ThingsBoard provision key grants: devices of ``type`` in ``tenant`` (by name), given the secret."""

    model_config = {"extra": "forbid", "frozen": True}

    secret: str = Field(min_length=16, max_length=256)
    tenant: str = Field(min_length=1)
    type: str = Field(min_length=1)


class ActivityProfile(BaseModel):
    """What "working" and "making" mean for a device type, for the equipment indices."""

    model_config = {"extra": "forbid", "frozen": True}

    working_point: str = Field(min_length=1, max_length=64)
    above: float = 0.0
    """The machine works while the point's value is above this."""
    max_gap_s: float = Field(default=120.0, gt=0, le=86_400)
    """A sample speaks for at most this long: a longer silence is time not connected."""
    count_point: str | None = Field(default=None, max_length=64)
    """A counter of parts made (it only grows, or starts again from zero)."""
    reject_point: str | None = Field(default=None, max_length=64)
    ideal_cycle_s: float | None = Field(default=None, gt=0)
    """Ideal time per part; a device's attribute ``ideal_cycle_s`` overrides it."""
    energy_point: str | None = Field(default=None, max_length=64)
    """A counter of energy consumed, in kWh (energy per part, energy per working hour)."""


class IdrNode(BaseModel):
    """An identifier node the console shows in the prefix tree, with its health."""

    model_config = {"extra": "forbid", "frozen": True}

    name: str = Field(min_length=1, max_length=64)
    role: Literal["top", "secondary", "enterprise", "recursive"]
    prefix: str = Field(default="", max_length=128)
    """Empty for a recursive node."""
    address: str = Field(pattern=r"^[0-9A-Fa-f.:\[\]]+:[0-9]{1,5}$")
    """``HOST:PORT`` of its Handle protocol interface (UDP and TCP)."""
    ledger: str = Field(default="", max_length=512, pattern=r"^(https?://\S+)?$")
    """Its allocation ledger's API (``http://host:port/api/v1/ledger``) when it keeps one."""
    ledger_log: str = Field(default="", max_length=128)
    """The BID of that ledger's key: heads signed by any other key are refused (recommended)."""


class MqttSubscription(BaseModel):
    """A topic filter on an external broker whose JSON messages become telemetry of one tenant."""

    model_config = {"extra": "forbid", "frozen": True}

    broker_url: str
    """``mqtt://host:1883``, as for Sparkplug."""
    topic: str = Field(min_length=1, max_length=1024)
    tenant: str
    device: str = Field(min_length=1, max_length=256)
    """Device name template: ``{n}`` is the topic's n-th segment (0-based), e.g. ``line1-{2}``."""
    device_type: str = ""
    """Type for devices created on their first message; empty: only existing devices are fed."""
    points: dict[str, str] = Field(default_factory=dict)
    """JSON field (``a.b`` for nested) → point; empty: top-level fields named like the points."""
    timestamp_field: str = ""
    """JSON field holding the sample time (epoch s/ms/µs or RFC 3339); empty: arrival time."""


class Settings(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    data_dir: Path = Path("var")
    database_url: str = ""
    """Empty means SQLite files under ``data_dir``; ``postgresql://user@host:port/db`` for server mode."""
    database_schema: str = "public"
    """PostgreSQL schema holding indunet's tables; lets several installations share one database."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = ""

    jwt_secret: str = ""
    """HS256 key for access tokens; generated into ``data_dir/jwt.key`` on first start when empty."""
    jwt_issuer: str = "indunet"
    jwt_audience: str = "indunet-api"
    access_token_ttl_s: int = Field(default=900, ge=30, le=86400)

    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_batch_points: int = Field(default=200_000, ge=1)
    max_page_size: int = Field(default=1000, ge=1)
    max_query_points: int = Field(default=100_000, ge=1)

    default_retention_days: int = Field(default=365, ge=1)
    offline_after_s: int = Field(default=60, ge=1)
    """A device that sent nothing for this long is shown offline."""

    language: str = "en"

    mqtt_port: int = Field(default=1883, ge=0, le=65535)
    """Device-facing MQTT 5 endpoint (ThingsBoard device API); 0 keeps it closed."""
    mqtt_host: str = ""
    """Empty means the same address as ``host``."""
    mqtt_tls_port: int = Field(default=0, ge=0, le=65535)
    """Second device MQTT listener, over TLS (8883 by custom); 0 keeps it closed. Needs cert and key."""
    mqtt_tls_cert: str = ""
    """PEM file: the server certificate, followed by any intermediate certificates."""
    mqtt_tls_key: str = ""
    """PEM file: the certificate's private key, unencrypted (protect it by file permissions)."""
    mqtt_tls_ca: str = ""
    """PEM file: the CA certificates that device (client) certificates must chain to."""
    mqtt_tls_client_auth: Literal["none", "optional", "required"] = "none"
    """Ask devices for an X.509 certificate; they are still identified by their access token."""
    mqtt_max_packet_bytes: int = Field(default=65536, ge=256, le=16 * 1024 * 1024)
    mqtt_receive_maximum: int = Field(default=100, ge=1, le=65535)
    """QoS 1 messages a client may have unacknowledged at once (MQTT 5 Receive Maximum)."""
    mqtt_device_rate: float = Field(default=100.0, gt=0)
    mqtt_device_burst: float = Field(default=200.0, ge=1)
    mqtt_tenant_rate: float = Field(default=20_000.0, gt=0)
    mqtt_tenant_burst: float = Field(default=40_000.0, ge=1)
    """Messages per second (and bucket size) per device and per tenant; beyond: quota exceeded (0x97)."""
    mqtt_provisioning: dict[str, ProvisionProfile] = Field(default_factory=dict)
    """Provision key → profile for ThingsBoard device provisioning over MQTT; empty refuses every request."""

    indices_timezone: str = "Asia/Shanghai"
    """The time zone whose calendar days the equipment indices count in."""
    indices_planned_hours: float = Field(default=16.0, gt=0, le=24)
    """Planned production time per machine and day (two shifts by default): utilisation and OEE's base."""
    indices_min_hours: float = Field(default=1.0, ge=0, le=24)
    """Working hours per connected day for a machine to count as operating (the operating rate)."""
    indices_profiles: dict[str, ActivityProfile] = Field(default_factory=dict)
    """Device type → what working means for it; adds to or replaces the built-in profiles."""

    bus_url: str = ""
    """Empty: telemetry is committed in the ingesting process. ``nats://host:4222``: through JetStream."""
    bus_prefix: str = Field(default="indunet", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    """Names this installation's JetStream stream and subjects; lets several share one NATS server."""
    bus_ack_wait_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    """How long a writer may hold a message before JetStream hands it to another writer."""
    bus_rule_partitions: int = Field(default=8, ge=1, le=1024)
    """Devices are spread over this many rule partitions, each evaluated by one rule worker at a time:
    more rule workers than partitions sit idle. The same in every process; change only when empty."""
    bus_rule_lease_s: float = Field(default=10.0, ge=1.0, le=300.0)
    """A rule worker that stopped renewing its partitions loses them to the others after this long."""

    sparkplug_broker_url: str = ""
    """``mqtt://host:1883`` where Sparkplug B edge nodes publish; empty keeps the host application off."""
    sparkplug_tenant: str = ""
    """Name of the tenant the Sparkplug edge nodes and their devices belong to."""
    sparkplug_host_id: str = Field(default="indunet", pattern=r"^[^/+#]{1,64}$")
    """Sparkplug host application id: names the STATE topic ``spBv1.0/STATE/<id>``."""
    sparkplug_group_filter: str = Field(default="+", pattern=r"^[^/+#]{1,256}$|^\+$")
    """One Sparkplug group id to host, or ``+`` for every group on the broker."""
    mqtt_subscriptions: tuple[MqttSubscription, ...] = ()
    """Generic MQTT JSON subscriptions on external brokers (TOML ``[[mqtt_subscriptions]]`` tables)."""

    idr_prefix: str = Field(default="", max_length=128)
    """Identifier prefix this installation registers under (``88.100.1``); empty: identifiers off."""
    idr_store: str = ""
    """The enterprise node's records: a SQLite file or ``postgresql://`` URL; empty: ``idr.db`` in
    ``data_dir``."""
    idr_resolver: str = ""
    """``HOST:PORT`` of the recursive node the console resolves identifiers through."""
    idr_signing_key: str = ""
    """PEM private key of the installation's prefix: certifies its identifier carriers. Empty:
    ``idr-prefix-key.pem`` in ``data_dir``, made on first start (SM2, readable by its owner only)."""
    idr_sign_records: bool = False
    """Sign every record of the prefix as it is written (HS_SIGNATURE) with that key. Turn on once the
    parent prefix has certified the key (``indunet idr certify``): a resolver that checks signatures
    refuses records signed by a key nobody certified."""
    idr_nodes: tuple[IdrNode, ...] = ()
    """Nodes shown in the console's prefix tree (TOML ``[[idr_nodes]]`` tables)."""

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secret(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("jwt_secret must be at least 32 characters (or empty to generate one)")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and not value.startswith(("postgresql://", "postgres://", "sqlite://")):
            raise ValueError("database_url must start with postgresql:// or sqlite://")
        return value.replace("postgres://", "postgresql://", 1) if value.startswith("postgres://") else value

    @field_validator("bus_url")
    @classmethod
    def _known_bus(cls, value: str) -> str:
        if value and not value.startswith(("nats://", "tls://")):
            raise ValueError("bus_url must be empty (in-process) or start with nats:// or tls://")
        return value

    @model_validator(mode="after")
    def _distinct_mqtt_ports(self) -> Settings:
        if self.mqtt_tls_port and self.mqtt_tls_port == self.mqtt_port:
            raise ValueError("mqtt_tls_port must differ from mqtt_port")
        return self

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql://")

    @property
    def metadata_url(self) -> str:
        """SQLAlchemy URL of the metadata database."""
        if self.is_postgres:
            return self.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'indunet.db'}"

    @property
    def timeseries_url(self) -> str:
        if self.is_postgres:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'timeseries.db'}"

    def resolved_jwt_secret(self) -> str:
        """The configured key, or one kept in the data directory so tokens survive restarts."""
        if self.jwt_secret:
            return self.jwt_secret
        path = self.data_dir / "jwt.key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    fields = Settings.model_fields
    found: dict[str, Any] = {}
    for key, value in environ.items():
        if key.startswith(_ENV_PREFIX) and key != "INDUNET_CONFIG":
            name = key[len(_ENV_PREFIX) :].lower()
            if name in fields:
                found[name] = value
    return found


_SEALED = "sm4:"
"""The prefix of sealed values; only settings that may hold one import the crypto stack."""


def _opened(
    values: dict[str, Any], from_env: dict[str, Any], toml_path: Path, env: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The file's values and the variables' values with their sealed strings opened; one keyring
    (loaded at most once) for both, and the variables named as they are set."""
    from indunet.security import sealed

    ring = sealed.ring_loader(sealed.keyring_path(toml_path, env))
    file_values = sealed.open_tree(values, ring, source=str(toml_path))
    variables = {_ENV_PREFIX + k.upper(): v for k, v in from_env.items()}
    opened = sealed.open_tree(variables, ring, source="environment")
    return file_values, {k[len(_ENV_PREFIX) :].lower(): v for k, v in opened.items()}


def load_settings(
    path: Path | None = None, environ: dict[str, str] | None = None, **overrides: Any
) -> Settings:
    """Defaults, then the TOML file, then the environment, then explicit overrides (CLI flags)."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    named = path or (Path(env["INDUNET_CONFIG"]) if env.get("INDUNET_CONFIG") else None)
    toml_path = named or Path("indunet.toml")
    text = ""
    if toml_path.exists():
        try:
            text = toml_path.read_text(encoding="utf-8")
            values.update(tomllib.loads(text))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"{toml_path}: {exc}", key="error.config") from exc
    elif named is not None:
        # A file someone named but mistyped must not silently fall back to the embedded defaults.
        raise ConfigurationError(f"configuration file not found: {named}", key="error.config")
    from_env = _from_env(env)
    if _SEALED in text or any(str(v).startswith(_SEALED) for v in from_env.values()):
        values, from_env = _opened(values, from_env, toml_path, env)
    values.update(from_env)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"invalid settings: {problems}", key="error.config") from exc
