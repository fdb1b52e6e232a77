"""Is the master store there, current and writable? Plain words when it is not.

Two uses: ``store_unavailable`` turns a driver's error (connection refused, a read-only
file or replica, a full disk, a lock held too long) into one ``StoreError`` line that names
the store and the cause, never a statement or a value; ``probe`` is what ``kontor check``
asks of the store before any sync would.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, InternalError, OperationalError

from hub.errors import StoreError
from hub.store.db import safe_url

#: Words in a driver's message, and the cause they mean, first match wins.
_CAUSES = (
    (("read-only", "readonly", "read only"), "it is read-only"),
    (("disk is full", "disk full", "no space left"), "its disk is full"),
    (("database is locked",), "another process holds its lock (database is locked)"),
    (("unable to open database file",), "its file cannot be opened"),
    (("password authentication failed", "authentication failed"),
     "the login was refused"),
    (("does not exist",), "the database does not exist"),
    (("connection refused", "could not connect", "connection failed", "timeout expired",
      "could not translate host name", "name or service not known", "server closed"),
     "it is unreachable"),
)


def _first_line(exc: BaseException) -> str:
    """The driver's own first line (SQLAlchemy's adds the statement, which we never show)."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def is_store_failure(exc: BaseException) -> bool:
    """An error of the store itself (not of a statement Kontor sent): worth one plain line
    to the operator rather than a traceback."""
    if isinstance(exc, OperationalError):
        return True
    # PostgreSQL's read-only transaction (SQLSTATE 25006) arrives as an InternalError.
    return isinstance(exc, InternalError) and "read-only" in _first_line(exc)


def cause_of(exc: BaseException) -> str:
    """What is wrong with the store, in a few plain words ("it is read-only")."""
    lower = _first_line(exc).lower()
    return next((meaning for words, meaning in _CAUSES if any(w in lower for w in words)),
                "it failed")


def store_unavailable(exc: DBAPIError, url: str | None = None) -> StoreError:
    """One line: which store, what is wrong with it, and what the driver said."""
    said = _first_line(exc)
    cause = cause_of(exc)
    where = f" ({safe_url(url)})" if url else ""
    return StoreError(f"the master store{where} cannot be used: {cause} [{said}]")


@dataclass(frozen=True)
class StoreHealth:
    backend: str
    revision: str | None  # the schema's Alembic revision, None on a store not yet created
    head: str  # the revision this Kontor expects
    writable: bool

    known: bool  # a revision this Kontor ships (False: the store was made by a newer one)

    @property
    def current(self) -> bool:
        return self.revision == self.head


def probe(engine: Engine) -> StoreHealth:
    """Connect, read the schema revision and find out whether a write would be accepted,
    without writing anything. Raises ``StoreError`` in plain words when the store can't
    be reached."""
    from hub.store.migrate import head_revision, is_known_revision

    backend = engine.dialect.name
    try:
        with engine.connect() as conn:
            try:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except DBAPIError:
                conn.rollback()
                revision = None  # a new store: the first command creates its tables
            writable = _writable(conn, backend, revision is not None)
    except DBAPIError as exc:
        raise store_unavailable(exc, engine.url.render_as_string(hide_password=False)) from None
    return StoreHealth(backend, revision, head_revision(), writable,
                       revision is None or is_known_revision(revision))


def _writable(conn, backend: str, created: bool) -> bool:  # type: ignore[no-untyped-def]
    """Try a write that changes nothing, inside a transaction rolled back at once: a
    read-only file, replica, login or transaction refuses it."""
    statement = ("UPDATE alembic_version SET version_num = version_num" if created
                 else "CREATE TABLE kontor_write_probe (x INTEGER)")
    conn.rollback()  # end the read's transaction; the probe gets one of its own
    try:
        if backend == "sqlite":  # the driver would run DDL outside any transaction
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.exec_driver_sql(statement)
    except DBAPIError as exc:
        conn.rollback()
        if is_store_failure(exc) or "permission denied" in _first_line(exc).lower():
            return False
        raise
    conn.rollback()
    return True
