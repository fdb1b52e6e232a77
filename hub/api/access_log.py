"""Note every read of restricted fields: who, which records, which fields (never values).

Each read goes into the audit trail's hash chain (kind `read.restricted`, one entry per
record) and, for quick per-token look-ups, into the restricted-read log table.

Reads that arrive while another is being written are written together, in one
transaction (group commit): every writer of the trail queues on its head row, so one
transaction per request made the log the API's bottleneck (about 90 SCIM pages a second
on SQLite, whose busy writers back off by sleeping). A request still returns only once
its own read is committed, and fails with the transaction if that fails.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

from hub.audit.record import AuditLog
from hub.auth.roles import PURPOSES
from hub.auth.tables import RestrictedReadLog
from hub.auth.tokens import Caller
from hub.store import bulk
from hub.store.db import make_engine
from policies.keys import Keyring

# The log is written while the request may still hold a connection of the store's pool;
# taking a second one from the same pool could deadlock under load (every connection held
# by a request waiting for another). The log therefore has a small pool of its own.
_log_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_writers: weakref.WeakKeyDictionary[Engine, _Writer] = weakref.WeakKeyDictionary()
_setup = threading.Lock()


def _log_engine(engine: Engine) -> Engine:
    with _setup:
        if engine not in _log_engines:
            log_engine = make_engine(engine.url.render_as_string(hide_password=False))
            if log_engine.dialect.name == "sqlite":
                event.listen(log_engine, "connect", _no_busy_sleep)
            _log_engines[engine] = log_engine
        return _log_engines[engine]


def _no_busy_sleep(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # After the store's settings (hub/store/db.py): a locked store fails at once, and
    # ``_write`` tries again within a millisecond or so (see there).
    dbapi_conn.execute("PRAGMA busy_timeout=0")


@dataclass
class _Read:
    """One response's restricted read, waiting to be written."""

    caller: Caller
    channel: str
    entity: str
    ids: list[str]
    fields: list[str]
    at: dt.datetime
    keyring: Keyring | None
    done: bool = False
    error: BaseException | None = field(default=None, repr=False)


class _Writer:
    """Group commit for one store: the first request to find no write in progress writes
    every read queued by then; the others wait for the write that holds theirs."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.queued: list[_Read] = []
        self.writing = False

    def write(self, engine: Engine, read: _Read) -> None:
        with self.changed:
            self.queued.append(read)
            while not read.done:
                if self.writing:
                    self.changed.wait()
                    continue
                batch, self.queued, self.writing = self.queued, [], True
                error: BaseException | None = None
                self.changed.release()
                try:
                    _write(engine, batch)
                except BaseException as exc:  # noqa: BLE001 - handed to every waiter
                    error = exc
                finally:
                    self.changed.acquire()
                    self.writing = False
                    for r in batch:
                        r.done, r.error = True, error
                    self.changed.notify_all()
        if read.error is not None:
            raise read.error


def _writer(engine: Engine) -> _Writer:
    with _setup:
        if engine not in _writers:
            _writers[engine] = _Writer()
        return _writers[engine]


#: How long a log write waits for a store another process is writing (SQLite).
LOCKED_WAIT_SECONDS = 30.0


def _write(engine: Engine, batch: list[_Read]) -> None:
    """``_write_once``; on SQLite, tried again while another process holds the store's
    write lock (API workers, a sync). SQLite's own busy handler sleeps 25 to 100 ms between
    tries after the first few, for a lock that the other worker's log write holds a
    millisecond or two (``kontor serve --workers 2``). Short polls instead; nothing is
    committed before a try succeeds."""
    log_engine = _log_engine(engine)
    deadline = time.monotonic() + LOCKED_WAIT_SECONDS
    pause = 0.0005
    while True:
        try:
            _write_once(log_engine, batch)
            return
        except OperationalError as exc:
            if log_engine.dialect.name != "sqlite" or "locked" not in str(exc.orig) \
                    or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.004)


def _write_once(log_engine: Engine, batch: list[_Read]) -> None:
    """One transaction: a log row per read, and its audit entries, one per record."""
    with log_engine.begin() as conn:
        conn.execute(bulk.table_of(RestrictedReadLog).insert(), [
            {"at": r.at, "token_id": r.caller.token_id, "role": r.caller.role.value,
             "channel": r.channel, "entity": r.entity, "golden_ids": r.ids,
             "fields": r.fields, "purpose": PURPOSES[r.caller.role]} for r in batch])
        logs: dict[tuple[int, str], AuditLog] = {}
        for r in batch:
            if r.keyring is None:
                continue
            actor = f"api:token {r.caller.token_id} ({r.caller.role.value})"
            log = logs.get((id(r.keyring), actor))
            if log is None:
                log = logs[(id(r.keyring), actor)] = AuditLog(r.keyring, actor)
            for golden_id in r.ids:
                log.add("read.restricted", "shown", at=r.at, destination=f"{r.channel}:"
                        f"{r.caller.role.value}", entity=r.entity, golden_id=golden_id,
                        purpose=PURPOSES[r.caller.role], detail={"fields": r.fields})
        for log in logs.values():
            log.flush(conn)


def record_restricted_read(engine: Engine, *, caller: Caller, channel: str, entity: str,
                           golden_ids: Iterable[str], fields: Iterable[str],
                           keyring: Keyring | None = None) -> None:
    """Write one row for one response that released restricted fields to ``caller``, and
    (with ``keyring``) one audit entry per record, in the same transaction; returns once
    they are committed (with the reads of concurrent requests, see above)."""
    _writer(engine).write(engine, _Read(caller, channel, entity, sorted(set(golden_ids)),
                                sorted(set(fields)), dt.datetime.now(dt.UTC), keyring))
