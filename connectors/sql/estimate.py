"""How many rows a read of a table will return, for a progress bar: a COUNT, or the
database's own statistics where counting a big table would hold up the read."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

#: Above this many rows (by the statistics) a full read takes the statistics' figure instead
#: of a COUNT: counting ten million rows costs seconds before the first row is read.
COUNT_LIMIT = 1_000_000

_POSTGRES = sa.text(
    "SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relname = :table AND n.nspname = coalesce(:schema, current_schema())")
_MYSQL = sa.text(
    "SELECT TABLE_ROWS FROM information_schema.TABLES "
    "WHERE TABLE_SCHEMA = coalesce(:schema, DATABASE()) AND TABLE_NAME = :table")


def statistics(conn: Connection, table: sa.Table) -> int | None:
    """The row count the database keeps in its statistics (PostgreSQL, MySQL/MariaDB), or
    None where there is none (SQLite, a view, a table never analysed)."""
    query = {"postgresql": _POSTGRES, "mysql": _MYSQL, "mariadb": _MYSQL}.get(
        conn.dialect.name)
    if query is None:
        return None
    found = conn.execute(query, {"table": table.name, "schema": table.schema}).scalar()
    conn.rollback()  # leave no transaction open for the read that follows
    return int(found) if found is not None and found > 0 else None


def count(conn: Connection, query: Any) -> int:
    """The rows ``query`` (a SELECT) returns, counted by the database."""
    counted = conn.execute(sa.select(sa.func.count()).select_from(
        query.order_by(None).subquery())).scalar_one()
    conn.rollback()
    return int(counted)
