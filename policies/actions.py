"""What each policy action does to a value on its way out.

Every transform is deterministic for a given key, destination and value, so re-sending a
record sends the same bytes (targets stay idempotent and a second sync sends nothing).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV

from policies.keys import Keyring
from policies.spec import Action


class Context(NamedTuple):  # a tuple: built per transformed value, so it must be cheap
    """Where a value goes: needed for per-destination keys and associated data."""

    destination: str
    entity: str
    record_id: str
    field: str


def _text(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Transformer:
    """Applies actions; holds the keyring and caches derived keys per destination."""

    def __init__(self, keyring: Keyring | None):
        self.keyring = keyring
        self._keys: dict[str, bytes] = {}

    def _key(self, label: str, length: int = 32) -> bytes:
        if self.keyring is None:
            raise ValueError("this action needs a keyring (kontor keys init)")
        if label not in self._keys:
            self._keys[label] = self.keyring.derive(label, length=length)
        return self._keys[label]

    def apply(self, action: Action, value: Any, params: dict[str, Any], ctx: Context) -> Any:
        if value is None or action is Action.ALLOW:
            return value
        return _ACTIONS[action](self, value, params, ctx)

    # -- actions ----------------------------------------------------------------------------

    def _null(self, value: Any, params: dict[str, Any], ctx: Context) -> Any:
        return None

    def _mask(self, value: Any, params: dict[str, Any], ctx: Context) -> str:
        text = _text(value)
        first, last = int(params.get("keep_first", 0)), int(params.get("keep_last", 4))
        char = str(params.get("char", "*"))[:1] or "*"
        if first + last >= len(text):  # too short to show anything safely
            return char * len(text)
        return text[:first] + char * (len(text) - first - last) + text[len(text) - last:]

    def _generalise(self, value: Any, params: dict[str, Any], ctx: Context) -> Any:
        to = params.get("to")
        if isinstance(value, (dt.date, dt.datetime)):
            return value.strftime("%Y-%m") if to == "year_month" else value.year
        if "bands" in params and isinstance(value, (int, float, Decimal)):
            bands = sorted(Decimal(str(b)) for b in params["bands"])
            number = Decimal(str(value))
            lower = None
            for b in bands:
                if number < b:
                    return f"{lower}-{b}" if lower is not None else f"<{b}"
                lower = b
            return f">={lower}"
        digits = int(params.get("keep", 1))
        text = _text(value)
        return text[:digits]

    def _pseudonymise(self, value: Any, params: dict[str, Any], ctx: Context) -> str:
        # Keyed, with a subkey per destination: stable inside one destination, unlinkable
        # across destinations, and not brute-forceable without the key (unlike a bare hash).
        key = self._key(f"pseudonymise|{ctx.destination}")
        digest = hmac.new(key, f"{ctx.field}|{_text(value)}".encode(), hashlib.sha256)
        return "ps_" + digest.hexdigest()[:32]

    def _tokenise(self, value: Any, params: dict[str, Any], ctx: Context) -> str:
        # AES-SIV: deterministic authenticated encryption, reversible only with Kontor's key.
        siv = AESSIV(self._key("tokenise", 64))
        token = siv.encrypt(_text(value).encode(), [f"{ctx.entity}|{ctx.field}".encode()])
        return "tok_" + _b64(token)

    def detokenise(self, token: str, entity: str, field: str) -> str:
        if not token.startswith("tok_"):
            raise ValueError("not a Kontor token")
        siv = AESSIV(self._key("tokenise", 64))
        return siv.decrypt(_unb64(token[4:]), [f"{entity}|{field}".encode()]).decode()

    def _encrypt(self, value: Any, params: dict[str, Any], ctx: Context) -> str:
        # AES-GCM with the destination's key; the record and field are associated data, so a
        # ciphertext moved to another record or field fails to decrypt. The nonce is derived
        # from (aad, plaintext) with a separate key: identical input, identical output
        # (idempotent re-sends), and never one nonce for two different plaintexts.
        key = self._key(f"encrypt|{ctx.destination}")
        aad = f"{ctx.entity}|{ctx.record_id}|{ctx.field}".encode()
        plain = _text(value).encode()
        nonce = hmac.new(self._key(f"encrypt-nonce|{ctx.destination}"), aad + b"\0" + plain,
                         hashlib.sha256).digest()[:12]
        return "enc:v1:" + _b64(nonce + AESGCM(key).encrypt(nonce, plain, aad))

    def destination_key(self, destination: str) -> bytes:
        """The AES-256 key a destination needs to decrypt ``encrypt``-ed values."""
        return self._key(f"encrypt|{destination}")


def decrypt(key: bytes, ciphertext: str, *, entity: str, record_id: str, field: str) -> str:
    """What a destination runs to read an ``encrypt``-ed value (documented, and tested)."""
    raw = _unb64(ciphertext.removeprefix("enc:v1:"))
    aad = f"{entity}|{record_id}|{field}".encode()
    return AESGCM(key).decrypt(raw[:12], raw[12:], aad).decode()


_ACTIONS: dict[Action, Callable[..., Any]] = {
    Action.NULL: Transformer._null,
    Action.MASK: Transformer._mask,
    Action.GENERALISE: Transformer._generalise,
    Action.PSEUDONYMISE: Transformer._pseudonymise,
    Action.TOKENISE: Transformer._tokenise,
    Action.ENCRYPT: Transformer._encrypt,
}
