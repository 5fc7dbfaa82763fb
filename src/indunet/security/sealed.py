"""Sealed strings in configuration files: a credential written as ``sm4:…`` instead of in plain text.

A sealed string is ``sm4:`` followed by the URL-safe base64 alphabet (RFC 4648 §5: ``A–Z a–z 0–9 - _``)
of :meth:`Keyring.seal` output, *without* ``=`` padding, so a token needs no quoting in YAML, TOML,
a URL or a shell, and a regular expression finds it in any text. Decoding is strict: a character
outside the alphabet, an impossible length or a non-canonical last character (one whose unused low
bits are set) is refused, so a token has exactly one spelling and any changed character fails.

Every value is sealed with the same associated data, ``indunet-config``: it binds a token to the
purpose "configuration" (a sealed identifier secret of the identifier store does not open here, nor
the reverse), not to the field it sits in. Files are edited by people, and values get moved between
fields, devices and files; whoever can edit the file can replace a value anyway. What sealing defends
against is a configuration file, or a backup of it, that leaks *without* the keyring.

Where the keyring is (:func:`keyring_path`): ``$INDUNET_KEYRING`` when set, else
``<config file>.keyring.json`` beside the configuration file. Opening (:func:`open_tree`) loads it only
when the configuration holds a sealed string, so files without one never need a keyring.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from indunet.core.errors import ConfigurationError
from indunet.security.keyring import MAGIC, Keyring, KeyringError

PREFIX = "sm4:"
PURPOSE = b"indunet-config"
KEYRING_ENV = "INDUNET_KEYRING"
MAX_PLAINTEXT_BYTES = 8 * 1024
# MAGIC, id length, id (at most 255), nonce (12) and tag (16) around the plaintext, in base64.
MAX_TOKEN_CHARS = len(PREFIX) + -(-(MAX_PLAINTEXT_BYTES + len(MAGIC) + 1 + 255 + 12 + 16) * 4 // 3)
MAX_TEXT_CHARS = 4 * 1024 * 1024
"""Largest file text :func:`reseal_text` and :func:`seal_yaml_fields` take (the gateway's limit)."""

_BODY = re.compile(r"[A-Za-z0-9_-]+")
# The shortest token: MAGIC, id length, a one-character id, nonce and tag, in base64.
_MIN_BODY = -(-(len(MAGIC) + 2 + 12 + 16) * 4 // 3)
TOKEN = re.compile(rf"(?<![A-Za-z0-9_-])sm4:[A-Za-z0-9_-]{{{_MIN_BODY},}}")
"""A sealed token inside a file's text: comments and quotes around it are not part of it, and a
comment mentioning ``sm4:…`` is not a token."""

RingLoader = Callable[[], Keyring]
"""Gives the keyring, or raises :class:`KeyringError` saying why there is none."""


def seal_string(ring: Keyring, text: str) -> str:
    """``text`` sealed under the ring's current key, as a token to paste into a configuration file."""
    data = text.encode("utf-8")
    if len(data) > MAX_PLAINTEXT_BYTES:
        raise ValueError(f"a sealed value holds at most {MAX_PLAINTEXT_BYTES} bytes, not {len(data)}")
    return PREFIX + _encode(ring.seal(data, PURPOSE))


def is_sealed(value: object) -> bool:
    """Whether a configuration value is meant to be sealed (it may still be damaged)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def open_string(ring: Keyring, value: str) -> str:
    """The plaintext of a sealed token; :class:`KeyringError` when it is not one or does not open."""
    return _open_raw(ring, _decode(value)).decode("utf-8")


def _open_raw(ring: Keyring, raw: bytes) -> bytes:
    data = ring.open(raw, PURPOSE)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyringError("the sealed value is not UTF-8 text") from None
    return data


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(value: str) -> bytes:
    if not is_sealed(value):
        raise KeyringError(f"not a sealed value (sealed values start with {PREFIX!r})")
    if len(value) > MAX_TOKEN_CHARS:
        raise KeyringError(f"the sealed value is longer than {MAX_TOKEN_CHARS} characters")
    body = value[len(PREFIX) :]
    if not _BODY.fullmatch(body) or len(body) % 4 == 1:
        raise KeyringError("the sealed value is damaged (not unpadded URL-safe base64)")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise KeyringError("the sealed value is damaged (not unpadded URL-safe base64)") from None
    if _encode(raw) != body:  # unused low bits set in the last character: another spelling
        raise KeyringError("the sealed value is damaged (not canonical base64)")
    return raw


# --- where the keyring is, and opening a whole configuration --------------------------------------


def keyring_path(config: Path, environ: Mapping[str, str] | None = None) -> Path:
    """``$INDUNET_KEYRING``, else ``<config>.keyring.json`` beside the configuration file."""
    named = (os.environ if environ is None else environ).get(KEYRING_ENV)
    return Path(named) if named else config.with_name(config.name + ".keyring.json")


def ring_loader(path: Path) -> RingLoader:
    """Loads the keyring at ``path`` on its first call, and gives the same ring after that."""
    loaded: list[Keyring] = []

    def load() -> Keyring:
        if not loaded:
            if not path.exists():
                raise KeyringError(f"no keyring at {path} (set {KEYRING_ENV} if it is kept elsewhere)")
            loaded.append(Keyring.load(path))
        return loaded[0]

    return load


def open_tree(data: Any, load_ring: RingLoader, *, source: str = "") -> Any:
    """``data`` (parsed YAML, TOML or a dict of variables) with every sealed string opened.

    Dicts and lists are walked; mapping keys are left as they are. The keyring is loaded only when a
    sealed string is found. Sealed strings that cannot be opened (no keyring, a key the ring lacks, a
    damaged token) end in one :class:`ConfigurationError` naming each field by its dotted path
    (``devices[0].connection.password``) and never its value. Without sealed strings ``data`` itself
    is returned.
    """
    problems: list[str] = []
    ring: list[Keyring | KeyringError] = []

    def ring_or_error() -> Keyring | KeyringError:
        if not ring:
            try:
                ring.append(load_ring())
            except KeyringError as exc:
                ring.append(exc)
        return ring[0]

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, f"{where}.{k}" if where else str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if not is_sealed(node):
            return node
        found = ring_or_error()
        if isinstance(found, KeyringError):
            problems.append(f"{where or '(the value)'}: {found}")
            return node
        try:
            return open_string(found, node)
        except KeyringError as exc:
            problems.append(f"{where or '(the value)'}: {exc}")
            return node

    if not _any_sealed(data):
        return data
    opened = walk(data, "")
    if problems:
        listing = "\n  ".join(problems[:50])
        place = f"{source}: " if source else ""
        raise ConfigurationError(
            f"{place}{len(problems)} sealed value(s) cannot be opened:\n  {listing}",
            key="error.sealed_value",
            source=source or "-",
            problems=listing,
        )
    return opened


def _any_sealed(node: Any) -> bool:
    if isinstance(node, dict):
        return any(_any_sealed(v) for v in node.values())
    if isinstance(node, list):
        return any(_any_sealed(v) for v in node)
    return is_sealed(node)


# --- rewriting files in place ----------------------------------------------------------------------


def reseal_text(text: str, ring: Keyring) -> tuple[str, int]:
    """``text`` with every sealed token not under the ring's current key sealed again under it, and
    how many were. Only the tokens (:data:`TOKEN`) change: comments, quotes and layout stay as they
    were. A token that does not open raises :class:`KeyringError` naming its line, and nothing is
    returned."""
    _check_size(text)
    count = 0

    def again(match: re.Match[str]) -> str:
        nonlocal count
        try:
            raw = _decode(match.group())
            if ring.sealed_by_current(raw):
                ring.open(raw, PURPOSE)  # a damaged token under the current key still fails here
                return match.group()
            plain = _open_raw(ring, raw)
        except KeyringError as exc:
            line = text.count("\n", 0, match.start()) + 1
            raise KeyringError(f"line {line}: {exc}") from None
        count += 1
        return PREFIX + _encode(ring.seal(plain, PURPOSE))

    return TOKEN.sub(again, text), count


Place = tuple[str | int, ...]
"""A place in a YAML document: mapping keys and sequence indices from the root."""


def dotted(path: Place) -> str:
    """``("devices", 0, "connection", "password")`` as ``devices[0].connection.password``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def seal_yaml_fields(
    text: str, ring: Keyring, wanted: Callable[[Place], bool]
) -> tuple[str, list[str], list[str]]:
    """Seal, in the YAML ``text``, every plain scalar at a place ``wanted`` picks.

    Only the scalars' own spans (from ``yaml.compose``'s start and end marks) are replaced, by plain
    ``sm4:`` tokens, so comments, quoting elsewhere, order and indentation stay. Returns the new text,
    the dotted places sealed now and those found sealed already. Empty and null values are left; an
    anchored or tagged value (``&a secret``, ``!!str 1``) raises :class:`ValueError`, since replacing
    it would break its aliases. ``yaml.YAMLError`` for text that is not YAML.
    """
    _check_size(text)
    root = yaml.compose(text)
    spans: list[tuple[int, int, str, Place]] = []
    already: list[str] = []
    seen: set[int] = set()

    def visit(node: yaml.Node, path: Place) -> None:
        if isinstance(node, yaml.CollectionNode):
            if id(node) in seen:  # an alias of a mapping or list: its scalars were visited already
                return
            seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    visit(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                visit(item, (*path, index))
        elif isinstance(node, yaml.ScalarNode) and wanted(path):
            if node.tag == "tag:yaml.org,2002:null" or node.value == "":
                return
            if is_sealed(node.value):
                already.append(dotted(path))
                return
            start, end = node.start_mark.index, node.end_mark.index
            if text[start : start + 1] in ("&", "!"):  # an alias's marks are those of its anchor
                raise ValueError(f"{dotted(path)}: anchored or tagged, write the value plainly to seal it")
            token = seal_string(ring, node.value)
            if node.style in ("|", ">"):  # a block scalar's span ends with its line breaks: keep them
                token += text[start:end][len(text[start:end].rstrip()) :]
            spans.append((start, end, token, path))

    if root is not None:
        visit(root, ())
    out = text
    for start, end, token, _path in sorted(spans, key=lambda s: s[0], reverse=True):
        out = out[:start] + token + out[end:]
    _check_places(out, [(path, token.strip()) for _s, _e, token, path in spans])
    return out, [dotted(path) for _s, _e, _t, path in sorted(spans, key=lambda s: s[0])], already


def _check_places(text: str, expected: list[tuple[Place, str]]) -> None:
    """The rewritten text parses, and holds each token where its value was (else it is not written)."""
    data = yaml.safe_load(text)
    for path, token in expected:
        node = data
        for part in path:
            node = node[part]
        if node != token:
            raise ValueError(f"{dotted(path)}: sealing in place would change the file's structure")


def _check_size(text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"the text is longer than {MAX_TEXT_CHARS} characters")
