"""The API's store pool outlives a restarted PostgreSQL server (every connection dropped):
an idle connection is tested before it is lent (hub/store/db.py), one that breaks in use
fails once and the pool then opens new ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from hub.store import db
from tests.services import POSTGRES_ADMIN_URL, fresh_postgres_database


@pytest.fixture
def engine() -> Iterator[Engine]:
    with fresh_postgres_database() as url:
        engine = db.make_engine(url)
        yield engine
        engine.dispose()


def _drop_connections(engine: Engine) -> int:
    """What a server restart does to a client: every backend of its database ends."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": engine.url.database}).all())
    finally:
        admin.dispose()


def _select_one(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT 1")).scalar_one())


def test_an_idle_pooled_connection_dropped_by_the_server_is_replaced(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every checkout counts as idle
    assert _select_one(engine) == 1
    assert engine.pool.checkedin() == 1  # type: ignore[attr-defined]  # waits in the pool
    assert _drop_connections(engine) >= 1
    assert _select_one(engine) == 1  # tested, found dead, replaced: no error


def test_a_busy_pool_skips_the_test_and_recovers_after_one_failure(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)  # never idle long enough
    assert _select_one(engine) == 1
    assert _drop_connections(engine) >= 1
    with pytest.raises(DBAPIError) as failed:
        _select_one(engine)  # not tested before use: the dead connection fails
    assert failed.value.connection_invalidated
    assert _select_one(engine) == 1  # the pool dropped it: a new connection serves


def test_no_round_trip_for_a_connection_lent_again_at_once(engine: Engine) -> None:
    statements: list[str] = []
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        raw = conn.connection.dbapi_connection
    assert raw is not None
    original = raw.cursor

    def counting(*args: object, **kwargs: object) -> object:
        statements.append("cursor")
        return original(*args, **kwargs)

    setattr(raw, "cursor", counting)  # noqa: B010 - the driver's method, replaced
    try:
        with engine.connect() as conn:  # at once: under IDLE_PING_SECONDS
            assert conn.connection.dbapi_connection is raw
    finally:
        setattr(raw, "cursor", original)  # noqa: B010
    assert statements == []  # pool_pre_ping would have sent a SELECT 1 here
