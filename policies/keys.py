"""The keyring: master keys that never live in the database, and keys derived from them.

A keyring is a small JSON file (mode 600) or the environment variable KONTOR_MASTER_KEY
(base64 of 32 bytes). Every other key is derived with HKDF-SHA256 from the active master
key and a purpose label, so a destination's pseudonymisation key, its encryption key and
the tokenisation key are independent of each other and of the master key.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hub.errors import ConfigError, ConfigProblem

ENV_MASTER_KEY = "KONTOR_MASTER_KEY"
KEY_BYTES = 32


@dataclass(frozen=True)
class Keyring:
    """Master keys by id; ``active`` encrypts, every key still decrypts."""

    active: str
    keys: dict[str, bytes]
    source: str  # where it came from, for messages (never the key)

    def __repr__(self) -> str:
        return f"Keyring(active={self.active!r}, keys={sorted(self.keys)}, source={self.source!r})"

    def master(self, key_id: str | None = None) -> bytes:
        kid = key_id or self.active
        if kid not in self.keys:
            raise ConfigError([ConfigProblem(self.source, "keys", f"master key {kid!r} is not "
                                             "in the keyring (was it retired too early?)")])
        return self.keys[kid]

    def derive(self, label: str, *, key_id: str | None = None, length: int = KEY_BYTES) -> bytes:
        """An independent key for ``label`` (e.g. ``pseudonymise|payroll.employees``)."""
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"kontor-v1",
                    info=label.encode("utf-8")).derive(self.master(key_id))

    def with_new_key(self) -> Keyring:
        new_id = f"k{len(self.keys) + 1}"
        while new_id in self.keys:
            new_id += "x"
        return Keyring(new_id, {**self.keys, new_id: secrets.token_bytes(KEY_BYTES)}, self.source)


def _decode(value: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ConfigError([ConfigProblem(where, "keys", f"a master key must be base64 of "
                                         f"{KEY_BYTES} bytes")])
    return raw


def load(path: Path) -> Keyring:
    """The keyring from the environment, else from ``path``; a clear error when neither."""
    if os.environ.get(ENV_MASTER_KEY):
        return Keyring("env", {"env": _decode(os.environ[ENV_MASTER_KEY], ENV_MASTER_KEY)},
                       ENV_MASTER_KEY)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(str(path), "", "no keyring: run `kontor keys init` "
                                         f"or set {ENV_MASTER_KEY}")]) from None
    except (OSError, ValueError) as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"unreadable keyring "
                                         f"({type(exc).__name__})")]) from None
    keys = {kid: _decode(v, str(path)) for kid, v in data.get("keys", {}).items()}
    if data.get("active") not in keys:
        raise ConfigError([ConfigProblem(str(path), "active", "the active key is not in keys")])
    return Keyring(data["active"], keys, str(path))


def save(keyring: Keyring, path: Path) -> None:
    """Write atomically with owner-only permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"active": keyring.active,
                   "keys": {k: base64.b64encode(v).decode() for k, v in keyring.keys.items()}},
                  fh, indent=2)
    os.replace(tmp, path)


def create(path: Path) -> Keyring:
    """A new keyring with one random master key; refuses to overwrite an existing one."""
    if path.exists():
        raise ConfigError([ConfigProblem(str(path), "", "a keyring exists already; "
                                         "use `kontor keys rotate`")])
    keyring = Keyring("k1", {"k1": secrets.token_bytes(KEY_BYTES)}, str(path))
    save(keyring, path)
    return keyring
