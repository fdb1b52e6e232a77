"""Engines and sessions for the master store: SQLite by default, PostgreSQL when configured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from hub.errors import StoreError
from hub.records import to_json


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
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    # WAL lets the API read while a sync writes; busy_timeout waits instead of failing.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


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
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
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
    # hide_parameters: SQL errors must not carry record values into messages and logs.
    return create_engine(url, pool_pre_ping=True, hide_parameters=True,
                         json_serializer=to_json, json_deserializer=orjson.loads)


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
