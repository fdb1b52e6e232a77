"""Engine, connections and table reflection for the SQL connector, errors mapped to hub errors.

The password lives only in a ``SecretStr`` and in the engine's URL; every message shows
the URL without it and has the password scrubbed from driver text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from connectors.base import Connector, ConnectorSettings
from connectors.sql.errors import TOO_MANY_CONNECTIONS, error_code, is_retriable
from connectors.sql.settings import SqlSettings
from hub.errors import (
    ConnectorError,
    FatalConnectorError,
    RetriableConnectorError,
    missing_extra,
)

CONNECT_TIMEOUT = 10  # seconds; a silent firewall must not hang a run forever
_TIMEOUT_ARG = {"psycopg": "connect_timeout", "psycopg2": "connect_timeout",
                "pymysql": "connect_timeout", "mysqldb": "connect_timeout"}
# The drivers Kontor's extras install (postgres, mysql), for URLs that name none: SQLAlchemy
# would otherwise pick mysqlclient, or psycopg2 before 2.1.
_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql",
            "mariadb": "mariadb+pymysql"}


class SqlPlumbing(Connector):
    """Connection handling shared by the SQL connector's read and write sides."""

    settings: SqlSettings

    def __init__(self, settings: ConnectorSettings, *, system: str, base_dir: Path):
        super().__init__(settings, system=system, base_dir=base_dir)
        self._engine: Engine | None = None
        self._tables: dict[str, sa.Table] = {}

    @property
    def safe_url(self) -> str:
        """The url for messages: never with a password."""
        return make_url(self.settings.url).render_as_string(hide_password=True)

    def _url(self) -> URL:
        url = make_url(self.settings.url)
        if url.drivername in _DRIVERS:  # a bare scheme: the driver its extra installs
            url = url.set(drivername=_DRIVERS[url.drivername])
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
            try:
                # hide_parameters: SQLAlchemy's own messages must not carry record values.
                engine = sa.create_engine(url, hide_parameters=True, pool_pre_ping=True,
                                          connect_args=args)
            except ImportError as exc:  # the driver is an extra (pyproject.toml): say which
                raise FatalConnectorError(f"{self.system}: " + missing_extra(
                    f"the database {self.safe_url}", exc, url.get_driver_name())) from None
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

    def _translate(self, error: sa_exc.SQLAlchemyError, action: str) -> ConnectorError:
        """A hub error for a failed statement; the driver message is scrubbed of secrets."""
        reason = self._driver_message(error)
        if is_retriable(error):
            return RetriableConnectorError(f"{self.system}: {action}: {reason} (transient)")
        return FatalConnectorError(f"{self.system}: {action}: {reason}")

    @contextmanager
    def _connect(self, action: str) -> Iterator[Connection]:
        """A connection, with connect failures and statement errors mapped to hub errors."""
        try:
            conn = self.engine.connect()
        except sa_exc.SQLAlchemyError as error:
            reason = self._driver_message(error)
            if error_code(error) in TOO_MANY_CONNECTIONS:  # wait rather than give up
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
