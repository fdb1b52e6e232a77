"""The keyring: master keys that never live in the database, and keys derived from them.

A keyring is a small JSON file (mode 600; a file that others may read or write is refused,
as ssh refuses such a private key) or the environment variable KONTOR_MASTER_KEY (base64
of 32 bytes). Every other key is derived with HKDF-SHA256 from the active master
key and a purpose label, so a destination's pseudonymisation key, its encryption key and
the tokenisation key are independent of each other and of the master key.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hub.errors import KeyringError

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
            raise KeyringError(f"master key {kid!r} is not in the keyring: wrong keyring or "
                               f"{ENV_MASTER_KEY}, or a key retired too early?",
                               where=self.source)
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
        raise KeyringError(f"a master key must be base64 of {KEY_BYTES} bytes", where=where)
    return raw


def load(path: Path) -> Keyring:
    """The keyring from the environment, else from ``path``; a clear error when neither."""
    if os.environ.get(ENV_MASTER_KEY):
        return Keyring("env", {"env": _decode(os.environ[ENV_MASTER_KEY], ENV_MASTER_KEY)},
                       ENV_MASTER_KEY)
    try:
        check_private(path)
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyringError(f"no keyring: run `kontor keys init` or set {ENV_MASTER_KEY}",
                           where=str(path)) from None
    except (OSError, ValueError) as exc:
        raise KeyringError(f"unreadable keyring ({type(exc).__name__})",
                           where=str(path)) from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise KeyringError("unreadable keyring (no keys)", where=str(path))
    keys = {kid: _decode(v, str(path)) for kid, v in entries.items()}
    if data.get("active") not in keys:
        raise KeyringError("unreadable keyring (the active key is not in keys)",
                           where=str(path))
    return Keyring(data["active"], keys, str(path))


def check_private(path: Path) -> None:
    """Refuse a keyring file that anyone but its owner may read or write (as ssh does)."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        what = "readable" if mode & 0o044 else "writable"
        raise KeyringError(f"keyring {path} is {what} by others (mode {mode:04o}): "
                           "chmod 600 it")


def save(keyring: Keyring, path: Path) -> None:
    """Write atomically with owner-only permissions."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if os.name == "posix":
        os.fchmod(fd, 0o600)  # a stale .tmp left by a crash keeps its old mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"active": keyring.active,
                   "keys": {k: base64.b64encode(v).decode() for k, v in keyring.keys.items()}},
                  fh, indent=2)
    os.replace(tmp, path)


def create(path: Path) -> Keyring:
    """A new keyring with one random master key; refuses to overwrite an existing one."""
    if path.exists():
        raise KeyringError("a keyring exists already; use `kontor keys rotate`",
                           where=str(path))
    keyring = Keyring("k1", {"k1": secrets.token_bytes(KEY_BYTES)}, str(path))
    save(keyring, path)
    return keyring
