"""API tokens: created with a role and an expiry, shown once, stored only as a hash.

A token is ``kt_`` followed by 43 URL-safe characters (256 random bits). Because a token
has that much entropy, a plain SHA-256 is enough to store it: nobody can guess a token
from its hash, and slow password hashes (bcrypt, argon2) exist for *low*-entropy secrets
that can be brute-forced. A fast hash also keeps authentication to one indexed lookup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, select, update

from hub.auth.roles import Role
from hub.auth.tables import ApiToken, WebSession
from hub.errors import HubError
from hub.store import bulk

PREFIX = "kt_"
_TOKEN = re.compile(r"^kt_[A-Za-z0-9_-]{43}$")
_DURATION = re.compile(r"^(\d{1,5})([hdw])$")
# Writing "last used" on every request would turn every read into a write; once a minute
# per token is precise enough for "is this token still in use?".
LAST_USED_GRANULARITY = dt.timedelta(minutes=1)
# A verified token is trusted for this long without asking the store again: one look-up
# per token and second instead of one per request. A revocation in another process (the
# CLI) therefore takes effect within this time; in this process at once.
TRUST_SECONDS = 1.0
_trusted: dict[str, tuple[float, Caller]] = {}
_TRUSTED_MAX = 10_000


class TokenError(HubError):
    """A token command could not be carried out (unknown id, bad duration, ...)."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: the token's id and name, and the role it grants."""

    token_id: int
    name: str
    role: Role


@dataclass(frozen=True)
class NewToken:
    id: int
    token: str  # shown once, never stored
    expires_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_duration(text: str) -> dt.timedelta:
    """``90d``, ``12h`` or ``4w``."""
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise TokenError("expiry must be a positive number followed by h, d or w, e.g. 90d")
    unit = {"h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return dt.timedelta(**{unit: int(m.group(1))})


def create(engine: Engine, *, role: Role, expires_in: dt.timedelta, name: str) -> NewToken:
    token = PREFIX + secrets.token_urlsafe(32)
    now = _now()
    with engine.begin() as conn:
        result = conn.execute(bulk.table_of(ApiToken).insert().values(
            name=name, role=role.value, token_hash=hash_token(token), hint=token[:7],
            created_at=now, expires_at=now + expires_in))
        token_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    return NewToken(token_id, token, now + expires_in)


def revoke(engine: Engine, token_id: int) -> None:
    _trusted.clear()
    t = bulk.table_of(ApiToken)
    with engine.begin() as conn:
        done = conn.execute(update(t).where(t.c.id == token_id, t.c.revoked_at.is_(None))
                            .values(revoked_at=_now())).rowcount
        if not done:
            known = conn.execute(select(t.c.id).where(t.c.id == token_id)).first()
            raise TokenError(f"token {token_id} " + ("is already revoked" if known
                                                     else "does not exist"))
        # Its dashboard sessions end with it (hub/auth/sessions.py checks the token too).
        s = bulk.table_of(WebSession)
        conn.execute(delete(s).where(s.c.token_id == token_id))


def list_tokens(engine: Engine) -> list[dict[str, Any]]:
    """Every token with its state and last use (never the token or its hash)."""
    t = bulk.table_of(ApiToken)
    now = _now()
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.name, t.c.role, t.c.hint, t.c.created_at,
                                   t.c.expires_at, t.c.revoked_at, t.c.last_used_at)
                            .order_by(t.c.id)).all()
    return [{**r._mapping, "state": "revoked" if r.revoked_at else
             "expired" if r.expires_at <= now else "active"} for r in rows]


def trusted(token: str) -> Caller | None:
    """The caller for a token verified less than ``TRUST_SECONDS`` ago (no I/O), else None."""
    hit = _trusted.get(hash_token(token)) if _TOKEN.match(token) else None
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def authenticate(engine: Engine, token: str) -> Caller | None:
    """The caller a presented token stands for; None for unknown, expired or revoked."""
    if not _TOKEN.match(token):
        return None  # not even shaped like a token: no database round trip
    caller = trusted(token)
    if caller is not None:
        return caller
    digest = hash_token(token)
    found = _look_up(engine, digest)
    if found is None:
        return None
    caller, expires_at = found
    if len(_trusted) >= _TRUSTED_MAX:
        _trusted.clear()
    left = (expires_at - _now()).total_seconds()
    _trusted[digest] = (time.monotonic() + min(TRUST_SECONDS, left), caller)
    return caller


def _look_up(engine: Engine, digest: str) -> tuple[Caller, dt.datetime] | None:
    t = bulk.table_of(ApiToken)
    now = _now()
    with engine.connect() as conn:
        row = conn.execute(select(t.c.id, t.c.name, t.c.role, t.c.expires_at, t.c.revoked_at,
                                  t.c.last_used_at)
                           .where(t.c.token_hash == digest)).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_GRANULARITY:
        with engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == row.id).values(last_used_at=now))
    return Caller(row.id, row.name, Role(row.role)), row.expires_at
