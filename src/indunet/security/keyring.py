"""Keys for data at rest: SM4 keys by id, the newest sealing, every one still opening.

Sealed data is ``SM4G`` + id length (1 octet) + id + SM4-GCM output (nonce, ciphertext, tag), with
associated data naming where it belongs (a record and value index, say), so that a sealed value
moved to another place does not open. Rotation (:meth:`Keyring.rotate`) adds a key that seals from
then on; data sealed under older keys opens until it is sealed again (``indunet idr rekey``).

The keyring is a JSON file readable by its owner only, written whole and atomically. Whoever holds
it can open the data: keep it apart from database backups.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from indunet.security.crypto import sm4

MAGIC = b"SM4G"


class KeyringError(ValueError):
    """A keyring that cannot be read, or sealed data it cannot open."""


@dataclass
class Keyring:
    keys: dict[str, bytes]
    current: str
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def new(cls, path: Path | None = None) -> Keyring:
        key_id = _new_id()
        ring = cls({key_id: sm4.new_key()}, key_id, path)
        ring.save()
        return ring

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            raw = json.loads(path.read_text())
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in raw["keys"].items()}
            current = str(raw["current"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyringError(f"cannot read the keyring {path}: {exc}") from None
        if current not in keys or any(len(k) != sm4.KEY_SIZE for k in keys.values()):
            raise KeyringError(f"the keyring {path} is inconsistent")
        return cls(keys, current, path)

    @classmethod
    def load_or_new(cls, path: Path) -> Keyring:
        return cls.load(path) if path.exists() else cls.new(path)

    def save(self) -> None:
        if self.path is None:
            return
        text = json.dumps(
            {
                "current": self.current,
                "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()},
            },
            indent=1,
        )
        partial = self.path.with_name(self.path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.path)

    def rotate(self) -> str:
        """A new key seals from now on; the id of the new key."""
        key_id = _new_id()
        self.keys[key_id] = sm4.new_key()
        self.current = key_id
        self.save()
        return key_id

    def seal(self, data: bytes, associated: bytes) -> bytes:
        key_id = self.current.encode()
        return MAGIC + bytes((len(key_id),)) + key_id + sm4.seal(self.keys[self.current], data, associated)

    def open(self, sealed: bytes, associated: bytes) -> bytes:
        if not is_sealed(sealed):
            raise KeyringError("not sealed data")
        size = sealed[len(MAGIC)]
        start = len(MAGIC) + 1
        key_id = sealed[start : start + size].decode("ascii", "replace")
        key = self.keys.get(key_id)
        if key is None:
            raise KeyringError(f"sealed with key {key_id!r}, which this keyring does not hold")
        try:
            return sm4.open_sealed(key, sealed[start + size :], associated)
        except sm4.DecryptionFailed as exc:
            raise KeyringError(f"sealed data does not open: {exc}") from None

    def sealed_by_current(self, sealed: bytes) -> bool:
        key_id = self.current.encode()
        return sealed[len(MAGIC) : len(MAGIC) + 1 + len(key_id)] == bytes((len(key_id),)) + key_id


def is_sealed(data: bytes) -> bool:
    return data.startswith(MAGIC) and len(data) > len(MAGIC) + 1


def _new_id() -> str:
    return "k" + secrets.token_hex(4)
