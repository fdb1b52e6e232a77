"""Leases: one sync per system at a time, also across hub instances on one database.

A lease is a row with a holder and an expiry. Taking it is one conditional UPDATE (or an
INSERT for a new name), atomic on SQLite and PostgreSQL alike; a heartbeat renews it while
the run lasts, and a crashed instance's lease simply expires, so it never blocks for ever.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from hub.errors import HubError
from hub.store import bulk
from hub.store.tables import JobLease

TTL = dt.timedelta(seconds=120)


class Busy(HubError):
    """Another run holds the lease."""


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_here(holder: str) -> bool:
    """A holder on this very machine whose process is gone (killed): no need to wait for
    the lease to expire."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def _take(engine: Engine, name: str, holder: str, ttl: dt.timedelta) -> bool:
    t = bulk.table_of(JobLease)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        current = conn.execute(select(t.c.holder).where(t.c.name == name)).scalar()
        stale = current is not None and _dead_here(current)
        taken = conn.execute(update(t).where(
            t.c.name == name,
            (t.c.expires_at < now) | (t.c.holder == holder) | (t.c.holder == (current if stale
                                                                              else holder)))
            .values(holder=holder, expires_at=now + ttl)).rowcount
        if taken:
            return True
        if current is not None:
            return False
    try:
        with engine.begin() as conn:
            conn.execute(t.insert().values(name=name, holder=holder, expires_at=now + ttl))
        return True
    except IntegrityError:  # another instance inserted it first
        return False


def _release(engine: Engine, names: Sequence[str], holder: str) -> None:
    t = bulk.table_of(JobLease)
    with engine.begin() as conn:
        conn.execute(delete(t).where(t.c.name.in_(list(names)), t.c.holder == holder))


def _who(engine: Engine, name: str) -> str:
    t = bulk.table_of(JobLease)
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.name == name)).first()
    return f"{row.holder} until {row.expires_at:%H:%M:%S} UTC" if row else "someone"


@contextmanager
def held(engine: Engine, names: Sequence[str], *, ttl: dt.timedelta = TTL
         ) -> Iterator[str]:
    """Hold every lease in ``names`` (all or none) while the block runs."""
    holder = holder_id()
    got: list[str] = []
    for name in sorted(set(names)):  # a fixed order: two runs cannot deadlock each other
        if not _take(engine, name, holder, ttl):
            if got:
                _release(engine, got, holder)
            raise Busy(f"{name} is being synced by {_who(engine, name)}")
        got.append(name)
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(ttl.total_seconds() / 3):
            for name in got:
                _take(engine, name, holder, ttl)

    beat = threading.Thread(target=heartbeat, name="kontor-lease", daemon=True)
    beat.start()
    try:
        yield holder
    finally:
        stop.set()
        beat.join(timeout=5)
        _release(engine, got, holder)
