"""Set-based store access for match & merge: match keys, xref state, review pairs.

Like ``hub.store.bulk``: one statement per chunk of a batch, never one per record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, delete, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.canonical import MODELS
from hub.store import bulk
from hub.store.matching_tables import (
    GoldenRetired,
    MatchKey,
    MatchKeyset,
    ReviewPair,
    SourceKey,
)
from hub.store.tables import Xref


class KeyDigest:
    """Keyed BLAKE2b of match-key texts: equal texts meet, the table reveals none of them.

    Unkeyed hashes of low-entropy values (emails, tax ids, birth dates) are reversible by
    trying candidates; with a key kept outside the database they are not.
    """

    def __init__(self, secret: bytes):
        self._secret = secret[:64]

    def __call__(self, text: str) -> str:
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16,
                               key=self._secret).hexdigest()


def lookup_keys(conn: Connection, entity: str, digests: Iterable[str]
                ) -> dict[str, list[str]]:
    """digest -> golden ids holding that key."""
    t = bulk.table_of(MatchKey)
    found: dict[str, list[str]] = defaultdict(list)
    # Larger IN lists than bulk's default: a batch looks up ~4 keys per record, and both
    # SQLite (32,766) and PostgreSQL (65,535) take this many parameters in one statement.
    for part in bulk.chunks(sorted(set(digests)), 4000):
        for value, gid in conn.execute(select(t.c.value, t.c.golden_id).where(
                t.c.entity == entity, bulk.among(conn, t.c.value, part))):
            found[value].append(gid)
    return found


def add_keys(conn: Connection, entity: str, pairs: Iterable[tuple[str, str]]) -> None:
    """Insert (digest, golden id) pairs (new ones only: callers pass differences)."""
    rows = [{"entity": entity, "value": v, "golden_id": g} for v, g in sorted(set(pairs))]
    bulk.insert_rows(conn, bulk.table_of(MatchKey), rows)


def remove_keys(conn: Connection, entity: str, pairs: Iterable[tuple[str, str]]) -> None:
    """Delete (digest, golden id) pairs: one executemany by primary key.

    Not ``(value, golden_id) IN (...)``: SQLite answers a row-value IN list with a scan of
    the whole entity, which made a sync's cost grow with the size of the store.
    """
    rows = [{"e": entity, "v": v, "g": g} for v, g in sorted(set(pairs))]
    if rows:
        t = bulk.table_of(MatchKey)
        conn.execute(delete(t).where(t.c.entity == bindparam("e"), t.c.value == bindparam("v"),
                                     t.c.golden_id == bindparam("g")), rows)


def remove_all_keys(conn: Connection, entity: str, golden_ids: Sequence[str]) -> None:
    t = bulk.table_of(MatchKey)
    for part in bulk.chunks(golden_ids):
        conn.execute(delete(t).where(t.c.entity == entity, bulk.among(conn, t.c.golden_id, part)))


# -- source records: the values each system last sent, and their keys -----------------------


class Source(NamedTuple):
    """A live source record (xref) as matching compares it: ``data`` holds its
    unrestricted values as last received; ``keyed``: whether its match keys are stored
    (not for an xref written before there were source keys)."""

    xref_id: int
    golden_id: str
    system: str
    source_key: str
    data: dict[str, Any]
    keyed: bool


def lookup_source_keys(conn: Connection, entity: str, digests: Iterable[str]
                       ) -> dict[str, list[tuple[int, str]]]:
    """digest -> (xref id, golden id) of the live source records holding that key."""
    k, x = bulk.table_of(SourceKey), bulk.table_of(Xref)
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for part in bulk.chunks(sorted(set(digests)), 4000):  # see lookup_keys
        for value, xref_id, gid in conn.execute(
                select(k.c.value, k.c.xref_id, x.c.golden_id)
                .join(x, x.c.id == k.c.xref_id)
                .where(k.c.entity == entity, bulk.among(conn, k.c.value, part), x.c.deleted_at.is_(None))):
            found[value].append((xref_id, gid))
    return found


def sources_of(conn: Connection, entity: str, golden_ids: Sequence[str]) -> list[Source]:
    """Every live source record of these golden records, in xref order."""
    x, k = bulk.table_of(Xref), bulk.table_of(SourceKey)
    keyed = exists().where(k.c.xref_id == x.c.id).label("keyed")
    found: list[Source] = []
    for part in bulk.chunks(sorted(set(golden_ids))):
        for r in conn.execute(select(x.c.id, x.c.golden_id, x.c.system, x.c.source_key,
                                     x.c.data, keyed).where(
                x.c.entity == entity, bulk.among(conn, x.c.golden_id, part), x.c.deleted_at.is_(None))):
            found.append(Source(r.id, r.golden_id, r.system, r.source_key, dict(r.data or {}),
                                bool(r.keyed)))
    found.sort(key=lambda s: s.xref_id)
    return found


def xref_ids(conn: Connection, system: str, entity: str, keys: Sequence[str]
             ) -> dict[str, int]:
    """source_key -> xref id."""
    t = bulk.table_of(Xref)
    found: dict[str, int] = {}
    for part in bulk.chunks(keys):
        for r in conn.execute(select(t.c.source_key, t.c.id).where(
                t.c.system == system, t.c.entity == entity, bulk.among(conn, t.c.source_key, part))):
            found[r.source_key] = r.id
    return found


def replace_source_keys(conn: Connection, entity: str, keys: Mapping[int, Iterable[str]]
                        ) -> None:
    """The match keys of these source records (xref id -> digests), replacing any they
    had (a new xref may reuse a deleted one's id)."""
    t = bulk.table_of(SourceKey)
    ids = sorted(keys)
    for part in bulk.chunks(ids):
        conn.execute(delete(t).where(bulk.among(conn, t.c.xref_id, part)))
    bulk.insert_rows(conn, t, [{"entity": entity, "value": v, "xref_id": i}
                               for i in ids for v in sorted(set(keys[i]))])


def forget_sources(conn: Connection, entity: str, golden_ids: Sequence[str]) -> None:
    """Forget what the source records of these golden records said: their match keys and
    the values kept for matching and unmerge (an erasure or a delete; before any xref is
    deleted). The xrefs themselves stay until the caller deletes them: which system holds
    which key is what tells an erasure's recipients."""
    k, x = bulk.table_of(SourceKey), bulk.table_of(Xref)
    for part in bulk.chunks(sorted(set(golden_ids))):
        owned = select(x.c.id).where(x.c.entity == entity, x.c.golden_id.in_(part))
        conn.execute(delete(k).where(k.c.entity == entity, k.c.xref_id.in_(owned)))
        conn.execute(update(x).where(x.c.entity == entity, x.c.golden_id.in_(part))
                     .values(data=None))


def fetch_columns(conn: Connection, entity: str, ids: Sequence[str], columns: Sequence[str]
                  ) -> dict[str, dict[str, Any]]:
    """id -> {column: value} for golden records: only what matching reads, not whole rows."""
    t = bulk.table_of(MODELS[entity])
    wanted = [t.c.id, *(t.c[c] for c in columns if c in t.c)]
    found: dict[str, dict[str, Any]] = {}
    for part in bulk.chunks(ids):
        for row in conn.execute(select(*wanted).where(bulk.among(conn, t.c.id, part))):
            found[row.id] = dict(row._mapping)
    return found


def fetch_xref_state(conn: Connection, system: str, entity: str, keys: Sequence[str]
                     ) -> dict[str, tuple[str, str, bool]]:
    """source_key -> (golden_id, source_hash, deleted?) for the keys that have an xref."""
    t = bulk.table_of(Xref)
    found: dict[str, tuple[str, str, bool]] = {}
    for part in bulk.chunks(keys):
        for r in conn.execute(select(t.c.source_key, t.c.golden_id, t.c.source_hash,
                                     t.c.deleted_at).where(
                t.c.system == system, t.c.entity == entity, bulk.among(conn, t.c.source_key, part))):
            found[r.source_key] = (r.golden_id, r.source_hash, r.deleted_at is not None)
    return found


def mark_seen(conn: Connection, system: str, entity: str, keys: Sequence[str],
              run_id: int) -> None:
    """Record that this run's snapshot still contains ``keys`` (for delete detection)."""
    t = bulk.table_of(Xref)
    for part in bulk.chunks(keys):
        conn.execute(update(t).where(t.c.system == system, t.c.entity == entity,
                                     bulk.among(conn, t.c.source_key, part)).values(seen_run=run_id))


def ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def decided_pairs(conn: Connection, entity: str, pairs: Iterable[tuple[str, str]]
                  ) -> dict[tuple[str, str], str]:
    """(a, b) -> status for pairs already in the review table (open or decided)."""
    t = bulk.table_of(ReviewPair)
    wanted = {ordered(a, b) for a, b in pairs}
    found: dict[tuple[str, str], str] = {}
    # by the index prefix (entity, golden_a), then the pairs themselves (see remove_keys)
    for part in bulk.chunks(sorted({a for a, _ in wanted})):
        for r in conn.execute(select(t.c.golden_a, t.c.golden_b, t.c.status).where(
                t.c.entity == entity, t.c.golden_a.in_(part))):
            if (r.golden_a, r.golden_b) in wanted:
                found[(r.golden_a, r.golden_b)] = r.status
    return found


def set_pair_status(conn: Connection, entity: str, a: str, b: str, status: str,
                    actor: str | None, now: dt.datetime) -> None:
    """Mark the pair (a, b) decided (merged, kept_apart), adding it if it was never asked."""
    x, y = ordered(a, b)
    t = bulk.table_of(ReviewPair)
    found = conn.execute(update(t).where(t.c.entity == entity, t.c.golden_a == x,
                                         t.c.golden_b == y).values(
        status=status, decided_at=now, decided_by=actor))
    if not found.rowcount:
        bulk.insert_rows(conn, t, [{
            "entity": entity, "golden_a": x, "golden_b": y, "score": 1.0,
            "evidence": {"decided": actor or "auto"}, "system": None, "source_key": None,
            "run_id": None, "status": status, "created_at": now, "decided_at": now,
            "decided_by": actor}])


def queue_reviews(conn: Connection, entity: str, rows: list[dict[str, Any]],
                  now: dt.datetime) -> int:
    """Add review pairs not asked before; returns how many are new."""
    fresh: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        a, b = ordered(row["golden_a"], row["golden_b"])
        if a != b:
            fresh.setdefault((a, b), {**row, "golden_a": a, "golden_b": b})
    known = decided_pairs(conn, entity, fresh)
    new = [{"entity": entity, "status": "open", "created_at": now, "decided_at": None,
            "decided_by": None, **r} for k, r in fresh.items() if k not in known]
    bulk.insert_rows(conn, bulk.table_of(ReviewPair), new)
    return len(new)


def retired_ids(conn: Connection, entity: str, ids: Sequence[str]) -> set[str]:
    t = bulk.table_of(GoldenRetired)
    found: set[str] = set()
    for part in bulk.chunks(ids):
        found.update(conn.execute(select(t.c.golden_id).where(
            t.c.entity == entity, bulk.among(conn, t.c.golden_id, part))).scalars())
    return found


# -- the key configuration the stored keys were made with (hub/golden/rekey.py) -------------


def keyset(conn: Connection, entity: str) -> str | None:
    t = bulk.table_of(MatchKeyset)
    return conn.execute(select(t.c.fingerprint).where(t.c.entity == entity)).scalar()


def set_keyset(conn: Connection, entity: str, fingerprint: str, at: dt.datetime) -> None:
    """One upsert: two syncs starting at once on an empty store both record the keyset
    (a delete and an insert made the second fail on the first's row)."""
    t = bulk.table_of(MatchKeyset)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(t).values(entity=entity, fingerprint=fingerprint, keyed_at=at)
    conn.execute(statement.on_conflict_do_update(
        index_elements=["entity"], set_={"fingerprint": statement.excluded.fingerprint,
                                         "keyed_at": statement.excluded.keyed_at}))


def holds_keys(conn: Connection, entity: str) -> bool:
    """Whether any match key of this entity is stored (golden or source)."""
    return any(conn.execute(select(exists().where(t.c.entity == entity))).scalar()
               for t in (bulk.table_of(MatchKey), bulk.table_of(SourceKey)))


def replace_golden_keys(conn: Connection, entity: str, keys: Mapping[str, Iterable[str]]
                        ) -> None:
    """The match keys of these golden records (golden id -> digests), replacing all."""
    remove_all_keys(conn, entity, sorted(keys))
    add_keys(conn, entity, [(v, gid) for gid in sorted(keys) for v in sorted(set(keys[gid]))])


def live_xrefs(conn: Connection, entity: str, after: int, limit: int
               ) -> list[tuple[int, dict[str, Any]]]:
    """(xref id, values last received) of live source records, by id, from ``after``."""
    x = bulk.table_of(Xref)
    return [(r.id, dict(r.data or {})) for r in conn.execute(
        select(x.c.id, x.c.data).where(x.c.entity == entity, x.c.id > after,
                                       x.c.deleted_at.is_(None))
        .order_by(x.c.id).limit(limit))]


def systems_holding(conn: Connection, entity: str, systems: Iterable[str]) -> set[str]:
    """Which of ``systems`` have a live record of ``entity`` in the store (one index probe
    each)."""
    x = bulk.table_of(Xref)
    return {system for system in systems if conn.execute(select(x.c.id).where(
        x.c.system == system, x.c.entity == entity, x.c.deleted_at.is_(None)).limit(1))
        .first() is not None}


def count_live_xrefs(conn: Connection, entity: str) -> int:
    x = bulk.table_of(Xref)
    return int(conn.execute(select(func.count()).where(
        x.c.entity == entity, x.c.deleted_at.is_(None))).scalar_one())
