"""Append entries to the hash chain: each carries its sequence number and the hash of the
previous entry, so an edit, a deletion, an insertion or a reordering breaks the chain."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.audit.tables import AuditDecisionSet, AuditEntry, AuditHead
from hub.records import to_json_bytes
from hub.store import bulk

GENESIS = "0" * 64
HASHED = ("seq", "at", "kind", "run_id", "actor", "source", "destination", "entity",
          "golden_id", "source_key", "purpose", "outcome", "decisions", "policy_version",
          "value_hash", "detail", "prev_hash")


@lru_cache(maxsize=4096)  # a batch stamps many entries with one time
def canonical_time(at: dt.datetime) -> str:
    if at.tzinfo is None:  # SQLite hands back naive UTC
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


_AT, _DETAIL = HASHED.index("at"), HASHED.index("detail")
_HASHED_SET = frozenset(HASHED)
_ALL_HASHED = itemgetter(*HASHED)


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 over the canonical JSON array of every hashed field, in ``HASHED`` order."""
    return _hash_body([entry.get(k) for k in HASHED], entry["at"])


def _hash_body(body: list[Any], at: dt.datetime) -> str:
    body[_AT] = canonical_time(at)
    body[_DETAIL] = body[_DETAIL] or {}
    return hashlib.sha256(to_json_bytes(body)).hexdigest()


def decision_set_id(fields: Sequence[Mapping[str, Any]]) -> str:
    return hashlib.sha256(to_json_bytes(list(fields))).hexdigest()


def store_decision_sets(conn: Connection, sets: Iterable[tuple[str, list[dict[str, Any]]]]
                        ) -> None:
    """Insert the decision sets not stored yet (content-addressed, so never twice)."""
    fresh = dict(sets)
    if not fresh:
        return
    t = bulk.table_of(AuditDecisionSet)
    for part in bulk.chunks(list(fresh)):
        stored = set(conn.execute(select(t.c.id).where(t.c.id.in_(part))).scalars())
        rows = [{"id": sid, "fields": fresh[sid]} for sid in part if sid not in stored]
        if rows:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            conn.execute(insert(t).on_conflict_do_nothing(index_elements=["id"]), rows)


def append(conn: Connection, entries: list[dict[str, Any]]) -> None:
    """Chain and insert ``entries`` in this transaction (the one of the data they describe).

    The head row is updated first: that takes the write lock (SQLite) or the row lock
    (PostgreSQL) before the tip is read, so concurrent writers queue instead of forking.
    """
    if not entries:
        return
    head = bulk.table_of(AuditHead)
    conn.execute(update(head).where(head.c.id == 1).values(seq=head.c.seq))
    tip = conn.execute(select(head.c.seq, head.c.hash).where(head.c.id == 1)).one()
    seq, prev = tip.seq, tip.hash
    for entry in entries:
        seq += 1
        entry["seq"], entry["prev_hash"] = seq, prev
        entry.setdefault("detail", {})
        for column in _HASHED_SET.difference(entry):  # a set look-up each, in C
            entry[column] = None
        # every hashed field is there now: entry_hash's body, fetched at once
        entry["hash"] = prev = _hash_body(list(_ALL_HASHED(entry)), entry["at"])
    bulk.insert_rows(conn, bulk.table_of(AuditEntry), entries)
    conn.execute(update(head).where(head.c.id == 1).values(seq=seq, hash=prev))
