"""Shared fixtures for the connector tests: real SQL servers, or a clear skip.

The servers are the ones the project's CI provides. Locally a missing server skips its
tests with the reason; in CI (env CI=true) a missing server fails them instead, so a
broken service can never turn the suite silently green.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.services import unavailable

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


@cache
def _reachable(url: str) -> str | None:
    """None when the server answers, else why not (asked once per session)."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable here"
        return f"{type(exc).__name__}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"
    finally:
        engine.dispose()


def require_server(url: str, name: str) -> None:
    """Skip (locally) or fail (CI=true) when the server behind ``url`` is unreachable."""
    problem = _reachable(url)
    if problem is None:
        return
    safe = sa.engine.make_url(url).render_as_string(hide_password=True)
    unavailable(f"{name} not reachable at {safe} ({problem})")


@dataclass
class Database:
    """One database under test: the url the connector gets, and an engine for the test."""

    name: str  # "sqlite", "postgresql", "mariadb"
    url: str  # as written in kontor.yaml (relative for SQLite)
    base_dir: Path
    engine: sa.Engine

    def table_name(self, prefix: str = "t") -> str:
        return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=[
    pytest.param("sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    kind = request.param
    if kind == "sqlite":
        # Relative on purpose: the connector must resolve it against base_dir.
        url = "sqlite:///data/kontor-test.db"
        (tmp_path / "data").mkdir()
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'kontor-test.db'}")
    else:
        url = POSTGRES_URL if kind == "postgresql" else MARIADB_URL
        require_server(url, kind)
        engine = sa.create_engine(url)
    try:
        yield Database(kind, url, tmp_path, engine)
    finally:
        engine.dispose()


@pytest.fixture
def make_table(database: Database) -> Iterator[Callable[..., sa.Table]]:
    """Create tables with unique names; drop them after the test."""
    created: list[sa.Table] = []

    def make(*columns: sa.Column, prefix: str = "t") -> sa.Table:
        table = sa.Table(database.table_name(prefix), sa.MetaData(), *columns,
                         mysql_charset="utf8mb4")
        table.create(database.engine)
        created.append(table)
        return table

    yield make
    for table in created:
        table.drop(database.engine, checkfirst=True)


@pytest.fixture
def mariadb_url() -> str:
    """The MariaDB url, for tests outside the parametrised ``database`` fixture."""
    require_server(MARIADB_URL, "mariadb")
    return MARIADB_URL


@pytest.fixture
def server_gate() -> Callable[[str, str], None]:
    """``require_server`` itself, so its skip/fail rule can be tested."""
    return require_server
