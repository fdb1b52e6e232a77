"""Tables of match & merge: blocking keys, the steward's review queue, merges, overrides.

None of them holds a restricted value in clear: match keys (of golden records and of source
records) are keyed digests, review pairs carry only scores and the names of the comparisons,
merge snapshots are the golden rows as stored (restricted values still sealed), and
overrides of restricted fields are refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class MatchKey(SQLModel, table=True):
    """A blocking or rule key of a golden record: equal keys make two records candidates.

    ``value`` is a keyed digest of the key's kind and normalised text (say "last name
    prefix + date of birth"), so the table says which records share a key, never the key.
    """

    __tablename__ = "match_key"
    # By golden id: removing or merging a record deletes its keys without reading the
    # entity's every key (a merge cost 10 ms at 10,000 records, growing with the store).
    __table_args__ = (Index("ix_match_key_golden", "entity", "golden_id"),
                      {"sqlite_with_rowid": False})  # see hub.store.tables.WITHOUT_ROWID

    entity: str = Field(primary_key=True, max_length=20)
    value: str = Field(primary_key=True, max_length=32)
    golden_id: str = Field(primary_key=True, max_length=32)


class SourceKey(SQLModel, table=True):
    """A blocking or rule key of one source record (an xref), from the values its system
    last sent: a new record meets every source record sharing a key, not only the values
    its golden record kept. ``value`` is a keyed digest, like ``MatchKey.value``."""

    __tablename__ = "source_key"
    __table_args__ = (Index("ix_source_key_xref", "xref_id"),
                      {"sqlite_with_rowid": False})  # see hub.store.tables.WITHOUT_ROWID

    entity: str = Field(primary_key=True, max_length=20)
    value: str = Field(primary_key=True, max_length=32)
    xref_id: int = Field(primary_key=True)


class ReviewPair(SQLModel, table=True):
    """Two golden records that may be one person: a data steward decides, once.

    ``status``: open | merged | kept_apart | obsolete (one side merged or retired meanwhile).
    A decided pair is never asked again, and ``kept_apart`` is never merged automatically.
    """

    __tablename__ = "review_pair"
    __table_args__ = (UniqueConstraint("entity", "golden_a", "golden_b"),
                      Index("ix_review_status", "entity", "status"))

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=20)
    golden_a: str = Field(max_length=32)  # the smaller id of the pair
    golden_b: str = Field(max_length=32)
    score: float
    #: comparison -> (level, weight): what agreed and what did not; never the values.
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # type: ignore[call-overload]
    system: str | None = Field(default=None, max_length=100)  # whose record raised it
    source_key: str | None = Field(default=None, max_length=500)
    run_id: int | None = None
    status: str = Field(default="open", max_length=20)
    created_at: dt.datetime
    decided_at: dt.datetime | None = None
    decided_by: str | None = Field(default=None, max_length=100)


class GoldenMerge(SQLModel, table=True):
    """One merge of ``merged_id`` into ``survivor_id``, with what an unmerge needs."""

    __tablename__ = "golden_merge"
    __table_args__ = (Index("ix_merge_survivor", "entity", "survivor_id"),)

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=20)
    survivor_id: str = Field(max_length=32)
    merged_id: str = Field(max_length=32)
    # Both golden rows exactly as stored before the merge (restricted values sealed).
    survivor_row: dict[str, Any] = Field(sa_type=JSON)  # type: ignore[call-overload]
    merged_row: dict[str, Any] = Field(sa_type=JSON)  # type: ignore[call-overload]
    #: [system, source_key] of every xref moved from merged_id to survivor_id.
    moved_xrefs: list[Any] = Field(default_factory=list, sa_type=JSON)  # type: ignore[call-overload]
    actor: str = Field(max_length=100)  # "auto" (run n) or the steward
    run_id: int | None = None
    merged_at: dt.datetime
    undone_at: dt.datetime | None = None


class GoldenOverride(SQLModel, table=True):
    """A steward's value for one field of one golden record; later syncs do not beat it."""

    __tablename__ = "golden_override"

    entity: str = Field(primary_key=True, max_length=20)
    golden_id: str = Field(primary_key=True, max_length=32)
    field: str = Field(primary_key=True, max_length=100)
    value: Any = Field(default=None, sa_type=JSON)  # type: ignore[call-overload]
    reason: str = ""
    actor: str = Field(max_length=100)
    set_at: dt.datetime


class GoldenRetired(SQLModel, table=True):
    """A golden record whose every source deleted it (per the delete policy)."""

    __tablename__ = "golden_retired"

    entity: str = Field(primary_key=True, max_length=20)
    golden_id: str = Field(primary_key=True, max_length=32)
    reason: str = Field(max_length=200)
    run_id: int | None = None
    retired_at: dt.datetime


class MatchKeyset(SQLModel, table=True):
    """Which key configuration the stored match keys (golden and source) were made with.

    A fingerprint of the matching rules, the blocking kinds and the trained model's
    blocking rules: when it differs from the configuration's, keys stored earlier would
    never meet keys made now, so the store is re-keyed (``hub/golden/rekey.py``).
    """

    __tablename__ = "match_keyset"

    entity: str = Field(primary_key=True, max_length=20)
    fingerprint: str = Field(max_length=64)
    keyed_at: dt.datetime
