"""Set-based upserts and deletes, with a row-by-row fallback that rejects only bad rows.

A batch is one statement (executemany) in one transaction. Only when the database refuses
it for a data reason does the batch go again row by row, each row in a savepoint, so one
bad record is rejected on its own while the rest is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from connectors.base import Record, WriteResult
from connectors.sql.errors import explain, is_data_error
from hub.errors import FatalConnectorError, RecordProblem

#: One item of a batch: its 1-based position, its key text, and its statement parameters.
Item = tuple[int, str, Record]


def require_unique_key(system: str, table: sa.Table, key: tuple[str, ...]) -> None:
    """The upsert needs a primary key or unique index on exactly the key columns.

    Why: without one PostgreSQL/SQLite refuse ON CONFLICT, and MySQL would silently
    insert duplicates on every run.
    """
    wanted = set(key)
    sets = [{c.name for c in table.primary_key.columns}]
    sets += [{c.name for c in con.columns} for con in table.constraints
             if isinstance(con, sa.UniqueConstraint)]
    sets += [{c.name for c in ix.columns} for ix in table.indexes if ix.unique]
    if wanted not in sets:
        raise FatalConnectorError(
            f"{system}: table {table.name!r} has no primary key or unique index on "
            f"({', '.join(key)}); an idempotent upsert needs one")


def upsert(system: str, dialect: str, table: sa.Table, key: tuple[str, ...],
           columns: tuple[str, ...]) -> Any:
    """INSERT ... ON CONFLICT / ON DUPLICATE KEY for ``columns``, per dialect."""
    updates = [c for c in columns if c not in key]
    if dialect in ("sqlite", "postgresql"):
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as lite_insert

        stmt: Any = (lite_insert if dialect == "sqlite" else pg_insert)(table)
        if not updates:
            return stmt.on_conflict_do_nothing(index_elements=list(key))
        return stmt.on_conflict_do_update(
            index_elements=list(key), set_={c: stmt.excluded[c] for c in updates})
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as my_insert
        my_stmt = my_insert(table)
        return my_stmt.on_duplicate_key_update(
            {c: my_stmt.inserted[c] for c in (updates or [key[0]])})
    raise FatalConnectorError(f"{system}: upsert is not supported for {dialect!r}")


def upsert_groups(rows: list[Item], key: tuple[str, ...]
                  ) -> Iterator[tuple[tuple[str, ...], list[Record]]]:
    """One executemany per distinct column set (normally exactly one)."""
    groups: dict[tuple[str, ...], dict[tuple[Any, ...], Record]] = {}
    for _, _, record in rows:
        group = groups.setdefault(tuple(sorted(record)), {})
        group[tuple(record[k] for k in key)] = record  # same key twice: the later wins
    for columns, by_key in groups.items():
        yield columns, list(by_key.values())


def delete_statement(table: sa.Table, key: tuple[str, ...]) -> Any:
    """DELETE by key; parameters are named ``key_0``, ``key_1``... (column names may be
    anything, bind names may not)."""
    return sa.delete(table).where(sa.and_(*(
        table.c[k] == sa.bindparam(f"key_{i}", type_=table.c[k].type)
        for i, k in enumerate(key))))


def run_batch(conn: Connection, table: sa.Table, items: list[Item], result: WriteResult,
              *, statements: Callable[[list[Item]], Iterator[tuple[Any, list[Record]]]],
              problem: Callable[[int, str | None], RecordProblem]) -> None:
    """Run ``statements`` for all items in one transaction; on a data error, row by row.

    ``problem(index, reason)`` builds the RecordProblem for a refused item.
    """
    if not items:
        return
    try:
        with conn.begin():
            for statement, many in statements(items):
                conn.execute(statement, many)
        result.written += len(items)
        return
    except sa_exc.SQLAlchemyError as error:
        if not is_data_error(error):
            raise
    with conn.begin():
        for item in items:
            index, text, params = item
            try:
                with conn.begin_nested():
                    for statement, one in statements([item]):
                        conn.execute(statement, one)
                result.written += 1
            except sa_exc.SQLAlchemyError as error:
                if not is_data_error(error):
                    raise
                reason, field = explain(error, table, params)
                refused = problem(index, reason)
                refused.field = field
                result.rejected.append((text, refused))
