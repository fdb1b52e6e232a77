"""Tables of authentication and access: API tokens and the log of restricted reads."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel


class ApiToken(SQLModel, table=True):
    """An API token: only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, unique=True)
    # First characters of the token (prefix and 4 random ones): tells tokens apart in lists.
    hint: str = Field(max_length=16)
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


class RestrictedReadLog(SQLModel, table=True):
    """Who read restricted fields of which golden records, when, and through which channel.

    Field names only, never values. The audit trail (issue 6) absorbs this table.
    """

    __tablename__ = "restricted_read_log"
    __table_args__ = (Index("ix_restricted_read_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime
    token_id: int | None = None
    role: str = Field(max_length=20)
    channel: str = Field(max_length=20)  # api | scim | web
    entity: str = Field(max_length=20)
    golden_ids: list[str] = Field(sa_type=JSON)  # type: ignore[call-overload]
    fields: list[str] = Field(sa_type=JSON)  # type: ignore[call-overload]
    purpose: str | None = Field(default=None, max_length=100)


class WebSession(SQLModel, table=True):
    """A dashboard session: only the SHA-256 of its random id is stored (the id itself lives
    in the browser's cookie). It ends at ``expires_at``, after an idle spell (hub/auth/
    sessions.py), at logout, and when the token that opened it is revoked or expires."""

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_token", "token_id"),
                      Index("ix_web_session_expires", "expires_at"))

    id_hash: str = Field(max_length=64, primary_key=True)
    token_id: int
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
