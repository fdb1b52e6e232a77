"""The transactional outbox: which golden records each target stream still has to get.

Every statement here is set-based: a batch's ids travel as one array parameter (SQLite
``json_each``, PostgreSQL ``unnest``), so enqueueing or acknowledging 5,000 records is one
statement per target stream, not 5,000 rows built and bound in Python.

Each row's ``enqueued_at`` doubles as its version: ``due`` hands it out, and ``done`` /
``failed`` touch a row only while it still carries the version the sender read. A record
that changes again while its previous version is on the way keeps its row, so the newer
version is sent too (at-least-once; targets upsert by key).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    String,
    any_,
    bindparam,
    delete,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import FromClause

from hub.canonical import MODELS
from hub.store import bulk
from hub.store.tables import Delivery, Outbox

MAX_ATTEMPTS = 8  # then the row is dead-lettered

#: Set whenever something enters the outbox in this process: wakes the delivery worker.
CHANGED = threading.Event()

#: golden id -> the ``enqueued_at`` its outbox row had when ``due`` read it.
Tokens = Mapping[str, dt.datetime]


def _wake(conn: Connection) -> None:
    """Wake delivery workers: this process's at once, other instances' on PostgreSQL by
    NOTIFY, which the database sends only when this transaction commits."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify('kontor_outbox', '')"))
    CHANGED.set()


def _insert(conn: Connection):  # type: ignore[no-untyped-def]
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        bulk.table_of(Outbox))


def _array(conn: Connection, columns: Sequence[Sequence[str]], names: Sequence[str]
           ) -> FromClause:
    """Parallel text arrays as one row source with ``names`` as columns, bound as a single
    parameter each: no per-row binds, no IN-list limits."""
    if conn.dialect.name == "postgresql":
        params = [bindparam(None, list(c), type_=postgresql.ARRAY(String)) for c in columns]
        return func.unnest(*params).table_valued(*names).render_derived()
    if len(columns) == 1:
        return (select(func.json_each(bindparam(None, json.dumps(list(columns[0])))).table_valued(
            "value").c.value.label(names[0])).subquery())
    each = func.json_each(bindparam(None, json.dumps([list(r) for r in zip(*columns)])))
    value = each.table_valued("value").c.value
    return select(*[func.json_extract(value, f"$[{i}]").label(n)
                    for i, n in enumerate(names)]).subquery()


def _id_in(conn: Connection, column: Any, ids: Sequence[str]) -> Any:
    """``column IN ids`` with the ids as one parameter. PostgreSQL gets ``= ANY(array)``:
    an IN over ``unnest`` is planned as a nested loop (100 rows assumed), quadratic."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(String)))
    source = _array(conn, [ids], ["id"])
    return column.in_(select(source.c.id).scalar_subquery())


def enqueue(conn: Connection, entity: str, golden_ids: Sequence[str],
            streams: Sequence[tuple[str, str]]) -> None:
    """Mark ``golden_ids`` as due for every (system, stream); a dead row comes back to life
    when its record changes again. One statement per stream, whatever the batch size."""
    if not golden_ids or not streams:
        return
    # Unique (an upsert may not touch one row twice) and in key order: the order in which an
    # acknowledgement's delete, scanning the primary key, locks the rows on PostgreSQL.
    ids = sorted(set(golden_ids))
    now = dt.datetime.now(dt.UTC)
    for system, stream in streams:
        source = _array(conn, [ids], ["id"])
        # The WHERE keeps SQLite from reading the upsert's ON as part of a join.
        rows = select(literal(system), literal(stream), source.c.id, literal(entity),
                      literal("pending"), literal(0), bindparam(None, now, type_=DateTime())
                      ).where(source.c.id.is_not(None))
        stmt = _insert(conn).from_select(
            ["system", "stream", "golden_id", "entity", "status", "attempts", "enqueued_at"],
            rows)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["system", "stream", "golden_id"],
            set_={"status": "pending", "attempts": 0, "next_attempt_at": None,
                  "last_error": None, "enqueued_at": stmt.excluded.enqueued_at}))
    _wake(conn)


def enqueue_all(conn: Connection, entity: str, system: str, stream: str) -> None:
    """Every golden record of ``entity``, set-based (a new target, or a changed policy)."""
    golden = bulk.table_of(MODELS[entity])
    now = dt.datetime.now(dt.UTC)
    # The WHERE keeps SQLite from reading the upsert's ON as part of a join.
    source = select(literal(system), literal(stream), golden.c.id, literal(entity),
                    literal("pending"), literal(0), literal(now)).where(golden.c.id.is_not(None))
    stmt = _insert(conn).from_select(
        ["system", "stream", "golden_id", "entity", "status", "attempts", "enqueued_at"], source)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["system", "stream", "golden_id"],
        set_={"status": "pending", "attempts": 0, "next_attempt_at": None,
              "enqueued_at": stmt.excluded.enqueued_at}))


def due(conn: Connection, system: str, stream: str, after: str, limit: int
        ) -> dict[str, dt.datetime]:
    """Golden ids waiting for this stream, in id order after ``after`` (keyset paging),
    each with its row's version (pass them to ``done`` and ``failed``)."""
    t = bulk.table_of(Outbox)
    now = dt.datetime.now(dt.UTC)
    rows = conn.execute(select(t.c.golden_id, t.c.enqueued_at).where(
        t.c.system == system, t.c.stream == stream, t.c.status == "pending",
        t.c.golden_id > after,
        (t.c.next_attempt_at.is_(None)) | (t.c.next_attempt_at <= now))
        .order_by(t.c.golden_id).limit(limit))
    return {r.golden_id: r.enqueued_at for r in rows}


def _by_version(ids: Sequence[str], tokens: Tokens | None
                ) -> dict[dt.datetime | None, list[str]]:
    """Ids grouped by the version they were read at (one group of all when unversioned);
    a batch's rows share a handful of versions (one per enqueueing transaction)."""
    if tokens is None:
        return {None: list(ids)} if ids else {}
    groups: dict[dt.datetime | None, list[str]] = defaultdict(list)
    for gid in ids:
        groups[tokens[gid]].append(gid)
    return groups


def _scope(conn: Connection, system: str, stream: str, ids: Sequence[str],
           version: dt.datetime | None) -> list[Any]:
    t = bulk.table_of(Outbox)
    where = [t.c.system == system, t.c.stream == stream, _id_in(conn, t.c.golden_id, ids)]
    if version is not None:
        where.append(t.c.enqueued_at == version)
    return where


def done(conn: Connection, system: str, stream: str, golden_ids: Sequence[str],
         tokens: Tokens | None = None) -> None:
    """Take delivered (or settled) records out; with ``tokens`` only rows not enqueued again
    since they were read."""
    t = bulk.table_of(Outbox)
    for version, ids in _by_version(golden_ids, tokens).items():
        conn.execute(delete(t).where(*_scope(conn, system, stream, ids, version)))


def acknowledge(conn: Connection, system: str, stream: str, run_id: int, now: dt.datetime,
                acked: Mapping[str, tuple[str, str]], tokens: Tokens | None = None) -> None:
    """What the target acknowledged (golden id -> (target key, payload hash)): the delivery
    state upserted and the outbox rows taken out, in the caller's transaction."""
    if not acked:
        return
    ids = list(acked)
    source = _array(conn, [ids, [acked[g][0] for g in ids], [acked[g][1] for g in ids]],
                    ["gid", "target_key", "payload_hash"])
    d = bulk.table_of(Delivery)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(d).from_select(
        ["system", "stream", "golden_id", "target_key", "payload_hash", "run_id",
         "delivered_at"],
        select(literal(system), literal(stream), source.c.gid, source.c.target_key,
               source.c.payload_hash, literal(run_id), bindparam(None, now, type_=DateTime()))
        .where(source.c.gid.is_not(None)))
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["system", "stream", "golden_id"],
        set_={c: stmt.excluded[c] for c in ("target_key", "payload_hash", "run_id",
                                             "delivered_at")}))
    done(conn, system, stream, ids, tokens)


def backoff(attempts: int, base: float = 30.0, cap: float = 6 * 3600.0) -> dt.timedelta:
    """Exponential with full jitter: retries spread out instead of hammering a target."""
    return dt.timedelta(seconds=random.uniform(0, min(cap, base * 2 ** attempts)))


def failed(conn: Connection, system: str, stream: str, golden_ids: Sequence[str],
           reason: str, *, dead: bool = False, tokens: Tokens | None = None) -> int:
    """Count a failed attempt; rows past MAX_ATTEMPTS (or refused outright) go dead.
    With ``tokens``, a row enqueued again since it was read is left alone (its newer
    version gets its own attempts). Returns how many went dead.

    Rows failing together at the same attempt count share one backoff: they were one
    batch, and stay one when they come due again."""
    t = bulk.table_of(Outbox)
    now, dead_count = dt.datetime.now(dt.UTC), 0
    for version, ids in _by_version(golden_ids, tokens).items():
        where = _scope(conn, system, stream, ids, version)
        by_attempts: dict[int, int] = dict(conn.execute(
            select(t.c.attempts, func.count()).where(*where).group_by(t.c.attempts)).all())
        for attempts, n in by_attempts.items():
            after = attempts + 1
            is_dead = dead or after >= MAX_ATTEMPTS
            dead_count += n if is_dead else 0
            conn.execute(update(t).where(*where, t.c.attempts == attempts).values(
                attempts=after, status="dead" if is_dead else "pending",
                last_error=reason[:500],
                next_attempt_at=None if is_dead else now + backoff(after)))
    return dead_count


def _dead_scope(system: str | None, stream: str | None) -> list[Any]:
    t = bulk.table_of(Outbox)
    where = [t.c.status == "dead"]
    if system:
        where.append(t.c.system == system)
    if stream:
        where.append(t.c.stream == stream)
    return where


def revive(conn: Connection, system: str | None = None, stream: str | None = None) -> int:
    """Put dead letters (of ``system``/``stream``, or all) back in line; wakes the worker."""
    count = int(conn.execute(update(bulk.table_of(Outbox)).where(
        *_dead_scope(system, stream)).values(
        status="pending", attempts=0, next_attempt_at=None)).rowcount)
    if count:
        _wake(conn)
    return count


def discard(conn: Connection, system: str | None = None, stream: str | None = None) -> int:
    """Give up on dead letters for good (they come back when their record changes)."""
    return int(conn.execute(delete(bulk.table_of(Outbox)).where(
        *_dead_scope(system, stream))).rowcount)


def listing(conn: Connection, status: str | None = None, limit: int = 200
            ) -> list[dict[str, Any]]:
    t = bulk.table_of(Outbox)
    stmt = select(t).order_by(t.c.system, t.c.stream, t.c.golden_id).limit(limit)
    if status:
        stmt = stmt.where(t.c.status == status)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def depth(conn: Connection) -> dict[tuple[str, str, str], int]:
    t = bulk.table_of(Outbox)
    return {(r.system, r.stream, r.status): r.n for r in conn.execute(
        select(t.c.system, t.c.stream, t.c.status, func.count().label("n"))
        .group_by(t.c.system, t.c.stream, t.c.status))}
