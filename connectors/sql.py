"""SQL databases through SQLAlchemy Core: one table (or view) is one stream.

Reads stream with a server-side cursor; incremental reads follow a cursor column.
Writes are one set-based upsert per batch; only when the database refuses the batch for a
data reason does it fall back to row by row (each row in a savepoint), so one bad record is
rejected on its own while the rest is written.

Privacy: database messages about refused data may quote the value (MySQL "Duplicate entry
'x'"), so those messages never leave this module; problems are rebuilt from error codes
and column names. The password lives only in a ``SecretStr`` and in the engine's URL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import ConfigDict, SecretStr, field_validator
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from connectors.base import (
    Capability,
    Connector,
    ConnectorSettings,
    ReadBatch,
    Record,
    SourceRecord,
    StreamSpec,
    WriteResult,
)
from hub.errors import ConnectorError, FatalConnectorError, RecordProblem, RetriableConnectorError

CONNECT_TIMEOUT = 10  # seconds; a silent firewall must not hang a run forever
_PASSWORD_PARAMS = {"password", "passwd", "pwd"}
_TIMEOUT_ARG = {"psycopg": "connect_timeout", "psycopg2": "connect_timeout",
                "pymysql": "connect_timeout", "mysqldb": "connect_timeout"}

# PostgreSQL SQLSTATEs / MySQL error numbers worth a retry: serialization failure,
# deadlock, lock timeout, statement timeout, lost connection, too many connections.
_PG_RETRY = {"40001", "40P01", "55P03", "57014", "53300"}
_MY_RETRY = {1205, 1213, 2006, 2013, 1040}
_PG_REASON = {
    "22001": "value too long for the column",
    "22003": "numeric value out of range",
    "22P02": "value has the wrong format for the column type",
    "22007": "invalid date/time value", "22008": "date/time value out of range",
    "23502": "required value is missing (NOT NULL)",
    "23505": "duplicate value in a unique column",
    "23503": "referenced record does not exist (foreign key)",
    "23514": "value rejected by a check constraint",
}
_MY_REASON = {
    1406: "value too long for the column", 1264: "numeric value out of range",
    1366: "value has the wrong format for the column type", 1265: "value truncated",
    1292: "invalid date/time value", 1048: "required value is missing (NOT NULL)",
    1364: "required value is missing (NOT NULL, no default)",
    1062: "duplicate value in a unique column",
    1452: "referenced record does not exist (foreign key)",
    3819: "value rejected by a check constraint", 4025: "value rejected by a check constraint",
}
_SQLITE_REASON = {
    "NOT NULL constraint": "required value is missing (NOT NULL)",
    "UNIQUE constraint": "duplicate value in a unique column",
    "CHECK constraint": "value rejected by a check constraint",
    "FOREIGN KEY constraint": "referenced record does not exist (foreign key)",
    "datatype mismatch": "value has the wrong type for the column",
}


class SqlSettings(ConnectorSettings):
    # Validation errors must not echo the url: it may hold the very password we refuse.
    model_config = ConfigDict(hide_input_in_errors=True)

    #: SQLAlchemy URL without password, e.g. postgresql+psycopg://app@db.local/crm.
    url: str
    password: SecretStr | None = None
    schema_name: str | None = None

    @field_validator("url")
    @classmethod
    def _url_without_password(cls, value: str) -> str:
        try:
            url = make_url(value)
        except Exception:  # noqa: BLE001 - any parse failure is the same user mistake
            raise ValueError("not a valid SQLAlchemy URL (expected e.g. "
                             "postgresql+psycopg://user@host:5432/dbname)") from None
        if url.password is not None or _PASSWORD_PARAMS & {k.lower() for k in url.query}:
            shown = url.set(query={k: v for k, v in url.query.items()
                                   if k.lower() not in _PASSWORD_PARAMS})
            raise ValueError(
                "the url contains a password; remove it from the url "
                f"({shown.render_as_string(hide_password=True)}) and set "
                "`password: ${env:NAME}` instead")
        return value


def _to_json(value: Any) -> Any:
    """A cursor value the hub can store as JSON."""
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _from_json(column: sa.Column[Any], value: Any) -> Any:
    """Turn a stored cursor back into the column's Python type for the comparison."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return value
    if not isinstance(value, str) or kind is str:
        return value
    if kind is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if kind is dt.date:
        return dt.date.fromisoformat(value)
    if kind is Decimal:
        return Decimal(value)
    if kind in (int, float):
        return kind(value)
    return value


def _key_text(key: tuple[str, ...], record: Record, index: int) -> str:
    """How the hub names the record (``|``-joined key values), or its batch position."""
    if all(record.get(k) is not None for k in key):
        return "|".join(str(record[k]) for k in key)
    return f"#{index}"


def _error_code(error: BaseException) -> str | int | None:
    orig = getattr(error, "orig", None)
    if orig is None:
        return None
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):  # MySQL/MariaDB error number (more precise)
        return args[0]
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(sqlstate) if sqlstate else None


class SqlConnector(Connector):
    """Reads and upserts tables of an SQL database (SQLite, PostgreSQL, MySQL/MariaDB)."""

    kind: ClassVar[str] = "sql"
    settings_model: ClassVar[type[ConnectorSettings]] = SqlSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READ, Capability.INCREMENTAL, Capability.WRITE, Capability.DISCOVER})
    settings: SqlSettings

    def __init__(self, settings: ConnectorSettings, *, system: str, base_dir: Path):
        super().__init__(settings, system=system, base_dir=base_dir)
        self._engine: Engine | None = None
        self._tables: dict[str, sa.Table] = {}

    # -- plumbing -----------------------------------------------------------------------

    @property
    def safe_url(self) -> str:
        """The url for messages: never with a password."""
        return make_url(self.settings.url).render_as_string(hide_password=True)

    def _url(self) -> URL:
        url = make_url(self.settings.url)
        if url.get_backend_name() == "sqlite":
            db = url.database
            if db and db != ":memory:" and not db.startswith("file:") \
                    and not Path(db).is_absolute():
                url = url.set(database=str(self.base_dir / db))
        if self.settings.password is not None:
            url = url.set(password=self.settings.password.get_secret_value())
        return url

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = self._url()
            args: dict[str, Any] = {}
            if (name := _TIMEOUT_ARG.get(url.get_driver_name())):
                args[name] = CONNECT_TIMEOUT
            # hide_parameters: SQLAlchemy's own messages must not carry record values.
            engine = sa.create_engine(url, hide_parameters=True, pool_pre_ping=True,
                                      connect_args=args)
            if engine.dialect.name == "sqlite":
                _fix_sqlite_transactions(engine)
            self._engine = engine
        return self._engine

    def _scrub(self, text: str) -> str:
        secret = self.settings.password.get_secret_value() if self.settings.password else ""
        return text.replace(secret, "***") if secret else text

    def _driver_message(self, error: BaseException) -> str:
        orig = getattr(error, "orig", None) or error
        lines = str(orig).strip().splitlines()
        return self._scrub(lines[0].strip() if lines else type(orig).__name__)

    def _is_retriable(self, error: sa_exc.SQLAlchemyError) -> bool:
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
        code = _error_code(error)
        if code in _PG_RETRY or code in _MY_RETRY:
            return True
        message = str(getattr(error, "orig", "")).lower()
        return "database is locked" in message or "database table is locked" in message

    def _translate(self, error: sa_exc.SQLAlchemyError, action: str) -> ConnectorError:
        """A hub error for a failed statement; the driver message is scrubbed of secrets."""
        reason = self._driver_message(error)
        if self._is_retriable(error):
            return RetriableConnectorError(f"{self.system}: {action}: {reason} (transient)")
        return FatalConnectorError(f"{self.system}: {action}: {reason}")

    @contextmanager
    def _connect(self, action: str) -> Iterator[Connection]:
        """A connection, with connect failures and statement errors mapped to hub errors."""
        try:
            conn = self.engine.connect()
        except sa_exc.SQLAlchemyError as error:
            reason = self._driver_message(error)
            if _error_code(error) in {"53300", 1040}:  # too many connections: wait
                raise RetriableConnectorError(
                    f"{self.system}: cannot connect to {self.safe_url}: {reason}") from None
            raise FatalConnectorError(
                f"{self.system}: cannot connect to {self.safe_url}: {reason}") from None
        with conn:
            try:
                yield conn
            except sa_exc.SQLAlchemyError as error:
                raise self._translate(error, action) from None

    def _table(self, conn: Connection, name: str) -> sa.Table:
        if name not in self._tables:
            try:
                self._tables[name] = sa.Table(name, sa.MetaData(), autoload_with=conn,
                                              schema=self.settings.schema_name)
            except sa_exc.NoSuchTableError:
                where = f"{self.settings.schema_name}.{name}" if self.settings.schema_name \
                    else name
                raise FatalConnectorError(f"{self.system}: table {where!r} not found") from None
            finally:
                conn.rollback()  # end reflection's implicit transaction before our own begin()
        return self._tables[name]

    def _columns(self, table: sa.Table, names: tuple[str, ...], what: str) -> None:
        missing = [n for n in names if n not in table.c]
        if missing:
            raise FatalConnectorError(f"{self.system}: {what} column(s) not in table "
                                      f"{table.name!r}: {', '.join(missing)}")

    # -- interface ----------------------------------------------------------------------

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
            keys = [table.c[k] for k in stream.key]
            query = sa.select(table)
            cursor_col = None
            if stream.cursor_field:
                self._columns(table, (stream.cursor_field,), "cursor")
                cursor_col = table.c[stream.cursor_field]
                if since is not None:
                    query = query.where(cursor_col > _from_json(cursor_col, since))
                    query = query.order_by(cursor_col, *keys)
                else:  # first run: NULL cursors first, so the batch cursor is the last row's
                    query = query.order_by(sa.case((cursor_col.is_(None), 0), else_=1),
                                           cursor_col, *keys)
            else:
                query = query.order_by(*keys)
            result = conn.execution_options(stream_results=True, yield_per=batch_size) \
                .execute(query)
            batch: list[SourceRecord] = []
            for number, row in enumerate(result, start=1):
                data = dict(row._mapping)
                if len(batch) == batch_size:
                    yield self._batch(batch, stream, next_value=data)
                    batch = []
                batch.append(SourceRecord(data=data, location=f"{name}:row {number}"))
            if batch:
                yield self._batch(batch, stream, next_value=None)

    def _batch(self, records: list[SourceRecord], stream: StreamSpec,
               next_value: Record | None) -> ReadBatch:
        """A batch whose cursor is safe to commit.

        Rows are read in cursor order and the next run asks for ``> cursor``. When the
        next row shares the last row's cursor value, committing that value would skip
        the rest of its group after a crash, so the batch commits the highest value
        strictly below it (or nothing): a few rows may be read twice, never lost.
        """
        field = stream.cursor_field
        if not field:
            return ReadBatch(records=records)
        values = [r.data[field] for r in records if r.data[field] is not None]
        if next_value is not None and values and next_value[field] == values[-1]:
            values = [v for v in values if v != values[-1]]
        return ReadBatch(records=records, cursor=_to_json(values[-1]) if values else None)

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        if not stream.key:
            raise FatalConnectorError(f"{self.system}: stream {stream.resource!r} needs a key "
                                      "to write (upsert by key)")
        result = WriteResult()
        with self._connect(f"writing table {stream.resource!r}") as conn:
            table = self._table(conn, stream.resource)
            self._columns(table, stream.key, "key")
            self._require_unique_key(table, stream.key)
            unknown = sorted({c for r in records for c in r if c not in table.c})
            if unknown:
                raise FatalConnectorError(
                    f"{self.system}: table {table.name!r} has no column(s) "
                    f"{', '.join(unknown)}; check the outbound mapping")
            rows: list[tuple[int, Record]] = []
            for index, record in enumerate(records, start=1):
                missing = [k for k in stream.key if record.get(k) is None]
                if missing:
                    result.rejected.append((_key_text(stream.key, record, index), RecordProblem(
                        reason="key field is missing", system=self.system,
                        stream=stream.resource, field=missing[0],
                        location=f"{stream.resource}:batch record {index}")))
                else:
                    rows.append((index, record))
            if not rows:
                return result
            try:
                with conn.begin():
                    for statement, params in self._statements(table, stream.key, rows):
                        conn.execute(statement, params)
                result.written += len(rows)
            except sa_exc.SQLAlchemyError as error:
                if not self._is_data_error(error):
                    raise
                self._row_by_row(conn, table, stream, rows, result)
        return result

    # -- write helpers ------------------------------------------------------------------

    def _require_unique_key(self, table: sa.Table, key: tuple[str, ...]) -> None:
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
                f"{self.system}: table {table.name!r} has no primary key or unique index on "
                f"({', '.join(key)}); an idempotent upsert needs one")

    def _statements(self, table: sa.Table, key: tuple[str, ...],
                    rows: list[tuple[int, Record]]) -> Iterator[tuple[Any, list[Record]]]:
        """One executemany upsert per distinct column set (normally exactly one)."""
        groups: dict[tuple[str, ...], dict[tuple[Any, ...], Record]] = {}
        for _, record in rows:
            group = groups.setdefault(tuple(sorted(record)), {})
            group[tuple(record[k] for k in key)] = record  # same key twice: the later wins
        for columns, by_key in groups.items():
            yield self._upsert(table, key, columns), list(by_key.values())

    def _upsert(self, table: sa.Table, key: tuple[str, ...], columns: tuple[str, ...]) -> Any:
        dialect = self.engine.dialect.name
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
        raise FatalConnectorError(f"{self.system}: upsert is not supported for {dialect!r}")

    @staticmethod
    def _is_data_error(error: sa_exc.SQLAlchemyError) -> bool:
        """Refused because of the values (so some rows may be fine), not the connection."""
        if isinstance(error, (sa_exc.DataError, sa_exc.IntegrityError)):
            return True
        if isinstance(error, sa_exc.DBAPIError):
            return _error_code(error) in _MY_REASON
        # Bind-time conversion failures (e.g. a str for a SQLite DATE) wrap a plain Python
        # error, raised before anything reached the database.
        return isinstance(error, sa_exc.StatementError) and \
            isinstance(error.orig, (TypeError, ValueError, ArithmeticError))

    def _row_by_row(self, conn: Connection, table: sa.Table, stream: StreamSpec,
                    rows: list[tuple[int, Record]], result: WriteResult) -> None:
        """Write each row in its own savepoint, so only the bad ones are rejected."""
        with conn.begin():
            for index, record in rows:
                try:
                    with conn.begin_nested():
                        conn.execute(self._upsert(table, stream.key, tuple(sorted(record))),
                                     record)
                    result.written += 1
                except sa_exc.SQLAlchemyError as error:
                    if not self._is_data_error(error):
                        raise
                    reason, field = self._explain(error, table, record)
                    result.rejected.append((_key_text(stream.key, record, index), RecordProblem(
                        reason=reason, system=self.system, stream=stream.resource,
                        location=f"{stream.resource}:batch record {index}", field=field)))

    def _explain(self, error: sa_exc.SQLAlchemyError, table: sa.Table, record: Record
                 ) -> tuple[str, str | None]:
        """Reason and field of a refused row, built from codes and column names only."""
        code = _error_code(error)
        orig = getattr(error, "orig", None)
        message = str(orig) if orig is not None else ""
        reason = _PG_REASON.get(code) if isinstance(code, str) else None
        if reason is None and isinstance(code, int):
            reason = _MY_REASON.get(code)
        if reason is None:
            reason = next((r for prefix, r in _SQLITE_REASON.items() if prefix in message), None)
        if reason is None:
            reason = f"refused by the database ({type(orig or error).__name__}" + \
                (f" {code})" if code is not None else ")")
        return reason, self._guess_field(orig, message, table, record)

    @staticmethod
    def _guess_field(orig: Any, message: str, table: sa.Table, record: Record) -> str | None:
        candidates: list[str] = []
        diag = getattr(orig, "diag", None)
        if diag is not None:  # PostgreSQL tells the column for NOT NULL, the key for UNIQUE
            candidates.append(diag.column_name or "")
            candidates += re.findall(r"Key \(([^),]+)", diag.message_detail or "")
        candidates += re.findall(r"(?:column|field) '([^']+)'", message, re.IGNORECASE)  # MySQL
        candidates += re.findall(r"constraint failed: (?:\w+\.)?(\w+)", message)  # SQLite
        for name in candidates:
            if name in table.c:
                return name
        for name, value in record.items():  # e.g. PostgreSQL's "value too long" names none
            length = getattr(table.c[name].type, "length", None)
            if isinstance(value, str) and length is not None and len(value) > length:
                return name
        return None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._tables.clear()


def _fix_sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, emit BEGIN, so SAVEPOINTs work (SQLAlchemy docs)."""

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")
