"""Audit tables: the append-only chain, its head, decision sets, and signed checkpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel


class AuditEntry(SQLModel, table=True):
    """One fact: a transfer (in or out), a read of restricted data, a change, a decision.

    Never a restricted value: ``value_hash`` is a keyed hash of what was sent, enough to
    prove later what it was without keeping it.
    """

    __tablename__ = "audit_entry"
    # No index on destination (dropped in 0012): the one filter on it ORs it with source.
    __table_args__ = (Index("ix_audit_subject", "entity", "golden_id"),
                      Index("ix_audit_at", "at"))

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: dt.datetime
    kind: str = Field(max_length=40)  # transfer.in | transfer.out | read | change | ...
    run_id: int | None = None
    actor: str = Field(max_length=120)  # cli, scheduler, api:<token id>, ...
    source: str | None = Field(default=None, max_length=200)
    destination: str | None = Field(default=None, max_length=200)
    entity: str | None = Field(default=None, max_length=20)
    golden_id: str | None = Field(default=None, max_length=32)
    source_key: str | None = Field(default=None, max_length=500)
    purpose: str | None = Field(default=None, max_length=200)
    outcome: str = Field(max_length=40)  # sent | stored | unchanged | rejected | done
    decisions: str | None = Field(default=None, max_length=64)  # AuditDecisionSet.id
    policy_version: str | None = Field(default=None, max_length=40)
    value_hash: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # type: ignore[call-overload]
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditDecisionSet(SQLModel, table=True):
    """Per-field decisions, stored once and referenced by content hash from many entries."""

    __tablename__ = "audit_decision_set"

    id: str = Field(primary_key=True, max_length=64)  # sha256 of the canonical JSON
    fields: list[dict[str, Any]] = Field(sa_type=JSON)  # type: ignore[call-overload]


class AuditHead(SQLModel, table=True):
    """The chain's tip: locked by every writer, so the chain never forks."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True)
    seq: int
    hash: str = Field(max_length=64)


class AuditCheckpoint(SQLModel, table=True):
    """An Ed25519 signature over (n, prev, seq, hash, time): tamper evidence kept elsewhere too.

    Checkpoints form their own chain: checkpoint ``n`` signs the digest of checkpoint
    ``n - 1`` (``prev``) and the number of entries it covers (``seq``, entries being
    numbered densely from 1), and the chain records each checkpoint in an entry of kind
    ``audit.checkpoint``. Rows from before that chain (``n`` is NULL) are legacy: signed
    over (seq, hash, time) only, accepted as the chain's start (hub/audit/signing.py).
    """

    __tablename__ = "audit_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    n: int | None = Field(default=None, unique=True)  # NULL: a legacy, unchained checkpoint
    prev: str | None = Field(default=None, max_length=64)  # digest of checkpoint n - 1
    seq: int
    hash: str = Field(max_length=64)
    at: dt.datetime
    key_id: str = Field(max_length=64)
    signature: str = Field(max_length=200)
