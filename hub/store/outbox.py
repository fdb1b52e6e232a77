"""The transactional outbox: which golden records each target stream still has to get."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.canonical import MODELS
from hub.store import bulk
from hub.store.tables import Outbox

MAX_ATTEMPTS = 8  # then the row is dead-lettered

#: Set whenever something enters the outbox in this process: wakes the delivery worker.
CHANGED = threading.Event()


def _wake(conn: Connection) -> None:
    """Wake delivery workers: this process's at once, other instances' on PostgreSQL by
    NOTIFY, which the database sends only when this transaction commits."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify('kontor_outbox', '')"))
    CHANGED.set()


def _insert(conn: Connection):  # type: ignore[no-untyped-def]
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        bulk.table_of(Outbox))


def enqueue(conn: Connection, entity: str, golden_ids: Sequence[str],
            streams: Sequence[tuple[str, str]]) -> None:
    """Mark ``golden_ids`` as due for every (system, stream); a dead row comes back to life
    when its record changes again."""
    if not golden_ids or not streams:
        return
    now = dt.datetime.now(dt.UTC)
    rows = [{"system": sys, "stream": st, "golden_id": gid, "entity": entity,
             "status": "pending", "attempts": 0, "next_attempt_at": None,
             "last_error": None, "enqueued_at": now}
            for sys, st in streams for gid in golden_ids]
    stmt = _insert(conn)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["system", "stream", "golden_id"],
        set_={"status": "pending", "attempts": 0, "next_attempt_at": None,
              "last_error": None, "enqueued_at": stmt.excluded.enqueued_at}), rows)
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
        set_={"status": "pending", "attempts": 0, "next_attempt_at": None}))


def due(conn: Connection, system: str, stream: str, after: str, limit: int) -> list[str]:
    """Golden ids waiting for this stream, in id order after ``after`` (keyset paging)."""
    t = bulk.table_of(Outbox)
    now = dt.datetime.now(dt.UTC)
    rows = conn.execute(select(t.c.golden_id).where(
        t.c.system == system, t.c.stream == stream, t.c.status == "pending",
        t.c.golden_id > after,
        (t.c.next_attempt_at.is_(None)) | (t.c.next_attempt_at <= now))
        .order_by(t.c.golden_id).limit(limit))
    return [r.golden_id for r in rows]


def done(conn: Connection, system: str, stream: str, golden_ids: Sequence[str]) -> None:
    t = bulk.table_of(Outbox)
    for part in bulk.chunks(list(golden_ids)):
        conn.execute(delete(t).where(t.c.system == system, t.c.stream == stream,
                                     t.c.golden_id.in_(part)))


def backoff(attempts: int, base: float = 30.0, cap: float = 6 * 3600.0) -> dt.timedelta:
    """Exponential with full jitter: retries spread out instead of hammering a target."""
    return dt.timedelta(seconds=random.uniform(0, min(cap, base * 2 ** attempts)))


def failed(conn: Connection, system: str, stream: str, golden_ids: Sequence[str],
           reason: str, *, dead: bool = False) -> int:
    """Count a failed attempt; rows past MAX_ATTEMPTS (or refused outright) go dead.
    Returns how many went dead."""
    t = bulk.table_of(Outbox)
    now, dead_count = dt.datetime.now(dt.UTC), 0
    for part in bulk.chunks(list(golden_ids)):
        rows = conn.execute(select(t.c.golden_id, t.c.attempts).where(
            t.c.system == system, t.c.stream == stream, t.c.golden_id.in_(part))).all()
        for r in rows:
            attempts = r.attempts + 1
            is_dead = dead or attempts >= MAX_ATTEMPTS
            dead_count += is_dead
            conn.execute(update(t).where(t.c.system == system, t.c.stream == stream,
                                         t.c.golden_id == r.golden_id).values(
                attempts=attempts, status="dead" if is_dead else "pending",
                last_error=reason[:500], next_attempt_at=None if is_dead
                else now + backoff(attempts)))
    return dead_count


def listing(conn: Connection, status: str | None = None, limit: int = 200
            ) -> list[dict[str, Any]]:
    t = bulk.table_of(Outbox)
    stmt = select(t).order_by(t.c.system, t.c.stream, t.c.golden_id).limit(limit)
    if status:
        stmt = stmt.where(t.c.status == status)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def depth(conn: Connection) -> dict[tuple[str, str, str], int]:
    from sqlalchemy import func
    t = bulk.table_of(Outbox)
    return {(r.system, r.stream, r.status): r.n for r in conn.execute(
        select(t.c.system, t.c.stream, t.c.status, func.count().label("n"))
        .group_by(t.c.system, t.c.stream, t.c.status))}
