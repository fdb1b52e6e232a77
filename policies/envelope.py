"""Envelope encryption for restricted values at rest.

Each subject (one golden record) has its own data key (DEK). DEKs are stored only wrapped
by a key-encryption key derived from a master key in the keyring, never in the database in
the clear, and carry the master key's id, so `kontor keys rotate` re-wraps them without
touching the data. Deleting a subject's wrapped DEK makes its restricted values unreadable
everywhere, backups included (crypto-shredding).

Sealed values come in two formats, told apart by their prefix (the version marker):

- ``sealed:v2:`` (written now): the JSON plaintext is padded to a fixed *bucket* before
  encryption (ISO/IEC 7816-4: one 0x80 byte, then zero bytes), so every value of a field
  sealed into the same bucket has the same length, and "absent" (``None``) is sealed too.
  The bucket is chosen by the caller per field (``hub.store.sealing``); a value that does
  not fit goes to the next bucket of ``BUCKETS`` (beyond the largest: the next multiple of
  it), which reveals only that the value is unusually long.
- ``sealed:v1:`` (before issue 14): unpadded, so the length of the ciphertext follows the
  length of the value. Still opened; ``kontor keys reseal`` rewrites them as v2.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterator
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.errors import WrongKeyringError
from policies import keys
from policies.keys import Keyring

SEALED_PREFIX = "sealed:v1:"  # the legacy, unpadded format
PADDED_PREFIX = "sealed:v2:"
_ANY_PREFIX = "sealed:v"

#: Plaintext sizes (bytes, padding included) a sealed value is padded to.
BUCKETS: tuple[int, ...] = (64, 256, 1024, 4096)
_NONCE, _TAG = 12, 16


class UnreadableValue(Exception):
    """The key is gone (crypto-shredded) or the ciphertext was tampered with or moved."""


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    # base64.urlsafe_b64encode, without its extra copies (one per sealed value)
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=") \
        .decode("ascii")


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
        except InvalidTag:  # another deployment's keyring: one clear error, no key shown
            raise WrongKeyringError(self.keyring.source) from None


def bucket_for(size: int, minimum: int = BUCKETS[0]) -> int:
    """The padded size for a plaintext of ``size`` bytes (plus the one padding byte), at
    least ``minimum``: the smallest bucket that fits, else the next multiple of the largest."""
    need = size + 1
    for bucket in BUCKETS:
        if bucket >= minimum and bucket >= need:
            return bucket
    top = max(BUCKETS[-1], minimum)
    return -(-need // top) * top


def _pad(plain: bytes, bucket: int) -> bytes:
    size = bucket_for(len(plain), bucket)
    return plain + b"\x80" + b"\0" * (size - len(plain) - 1)


#: "absent" padded, per bucket: most restricted fields are empty, so most plaintexts are it
_ABSENT = {bucket: _pad(orjson.dumps(None), bucket) for bucket in BUCKETS}


def _unpad(padded: bytes) -> bytes:
    plain = padded.rstrip(b"\0")
    if not plain.endswith(b"\x80"):
        raise UnreadableValue("a sealed value has no valid padding")
    return plain[:-1]


def sealed_length(bucket: int) -> int:
    """The length of a v2 sealed value whose plaintext fits ``bucket`` bytes."""
    raw = _NONCE + bucket + _TAG
    return len(PADDED_PREFIX) + (4 * raw + 2) // 3


#: A data key made ready to seal and open many values (``cipher``).
Cipher = AESGCM


def cipher(dek: bytes) -> Cipher:
    """The data key's cipher, made once for a batch of values under that key."""
    return AESGCM(dek)


def seal(dek: bytes, value: object, aad: str, *, bucket: int = BUCKETS[0]) -> str:
    """Encrypt any JSON-able value, ``None`` (absent) included, padded to at least
    ``bucket`` bytes; ``aad`` binds it to its record and field."""
    return seal_with(AESGCM(dek), value, aad.encode(), bucket)


def nonces(count: int) -> Iterator[bytes]:
    """``count`` fresh random nonces, each used once, from one read of the operating
    system's random source: a batch of values costs one system call, not one a value.
    Slices of one ``os.urandom`` read are as random as separate reads."""
    pool = os.urandom(_NONCE * count)
    return (pool[i:i + _NONCE] for i in range(0, len(pool), _NONCE))


def seal_with(aead: Cipher, value: object, aad: bytes, bucket: int = BUCKETS[0], *,
              nonce: bytes | None = None) -> str:
    """``seal`` with the data key's cipher made once (a batch seals many values under one
    key): the same format, and still a fresh random nonce for every value (``nonce``: one
    of ``nonces``, never given twice; else one is drawn here)."""
    if nonce is None:
        nonce = os.urandom(_NONCE)
    plain = _ABSENT.get(bucket) if value is None else None
    if plain is None:
        plain = _pad(orjson.dumps(value, default=str), bucket)
    return PADDED_PREFIX + _b64(nonce + aead.encrypt(nonce, plain, aad))


def seal_v1(dek: bytes, value: object, aad: str) -> str:
    """The legacy unpadded format (length leaks): only for tests and ``bench/``."""
    nonce = os.urandom(_NONCE)
    plain = orjson.dumps(value, default=str)
    return SEALED_PREFIX + _b64(nonce + AESGCM(dek).encrypt(nonce, plain, aad.encode()))


def unseal(dek: bytes, token: str, aad: str) -> object:
    return unseal_with(AESGCM(dek), token, aad.encode())


def unseal_with(aead: Cipher, token: str, aad: bytes) -> object:
    """``unseal`` with the data key's cipher made once."""
    padded = token.startswith(PADDED_PREFIX)
    if not padded and not token.startswith(SEALED_PREFIX):
        raise UnreadableValue("not a sealed value of a known format")
    raw = _unb64(token[len(PADDED_PREFIX if padded else SEALED_PREFIX):])
    try:
        plain = aead.decrypt(raw[:_NONCE], raw[_NONCE:], aad)
    except InvalidTag:
        raise UnreadableValue("a sealed value does not decrypt (moved or altered)") from None
    return orjson.loads(_unpad(plain) if padded else plain)


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(_ANY_PREFIX)


def is_padded(value: object) -> bool:
    """Sealed in the current, length-hiding format."""
    return isinstance(value, str) and value.startswith(PADDED_PREFIX)
