"""The SQL connector: one table (or view) is one stream.

Reads stream with a server-side cursor; incremental reads follow a cursor column. Writes
are one set-based upsert per batch and deletes one set-based DELETE (``write.py``).
Table and column names come from reflection and are quoted by SQLAlchemy, never
formatted into SQL text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors._keys import key_text, key_values
from connectors.base import (
    Capability,
    ConnectorSettings,
    ReadBatch,
    ReadSize,
    Record,
    SourceRecord,
    StreamSpec,
    WriteResult,
)
from connectors.sql import estimate as sql_estimate
from connectors.sql import write as sql_write
from connectors.sql.cursor import batch_with_cursor, from_json
from connectors.sql.plumbing import SqlPlumbing
from connectors.sql.settings import SqlSettings
from hub.errors import ConnectorError, FatalConnectorError, RecordProblem


class SqlConnector(SqlPlumbing):
    """Reads, upserts and deletes rows of an SQL database (SQLite, PostgreSQL, MySQL/MariaDB)."""

    kind: ClassVar[str] = "sql"
    settings_model: ClassVar[type[ConnectorSettings]] = SqlSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READ, Capability.INCREMENTAL, Capability.WRITE, Capability.DELETE,
         Capability.DISCOVER})

    def check(self) -> None:
        with self._connect("check") as conn:
            conn.execute(sa.text("SELECT 1"))

    def streams(self) -> list[str]:
        with self._connect("list tables") as conn:
            insp = sa.inspect(conn)
            schema = self.settings.schema_name
            return sorted(insp.get_table_names(schema=schema) + insp.get_view_names(schema=schema))

    def discover(self, stream: StreamSpec | None = None) -> list[dict[str, Any]]:
        names = [stream.resource] if stream else self.streams()
        found = []
        with self._connect("discover") as conn:
            for name in names:
                table = self._table(conn, name)
                fields = []
                for column in table.columns:
                    try:
                        kind = column.type.compile(dialect=conn.dialect)
                    except Exception:  # noqa: BLE001 - an exotic type still gets listed
                        kind = type(column.type).__name__
                    fields.append({"name": column.name, "type": kind})
                key = [c.name for c in table.primary_key.columns] or \
                    (list(stream.key) if stream else [])
                found.append({"resource": name, "fields": fields, "key": key})
        return found

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[ReadBatch]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        name = stream.resource
        with self._connect(f"reading table {name!r}") as conn:
            table = self._table(conn, name)
            self._columns(table, stream.key, "key")
            result = conn.execution_options(stream_results=True, yield_per=batch_size) \
                .execute(self._query(table, stream, since))
            batch: list[SourceRecord] = []
            for number, row in enumerate(result, start=1):
                data = dict(row._mapping)
                if len(batch) == batch_size:
                    yield batch_with_cursor(batch, stream.cursor_field, next_value=data)
                    batch = []
                batch.append(SourceRecord(data=data, location=f"{name}:row {number}"))
            if batch:
                yield batch_with_cursor(batch, stream.cursor_field, next_value=None)

    def estimate(self, stream: StreamSpec, *, since: Any = None) -> ReadSize | None:
        """The rows the read returns: counted, or for a full read of a big table the
        database's statistics (PostgreSQL, MySQL/MariaDB), which cost nothing."""
        try:
            with self._connect(f"counting table {stream.resource!r}") as conn:
                table = self._table(conn, stream.resource)
                if since is None:
                    guess = sql_estimate.statistics(conn, table)
                    if guess is not None and guess > sql_estimate.COUNT_LIMIT:
                        return ReadSize(guess, exact=False)
                return ReadSize(sql_estimate.count(conn, self._query(table, stream, since)))
        except ConnectorError:
            return None  # the read says what is wrong

    def _query(self, table: sa.Table, stream: StreamSpec, since: Any) -> Any:
        keys = [table.c[k] for k in stream.key]
        query = sa.select(table)
        if not stream.cursor_field:
            return query.order_by(*keys)
        self._columns(table, (stream.cursor_field,), "cursor")
        cursor_col = table.c[stream.cursor_field]
        if since is not None:
            return query.where(cursor_col > from_json(cursor_col, since)) \
                .order_by(cursor_col, *keys)
        # First run: NULL cursors first, so the batch cursor is the last row's.
        return query.order_by(sa.case((cursor_col.is_(None), 0), else_=1), cursor_col, *keys)

    def _writable(self, conn: Connection, stream: StreamSpec, action: str) -> sa.Table:
        if not stream.key:
            raise FatalConnectorError(f"{self.system}: stream {stream.resource!r} needs a key "
                                      f"to {action}")
        table = self._table(conn, stream.resource)
        self._columns(table, stream.key, "key")
        return table

    def _problem(self, stream: StreamSpec, what: str) -> Any:
        def build(index: int, reason: str | None) -> RecordProblem:
            return RecordProblem(reason=reason or "refused", system=self.system,
                                 stream=stream.resource,
                                 location=f"{stream.resource}:{what} {index}")
        return build

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        result = WriteResult()
        with self._connect(f"writing table {stream.resource!r}") as conn:
            table = self._writable(conn, stream, "write (upsert by key)")
            sql_write.require_unique_key(self.system, table, stream.key)
            unknown = sorted({c for r in records for c in r if c not in table.c})
            if unknown:
                raise FatalConnectorError(
                    f"{self.system}: table {table.name!r} has no column(s) "
                    f"{', '.join(unknown)}; check the outbound mapping")
            problem = self._problem(stream, "batch record")
            items: list[sql_write.Item] = []
            for index, record in enumerate(records, start=1):
                missing = [k for k in stream.key if record.get(k) is None]
                if missing:
                    refused = problem(index, "key field is missing")
                    refused.field = missing[0]
                    result.rejected.append((key_text(stream.key, record, index), refused))
                else:
                    items.append((index, key_text(stream.key, record, index), record))
            dialect = self.engine.dialect.name

            def statements(batch: list[sql_write.Item]) -> Iterator[tuple[Any, list[Record]]]:
                for columns, rows in sql_write.upsert_groups(batch, stream.key):
                    yield sql_write.upsert(self.system, dialect, table, stream.key,
                                           columns), rows

            sql_write.run_batch(conn, table, items, result, statements=statements,
                                problem=problem)
        return result

    def delete(self, stream: StreamSpec, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        result = WriteResult()
        with self._connect(f"deleting from table {stream.resource!r}") as conn:
            table = self._writable(conn, stream, "delete")
            problem = self._problem(stream, "delete key")
            items: list[sql_write.Item] = []
            for index, given in enumerate(keys, start=1):
                # Text keys are split; tuples keep their values' types (an int stays an int).
                values = tuple(given) if not isinstance(given, str) else None
                try:
                    if values is None:
                        values = key_values(stream.key, given)
                    elif len(values) != len(stream.key) or None in values:
                        raise ValueError(f"expected {len(stream.key)} non-null key value(s)")
                except ValueError as exc:
                    result.rejected.append((f"#{index}", problem(index, str(exc))))
                    continue
                text = key_text(stream.key, dict(zip(stream.key, values)), index)
                items.append((index, text, {f"key_{i}": v for i, v in enumerate(values)}))
            statement = sql_write.delete_statement(table, stream.key)
            sql_write.run_batch(conn, table, items, result, problem=problem,
                                statements=lambda batch: iter(
                                    [(statement, [params for _, _, params in batch])]))
        return result
