"""Leases: one sync per system at a time, also across hub instances on one database.

A lease is a row with a holder and an expiry. Taking it is one conditional UPDATE (or an
INSERT for a new name), atomic on SQLite and PostgreSQL alike; a heartbeat renews it while
the run lasts, and a crashed instance's lease simply expires, so it never blocks for ever.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from hub.errors import HubError
from hub.store import bulk
from hub.store.tables import JobLease

log = logging.getLogger(__name__)

TTL = dt.timedelta(seconds=120)


class Busy(HubError):
    """Another run holds the lease."""


def holder_id() -> str:
    """``host:pid:starttime:uuid``; the start time (``""`` where there is no /proc) tells a
    reused pid from the process that took the lease."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or ''}:{uuid.uuid4().hex[:8]}"


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3, the state, first);
    None where there is no /proc or no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces or ")"
    return raw[raw.rfind(")") + 1:].split()


def _start_time(pid: int) -> str | None:
    fields = _proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None  # field 22: starttime


def _dead_here(holder: str) -> bool:
    """A holder on this very machine whose process is gone (killed): no need to wait for
    the lease to expire.

    Gone means: no such process; a zombie (state Z) or dead (X) one, which is what a killed
    run stays as under a PID 1 that does not reap, as in many containers; or, where the
    holder recorded its start time, a process of that pid started at another time (the pid
    was reused). Holders of the older ``host:pid:uuid`` form are judged by the pid alone.
    """
    parts = holder.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    started = parts[2] if len(parts) >= 4 and parts[2].isdigit() else None
    fields = _proc_stat(pid)
    if fields:  # Linux
        if fields[0] in ("Z", "X", "x"):
            return True
        return started is not None and len(fields) > 19 and fields[19] != started
    # No /proc (or it hides other users' processes): signal 0 says whether the pid exists.
    try:
        os.kill(pid, 0)
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
                try:
                    _take(engine, name, holder, ttl)
                except SQLAlchemyError as exc:
                    # Say, SQLite locked past busy_timeout by this run's own long write:
                    # the lease has two more beats before it expires, so try again then
                    # rather than let the heartbeat die and the lease lapse for good.
                    log.warning("could not renew the lease %s (%s); trying again at the "
                                "next beat", name, type(exc).__name__)

    beat = threading.Thread(target=heartbeat, name="kontor-lease", daemon=True)
    beat.start()
    try:
        yield holder
    finally:
        stop.set()
        beat.join(timeout=5)
        _release(engine, got, holder)
