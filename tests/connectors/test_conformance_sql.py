"""The SQL connector passes the conformance kit on real SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from connectors.base import Record, StreamSpec
from connectors.sql import SqlConnector
from hub.testing import ConnectorConformance, Harness

if TYPE_CHECKING:
    from conftest import Database  # the fixture's type; pytest provides the value

T0 = dt.datetime(2024, 3, 1, 9, 0, 0)


class SqlHarness(Harness):
    """One fresh table per check, seeded and inspected with SQLAlchemy Core directly."""

    connector_class = SqlConnector
    can_reject = True  # NOT NULL on name

    def __init__(self, database: Database, make_table: Callable[..., sa.Table]):
        super().__init__(database.base_dir)
        self.database = database
        self.table = make_table(
            sa.Column("id", sa.String(40), primary_key=True),
            sa.Column("name", sa.String(200), nullable=False),
            sa.Column("note", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"),
                      nullable=True),
            sa.Column("updated_at", sa.DateTime, nullable=True))

    def settings(self) -> dict[str, Any]:
        return {"url": self.database.url}

    def bad_settings(self) -> dict[str, Any]:
        if self.database.name == "sqlite":  # a folder that does not exist
            return {"url": "sqlite:///no-such-folder/kontor.db", "password": "unused"}
        url = sa.engine.make_url(self.database.url)
        if self.database.name == "postgresql":  # the server trusts local users: a wrong one
            return {"url": url.set(username="kontor_no_such_role")
                    .render_as_string(hide_password=False), "password": "wrong-password"}
        return {"url": self.database.url, "password": "wrong-password"}

    def invalid_settings(self) -> list[dict[str, Any]]:
        return [{"url": "not a url"}, {"url": self.database.url, "schema_name": ["x"]}]

    def stream(self, *, incremental: bool = False) -> StreamSpec:
        return StreamSpec(self.table.name, ("id",),
                          cursor_field="updated_at" if incremental else None)

    def cursor_value(self, step: int) -> Any:
        return T0 + dt.timedelta(hours=step)

    def cursor_order(self, cursor: Any) -> Any:
        return dt.datetime.fromisoformat(cursor)

    def seed(self, records: list[Record]) -> None:
        with self.database.engine.begin() as conn:
            conn.execute(self.table.delete())
            if records:
                conn.execute(self.table.insert(), [
                    {"updated_at": None, **r} for r in records])

    def contents(self) -> list[Record]:
        with self.database.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(self.table))]

    def rejected_record(self, key: str) -> Record:
        return self.record(key, None, "kontor-private-note")


class TestSqlConformance(ConnectorConformance):
    harness = SqlHarness

    @pytest.fixture
    def kontor_harness(self, database: Database, make_table: Callable[..., sa.Table]
                       ) -> SqlHarness:
        return SqlHarness(database, make_table)
