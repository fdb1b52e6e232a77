"""Envelope encryption for restricted values at rest.

Each subject (one golden record) has its own data key (DEK). DEKs are stored only wrapped
by a key-encryption key derived from a master key in the keyring, never in the database in
the clear, and carry the master key's id, so `kontor keys rotate` re-wraps them without
touching the data. Deleting a subject's wrapped DEK makes its restricted values unreadable
everywhere, backups included (crypto-shredding).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from policies import keys
from policies.keys import Keyring

SEALED_PREFIX = "sealed:v1:"


class UnreadableValue(Exception):
    """The key is gone (crypto-shredded) or the ciphertext was tampered with or moved."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Envelope:
    def __init__(self, keyring: Keyring):
        self.keyring = keyring
        self._keks: dict[str, AESGCM] = {}

    def _kek(self, key_id: str) -> AESGCM:
        if key_id not in self._keks:
            if key_id not in self.keyring.keys and Path(self.keyring.source).is_file():
                # Rotated by another process since we started: read the keyring again.
                self.keyring = keys.load(Path(self.keyring.source))
            self._keks[key_id] = AESGCM(self.keyring.derive("wrap-data-keys", key_id=key_id))
        return self._keks[key_id]

    def new_data_key(self, subject: str) -> tuple[bytes, str, str]:
        """(DEK, wrapped DEK, master key id) for ``subject`` (bound as associated data)."""
        dek = AESGCM.generate_key(bit_length=256)
        return dek, self.wrap(dek, subject), self.keyring.active

    def wrap(self, dek: bytes, subject: str, key_id: str | None = None) -> str:
        nonce = os.urandom(12)
        kid = key_id or self.keyring.active
        return _b64(nonce + self._kek(kid).encrypt(nonce, dek, subject.encode()))

    def unwrap(self, wrapped: str, subject: str, key_id: str) -> bytes:
        raw = _unb64(wrapped)
        try:
            return self._kek(key_id).decrypt(raw[:12], raw[12:], subject.encode())
        except InvalidTag:
            raise UnreadableValue(f"the data key of {subject} does not unwrap") from None


def seal(dek: bytes, value: object, aad: str) -> str:
    """Encrypt any JSON-able value; ``aad`` binds it to its record and field."""
    nonce = os.urandom(12)
    plain = orjson.dumps(value, default=str)
    return SEALED_PREFIX + _b64(nonce + AESGCM(dek).encrypt(nonce, plain, aad.encode()))


def unseal(dek: bytes, token: str, aad: str) -> object:
    raw = _unb64(token[len(SEALED_PREFIX):])
    try:
        return orjson.loads(AESGCM(dek).decrypt(raw[:12], raw[12:], aad.encode()))
    except InvalidTag:
        raise UnreadableValue("a sealed value does not decrypt (moved or altered)") from None


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)
