"""Engines and sessions for the master store: SQLite by default, PostgreSQL when configured."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import orjson
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session

from hub.errors import StoreError, missing_extra
from hub.records import to_json

if TYPE_CHECKING:
    from policies.envelope import Envelope

log = logging.getLogger(__name__)


def normalise_url(url: str) -> str:
    """Pick the drivers Kontor ships with (psycopg 3, PyMySQL) for bare scheme names."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername in ("mysql", "mariadb"):
        parsed = parsed.set(drivername="mysql+pymysql")
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    # Unquoted for reading: SQLAlchemy escapes the ':' of SQLite's "file:" URI form.
    return unquote(make_url(url).render_as_string(hide_password=True))


def private_store_file(path: Path) -> None:
    """The store holds personal data: owner-only (0600). A new file is created so before
    SQLite opens it (SQLite gives its -wal and -shm files the database file's mode); an
    existing store, WAL or SHM that others may open (made before Kontor set its umask) is
    tightened to owner-only, with a warning, or the warning says what to do."""
    if os.name != "posix" or str(path).startswith("file:"):
        return
    if not path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError:
            return  # SQLite says why, in its own words
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o077:
                os.chmod(file, mode & 0o700)
                log.warning("master store file %s was open to others (mode %04o): "
                            "made owner-only (0600)", file, mode)
        except FileNotFoundError:
            continue
        except OSError:
            log.warning("master store file %s is open to others: chmod 600 it", file)


def check_keyring_opens(engine: Engine, envelope: Envelope) -> None:
    """Fail early, before anything is read or written, when the keyring is not this
    store's (another deployment's keyring file or KONTOR_MASTER_KEY): unwrap one stored
    data key. Raises ``KeyringError``; does nothing on a store without data keys."""
    from hub.store import bulk
    from hub.store.tables import SubjectKey

    t = bulk.table_of(SubjectKey)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(t.c.entity, t.c.golden_id, t.c.key_id, t.c.wrapped)
                               .limit(1)).first()
    except Exception:  # noqa: BLE001 - no key table yet (a store not migrated): nothing to check
        return
    if row is not None:
        envelope.unwrap(row.wrapped, f"{row.entity}|{row.golden_id}", row.key_id)


#: SQLite settings of every connection to the master store, and why. Crash safety: WAL with
#: synchronous=NORMAL never corrupts the store and loses nothing a killed process (SIGKILL,
#: OOM) committed, since committed pages sit in the WAL file in the OS's cache; only a power
#: loss or kernel crash can take back the transactions since the last WAL sync (a
#: checkpoint): the store is then as it was a moment earlier, consistent, and the next sync
#: reads those records again (cursors are stored with the data they cover).
SQLITE_PRAGMAS = (
    # Wait for another writer's lock instead of failing at once (first: the settings below
    # may need a lock themselves).
    ("busy_timeout", "30000"),
    # 8 KiB pages for a new store (no effect on an existing one): golden rows carry ~1.5 KB
    # of values and provenance, and only two fit a 4 KiB page (a quarter of it wasted).
    # Must precede journal_mode, which writes the file's header.
    ("page_size", "8192"),
    # Readers (the API) never block the writer (a sync) and see its last commit.
    ("journal_mode", "WAL"),
    # A commit is one write to the WAL, no fsync: see above.
    ("synchronous", "NORMAL"),
    ("foreign_keys", "ON"),
    # Up to 64 MiB of pages per connection (default 2 MiB), taken only as used: the match
    # and source keys are digests, so a batch inserts them all over their indexes; with
    # 600k records stored that costs a quarter less CPU than with 2 MiB. (No mmap_size:
    # it saved nothing measurable and counts the mapped store in every process's RSS.)
    ("cache_size", "-65536"),
    # Sorts, IN-subquery lists and temporary indexes in memory, not temporary files.
    ("temp_store", "MEMORY"),
    # After a checkpoint, cut a WAL a large batch grew back to 64 MiB.
    ("journal_size_limit", str(64 << 20)),
)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    for name, value in SQLITE_PRAGMAS:
        _pragma_when_unlocked(cur, f"PRAGMA {name}={value}")
    cur.close()


def _pragma_when_unlocked(cur, statement: str) -> None:  # type: ignore[no-untyped-def]
    """Several processes opening a new store at once all switch it to WAL; SQLite answers
    one of them "database is locked" at once, without its busy handler (two connections
    upgrading their locks would deadlock), so wait and try again, for 30 s at most."""
    deadline = time.monotonic() + 30
    while True:
        try:
            cur.execute(statement)
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _postgresql_session(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # Timestamps are stored without a zone, as UTC (as on SQLite): an aware datetime bound
    # as a parameter is converted with the session's zone, which must not depend on the
    # server's configuration; bulk COPY writes the same UTC values.
    with dbapi_conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        # Plan every statement for its values, even one psycopg prepared (after 5 runs):
        # a batch's look-up passes its keys as one array, and only a plan that knows them
        # hashes them or picks index probes by their number; a generic plan compared each
        # row with every key (seen: seconds per IN list of 900 keys on a 65k-row xref).
        cur.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_conn.commit()


def _sqlite_driverless(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, begins transactions


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str, *, savepoints: bool = False) -> Engine:
    """An engine for the master store. ``savepoints``: on SQLite, let SQLAlchemy begin
    every transaction, so SAVEPOINTs nest properly (what `kontor plan` needs to roll a
    whole sync back). Not the default: a read would then hold its snapshot until the
    transaction ends, and a later write in it could fail against a concurrent writer."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and \
                not parsed.database.startswith("file:"):  # SQLite's URI form opens as told
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            private_store_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"check_same_thread": False},
                               hide_parameters=True, json_serializer=to_json,
                               json_deserializer=orjson.loads)
        event.listen(engine, "connect", _sqlite_pragmas)
        if savepoints:
            event.listen(engine, "connect", _sqlite_driverless)
            event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(f"unsupported master-store database {safe_url(url)}: "
                         "use SQLite or PostgreSQL")
    try:
        # hide_parameters: SQL errors must not carry record values into messages and logs.
        # Durability is the server's (synchronous_commit stays on: a commit survives
        # a power loss). psycopg prepares a statement on the server once it ran 5 times,
        # which the store's cached statements (one text per shape, see bulk.among) reach.
        engine = create_engine(url, hide_parameters=True, json_serializer=to_json,
                               json_deserializer=orjson.loads)
    except ImportError as exc:  # the driver is an extra (pyproject.toml): say which
        raise StoreError(missing_extra(f"the PostgreSQL master store ({safe_url(url)})", exc,
                                       parsed.get_driver_name())) from None
    event.listen(engine, "connect", _postgresql_session)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_when_idle)
    return engine


#: A pooled PostgreSQL connection idle for longer than this is tested before it is lent.
IDLE_PING_SECONDS = 1.0


def _note_checkin(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
    if record is not None:
        record.info["idle_since"] = time.monotonic()


def _ping_when_idle(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
    """Survive a restarted server (or a dropped connection): a connection that sat idle
    in the pool is tested with a round trip first; a dead one is replaced (the pool retries
    the checkout on ``DisconnectionError``). Not on every checkout, as ``pool_pre_ping``
    does: under load a connection is lent again within milliseconds, and a round trip
    per request (a statement for the server to parse and answer) buys nothing then.
    A connection that breaks while in use fails its statement; SQLAlchemy then sees the
    disconnect and invalidates the pool's older connections, so the next checkouts open
    new ones."""
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
        return
    try:
        with dbapi_conn.cursor() as cur:
            cur.execute("SELECT 1")
        dbapi_conn.rollback()  # the ping's implicit transaction: not the caller's
    except Exception as exc:  # noqa: BLE001 - any failure: the connection is unusable
        raise DisconnectionError(f"idle connection lost ({type(exc).__name__})") from None


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
