"""``indunet secrets``: credentials in configuration files, sealed with SM4-GCM (docs/security.md).

- ``indunet secrets seal [--keyring FILE | --config FILE]`` reads a secret from standard input (without
  echo at a terminal) and prints it sealed (``sm4:…``), to paste into a gateway or settings file;
- ``indunet secrets seal-config --config FILE [--keyring FILE]`` seals, in a gateway configuration,
  every plain credential (the uplink token; password, token, secret, private_key_password and api_key
  under a device's connection) in place, keeping comments and layout;
- ``indunet secrets rekey FILE... [--keyring FILE] [--drop-old]`` adds a new key to the keyring and
  seals every sealed value of the files again under it.

The keyring is ``--keyring``, else ``$INDUNET_KEYRING``, else ``<config file>.keyring.json`` beside
the configuration file: the same one the gateway and the platform open the values with. Files are
rewritten whole and atomically (a temporary file beside them, then a rename), keeping their mode.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from indunet.core.config import Settings
from indunet.core.errors import InvalidInput
from indunet.core.i18n import cli_language, translate

MAX_FILE_BYTES = 4 * 1024 * 1024


def _t(key: str, **params: Any) -> str:
    return translate(key, cli_language(), **params)


def _keyring_path(args: argparse.Namespace, config: Path | None) -> Path:
    from indunet.security import sealed

    if args.keyring:
        return Path(args.keyring)
    if config is not None:
        return sealed.keyring_path(config)
    if os.environ.get(sealed.KEYRING_ENV):
        return Path(os.environ[sealed.KEYRING_ENV])
    raise InvalidInput(_t("cli.secrets_keyring_required"), key="cli.secrets_keyring_required")


def _ring(path: Path, *, create: bool) -> Any:
    from indunet.security.keyring import Keyring, KeyringError

    try:
        if path.exists():
            return Keyring.load(path)
        if not create:
            raise InvalidInput(
                _t("cli.secrets_no_keyring", path=str(path)), key="cli.secrets_no_keyring", path=str(path)
            )
        ring = Keyring.new(path)
    except (KeyringError, OSError) as exc:
        raise InvalidInput(
            _t("cli.secrets_bad_keyring", error=str(exc)), key="cli.secrets_bad_keyring", error=str(exc)
        ) from None
    print(f"indunet: {_t('cli.secrets_keyring_created', path=str(path))}", file=sys.stderr)
    return ring


def _read(path: Path) -> str:
    """A configuration file's text as it is, line endings included."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidInput(
                _t("cli.secrets_too_large", path=str(path), limit=MAX_FILE_BYTES),
                key="cli.secrets_too_large",
                path=str(path),
                limit=MAX_FILE_BYTES,
            )
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            _t("cli.secrets_unreadable", path=str(path), error=str(exc)),
            key="cli.secrets_unreadable",
            path=str(path),
            error=str(exc),
        ) from None


def _write_atomic(path: Path, text: str) -> None:
    """Replace the file (the target of a symbolic link) by ``text`` in one rename, keeping its mode."""
    target = Path(os.path.realpath(path))
    mode = stat.S_IMODE(target.stat().st_mode)
    fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, mode)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _secret_from_stdin() -> str:
    from indunet.security import sealed

    if sys.stdin.isatty():
        secret = getpass.getpass(_t("cli.secrets_prompt"))
    else:
        secret = sys.stdin.read(sealed.MAX_PLAINTEXT_BYTES + 3)
        # One final line break is what ``echo`` and here-documents add, not part of the secret.
        secret = secret.removesuffix("\n").removesuffix("\r")
    if not secret:
        raise InvalidInput(_t("cli.secrets_empty"), key="cli.secrets_empty")
    if len(secret.encode("utf-8")) > sealed.MAX_PLAINTEXT_BYTES:
        raise InvalidInput(
            _t("cli.secrets_too_long", limit=sealed.MAX_PLAINTEXT_BYTES),
            key="cli.secrets_too_long",
            limit=sealed.MAX_PLAINTEXT_BYTES,
        )
    return secret


def cmd_secrets_seal(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.security import sealed

    path = _keyring_path(args, Path(args.target) if args.target else None)
    secret = _secret_from_stdin()
    ring = _ring(path, create=True)
    print(sealed.seal_string(ring, secret))
    return 0


def _kind(path: Path, text: str, named: str | None) -> str:
    if named:
        return named
    if path.suffix.lower() == ".toml":
        return "settings"
    with contextlib.suppress(yaml.YAMLError):
        data = yaml.safe_load(text)
        if isinstance(data, dict) and ("uplink" in data or "devices" in data):
            return "gateway"
    raise InvalidInput(
        _t("cli.secrets_unknown_kind", path=str(path)), key="cli.secrets_unknown_kind", path=str(path)
    )


def cmd_secrets_seal_config(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.edge.config import is_credential
    from indunet.security import sealed

    config = Path(args.target)
    text = _read(config)
    if _kind(config, text, args.kind) == "settings":
        raise InvalidInput(
            _t("cli.secrets_settings_in_place", path=str(config)),
            key="cli.secrets_settings_in_place",
            path=str(config),
        )
    ring = _ring(_keyring_path(args, config), create=True)
    try:
        new_text, done, already = sealed.seal_yaml_fields(text, ring, is_credential)
    except (yaml.YAMLError, ValueError) as exc:
        raise InvalidInput(
            _t("cli.secrets_cannot_seal", path=str(config), error=str(exc)),
            key="cli.secrets_cannot_seal",
            path=str(config),
            error=str(exc),
        ) from None
    if not done:
        print(_t("cli.secrets_nothing_to_seal", path=str(config), already=len(already)))
        return 0
    _write_atomic(config, new_text)
    print(
        _t(
            "cli.secrets_sealed_fields",
            path=str(config),
            count=len(done),
            key_id=ring.current,
            fields=", ".join(done),
        )
    )
    return 0


def cmd_secrets_rekey(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.security import sealed
    from indunet.security.keyring import Keyring, KeyringError

    files = list(dict.fromkeys(Path(f) for f in args.files))
    if args.keyring or os.environ.get(sealed.KEYRING_ENV):
        path = _keyring_path(args, None)
    else:
        beside = sorted({str(sealed.keyring_path(f)) for f in files})
        if len(beside) > 1:
            raise InvalidInput(
                _t("cli.secrets_keyrings_differ", paths=", ".join(beside)),
                key="cli.secrets_keyrings_differ",
                paths=", ".join(beside),
            )
        path = Path(beside[0])
    ring = _ring(path, create=False)
    texts = [(f, _read(f)) for f in files]
    # Everything is resealed in memory under a trial ring first: a token that does not open stops
    # the command before the keyring or any file has changed.
    trial = Keyring(dict(ring.keys), ring.current)
    key_id = trial.rotate()
    results: list[tuple[Path, str, int]] = []
    for file, text in texts:
        try:
            new_text, count = sealed.reseal_text(text, trial)
        except (KeyringError, ValueError) as exc:
            raise InvalidInput(
                _t("cli.secrets_reseal_failed", path=str(file), error=str(exc)),
                key="cli.secrets_reseal_failed",
                path=str(file),
                error=str(exc),
            ) from None
        results.append((file, new_text, count))
    # The new key is on disk before any file depends on it.
    trial.path = ring.path
    trial.save()
    written: list[str] = []
    for file, new_text, count in results:
        if count:
            try:
                _write_atomic(file, new_text)
            except OSError as exc:
                where, error, done = str(file), str(exc), ", ".join(written) or "-"
                raise InvalidInput(
                    _t("cli.secrets_write_failed", path=where, error=error, done=done),
                    key="cli.secrets_write_failed",
                    path=where,
                    error=error,
                    done=done,
                ) from None
            written.append(str(file))
        print(_t("cli.secrets_resealed", path=str(file), count=count))
    print(_t("cli.secrets_rekeyed", key_id=key_id, count=sum(r[2] for r in results), files=len(results)))
    old = sorted(k for k in trial.keys if k != key_id)
    if args.drop_old and old:
        for key in old:
            del trial.keys[key]
        trial.save()
        print(_t("cli.secrets_old_dropped", keys=", ".join(old)))
    elif old:
        print(_t("cli.secrets_old_kept", keys=", ".join(old)))
    return 0


def register(commands: Any, add: Any) -> None:
    """Add ``secrets`` to the top-level sub-commands (``add`` as in ``cli.build_parser``)."""
    secrets = commands.add_parser("secrets", help=_t("cli.help.secrets")).add_subparsers(
        dest="sub", required=True
    )
    # ``dest`` differs from the global --config (the settings file), which a sub-command's own default
    # would otherwise overwrite.
    seal = add("seal", cmd_secrets_seal, "cli.help.secrets_seal", secrets)
    where = seal.add_mutually_exclusive_group()
    where.add_argument("--keyring", metavar="FILE", help=_t("cli.help.secrets_keyring"))
    where.add_argument("--config", dest="target", metavar="FILE", help=_t("cli.help.secrets_config"))
    seal_config = add("seal-config", cmd_secrets_seal_config, "cli.help.secrets_seal_config", secrets)
    seal_config.add_argument(
        "--config", dest="target", required=True, metavar="FILE", help=_t("cli.help.secrets_config_file")
    )
    seal_config.add_argument("--keyring", metavar="FILE", help=_t("cli.help.secrets_keyring"))
    seal_config.add_argument("--kind", choices=["gateway", "settings"], help=_t("cli.help.secrets_kind"))
    rekey = add("rekey", cmd_secrets_rekey, "cli.help.secrets_rekey", secrets)
    rekey.add_argument("files", nargs="+", metavar="FILE", help=_t("cli.help.secrets_files"))
    rekey.add_argument("--keyring", metavar="FILE", help=_t("cli.help.secrets_keyring"))
    rekey.add_argument("--drop-old", action="store_true", help=_t("cli.help.secrets_drop_old"))
