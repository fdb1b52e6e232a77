"""Bookkeeping tables of the master store (the golden records live in ``hub.canonical``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

# Imported so that these tables register on SQLModel.metadata with the store's own; the
# audit and auth tables are gathered by the migrations' env (they sit beside the store).
from hub.canonical import Customer, Employee  # noqa: F401
from hub.store.matching_tables import (  # noqa: F401
    GoldenMerge,
    GoldenOverride,
    GoldenRetired,
    MatchKey,
    ReviewPair,
)

#: For tables of small rows with a composite primary key: on SQLite keep the rows in the
#: primary key's b-tree instead of a rowid b-tree plus that index (one b-tree write per row
#: instead of two, half the bytes; migration 0012). Other databases ignore it.
WITHOUT_ROWID = {"sqlite_with_rowid": False}


class Xref(SQLModel, table=True):
    """Which record in which system is which golden record."""

    __tablename__ = "xref"
    __table_args__ = (UniqueConstraint("system", "entity", "source_key"),
                      Index("ix_xref_golden", "entity", "golden_id"))

    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(max_length=100)
    entity: str = Field(max_length=20)
    source_key: str = Field(max_length=500)
    golden_id: str = Field(max_length=32)
    # Hash of the mapped record last seen: equal hash means unchanged, skip the merge.
    source_hash: str = Field(max_length=64)
    first_run: int
    last_run: int
    updated_at: dt.datetime
    # Match & merge (issue 4): the record's mapped values as last received (unrestricted
    # fields only, with "_at", its business time), for unmerge and cross-system checks;
    # when a full snapshot last contained it; when its system deleted it.
    data: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # type: ignore[call-overload]
    seen_run: int | None = None
    deleted_at: dt.datetime | None = None


class RecordHistory(SQLModel, table=True):
    """Every version of every golden record, as it was after each change."""

    __tablename__ = "record_history"
    __table_args__ = (Index("ix_history_golden", "entity", "golden_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=20)
    golden_id: str = Field(max_length=32)
    version: int
    data: dict[str, Any] = Field(sa_type=JSON)  # type: ignore[call-overload]
    system: str = Field(max_length=100)
    run_id: int | None = None
    changed_at: dt.datetime


class SyncRun(SQLModel, table=True):
    """One execution of a sync: when, what, and how many records had which outcome."""

    __tablename__ = "sync_run"

    id: int | None = Field(default=None, primary_key=True)
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    status: str = Field(default="running", max_length=20)  # running|success|partial|failed
    trigger: str = Field(default="cli", max_length=50)
    # "system.stream" -> {"read": n, "created": n, ...}
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # type: ignore[call-overload]
    errors: list[str] = Field(default_factory=list, sa_type=JSON)  # type: ignore[call-overload]


class Quarantine(SQLModel, table=True):
    """A record that could not be read, mapped or written, with where and why."""

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_status", "status", "system"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int
    system: str = Field(max_length=100)
    stream: str = Field(max_length=100)
    entity: str = Field(max_length=20)
    direction: str = Field(max_length=10)
    source_key: str | None = Field(default=None, max_length=500)
    location: str | None = Field(default=None, max_length=500)
    field: str | None = Field(default=None, max_length=100)
    reason: str
    # The raw record, kept for retry. It may hold restricted values: never print it
    # unless the privacy gate allows (the privacy issue encrypts it at rest).
    payload: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # type: ignore[call-overload]
    status: str = Field(default="open", max_length=20)  # open|retried|discarded
    created_at: dt.datetime


class StreamState(SQLModel, table=True):
    """Where a stream's last committed read ended; written with the data it covers."""

    __tablename__ = "stream_state"

    system: str = Field(primary_key=True, max_length=100)
    stream: str = Field(primary_key=True, max_length=100)
    cursor: Any = Field(default=None, sa_type=JSON)  # type: ignore[call-overload]
    run_id: int | None = None
    updated_at: dt.datetime


class Delivery(SQLModel, table=True):
    """What each target last acknowledged for each golden record (hash of the payload)."""

    __tablename__ = "delivery"
    __table_args__ = (WITHOUT_ROWID,)

    system: str = Field(primary_key=True, max_length=100)
    stream: str = Field(primary_key=True, max_length=100)
    golden_id: str = Field(primary_key=True, max_length=32)
    target_key: str = Field(max_length=500)
    payload_hash: str = Field(max_length=64)
    run_id: int
    delivered_at: dt.datetime


class IdCounter(SQLModel, table=True):
    """Next golden-id number per entity; ranges are claimed a batch at a time."""

    __tablename__ = "id_counter"

    entity: str = Field(primary_key=True, max_length=20)
    next_value: int


class SubjectKey(SQLModel, table=True):
    """One data key per golden record, stored only wrapped by a master key (by id).

    Deleting the row crypto-shreds the subject's restricted values, in backups too.
    """

    __tablename__ = "subject_key"

    entity: str = Field(primary_key=True, max_length=20)
    golden_id: str = Field(primary_key=True, max_length=32)
    key_id: str = Field(max_length=40)
    wrapped: str = Field(max_length=200)
    created_at: dt.datetime


class Outbox(SQLModel, table=True):
    """Golden records waiting to be delivered to one target stream.

    Written in the same transaction as the golden-record change, removed in the same
    transaction as the target's acknowledgement: a crash anywhere leaves each change either
    delivered or still waiting. After too many failed attempts a row turns ``dead``
    (the dead-letter queue `kontor outbox` shows, retries or discards).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "system", "stream", "status", "next_attempt_at"),
                      WITHOUT_ROWID)

    system: str = Field(primary_key=True, max_length=100)
    stream: str = Field(primary_key=True, max_length=100)
    golden_id: str = Field(primary_key=True, max_length=32)
    entity: str = Field(max_length=20)
    status: str = Field(default="pending", max_length=10)  # pending | dead
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    enqueued_at: dt.datetime


class JobLease(SQLModel, table=True):
    """Who runs a job now, until when: one run per system at a time, across instances.

    A lease expires, so a crashed instance does not block the job for ever.
    """

    __tablename__ = "job_lease"

    name: str = Field(primary_key=True, max_length=200)
    holder: str = Field(max_length=200)
    expires_at: dt.datetime
