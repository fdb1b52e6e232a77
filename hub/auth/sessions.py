"""Dashboard sessions, kept on the server.

Logging in with an API token opens a session. The browser's cookie holds only the session
id: 32 random bytes, of which the store keeps the SHA-256 alone (like tokens, an id with
256 random bits needs no slow hash). A session ends

- ``ABSOLUTE`` after it was opened, however busy;
- ``IDLE`` after its last request;
- at logout (its row is deleted, so the old cookie is refused from then on);
- when the token that opened it is revoked (its rows are deleted) or expires.

Every page request reads the session and its token in one indexed look-up; "last seen" is
written at most once a minute per session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from sqlalchemy import Connection, Engine, delete, select, update

from hub.auth.roles import Role
from hub.auth.tables import ApiToken, WebSession
from hub.auth.tokens import Caller
from hub.store import bulk

IDLE = dt.timedelta(minutes=30)
ABSOLUTE = dt.timedelta(hours=12)
LAST_SEEN_GRANULARITY = dt.timedelta(minutes=1)
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hash_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def open_session(engine: Engine, token_id: int) -> str:
    """A new session for ``token_id``; returns its id (shown to the browser only)."""
    session_id = secrets.token_urlsafe(32)
    now = _now()
    t = bulk.table_of(WebSession)
    with engine.begin() as conn:
        prune(conn, now)
        conn.execute(t.insert().values(id_hash=hash_id(session_id), token_id=token_id,
                                       created_at=now, last_seen_at=now,
                                       expires_at=now + ABSOLUTE))
    return session_id


def caller(engine: Engine, session_id: str) -> Caller | None:
    """Who a session id stands for; None when unknown, ended, idle too long or its token
    is revoked or expired."""
    if not _SESSION_ID.match(session_id):
        return None  # not shaped like a session id: no database round trip
    s, t = bulk.table_of(WebSession), bulk.table_of(ApiToken)
    now = _now()
    digest = hash_id(session_id)
    with engine.connect() as conn:
        row = conn.execute(
            select(t.c.id, t.c.name, t.c.role, s.c.last_seen_at)
            .join(t, t.c.id == s.c.token_id)
            .where(s.c.id_hash == digest, s.c.expires_at > now,
                   s.c.last_seen_at > now - IDLE, t.c.revoked_at.is_(None),
                   t.c.expires_at > now)).first()
    if row is None:
        return None
    if now - row.last_seen_at >= LAST_SEEN_GRANULARITY:
        with engine.begin() as conn:
            conn.execute(update(s).where(s.c.id_hash == digest).values(last_seen_at=now))
    return Caller(row.id, row.name, Role(row.role))


def end(engine: Engine, session_id: str) -> None:
    """Log out: the session's row goes, and with it every use of the old cookie."""
    s = bulk.table_of(WebSession)
    with engine.begin() as conn:
        conn.execute(delete(s).where(s.c.id_hash == hash_id(session_id)))


def prune(conn: Connection, now: dt.datetime | None = None) -> None:
    """Delete sessions that can no longer be used."""
    now = now or _now()
    s = bulk.table_of(WebSession)
    conn.execute(delete(s).where((s.c.expires_at <= now) | (s.c.last_seen_at <= now - IDLE)))
