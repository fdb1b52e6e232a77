"""What a database error means for the runner, told from codes and column names only.

Privacy: database messages about refused data may quote the value (MySQL "Duplicate entry
'x'"), so those messages never leave this package; a refused record's reason is rebuilt
from the error code and the field from column names.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from connectors.base import Record

# PostgreSQL SQLSTATEs / MySQL error numbers worth a retry: serialization failure,
# deadlock, lock timeout, statement timeout, lost connection, too many connections.
_PG_RETRY = {"40001", "40P01", "55P03", "57014", "53300"}
_MY_RETRY = {1205, 1213, 2006, 2013, 1040}
#: Codes for "too many connections": worth waiting for even when connecting.
TOO_MANY_CONNECTIONS = {"53300", 1040}
_FOREIGN_KEY = ("foreign key violated (a referenced record is missing, or other records "
                "still refer to this one)")
_PG_REASON = {
    "22001": "value too long for the column",
    "22003": "numeric value out of range",
    "22P02": "value has the wrong format for the column type",
    "22007": "invalid date/time value", "22008": "date/time value out of range",
    "23502": "required value is missing (NOT NULL)",
    "23505": "duplicate value in a unique column",
    "23503": _FOREIGN_KEY,
    "23514": "value rejected by a check constraint",
}
_MY_REASON = {
    1406: "value too long for the column", 1264: "numeric value out of range",
    1366: "value has the wrong format for the column type", 1265: "value truncated",
    1292: "invalid date/time value", 1048: "required value is missing (NOT NULL)",
    1364: "required value is missing (NOT NULL, no default)",
    1062: "duplicate value in a unique column",
    1451: "other records still refer to it (foreign key)",
    1452: "referenced record does not exist (foreign key)",
    3819: "value rejected by a check constraint", 4025: "value rejected by a check constraint",
}
_SQLITE_REASON = {
    "NOT NULL constraint": "required value is missing (NOT NULL)",
    "UNIQUE constraint": "duplicate value in a unique column",
    "CHECK constraint": "value rejected by a check constraint",
    "FOREIGN KEY constraint": _FOREIGN_KEY,
    "datatype mismatch": "value has the wrong type for the column",
}


def error_code(error: BaseException) -> str | int | None:
    """The MySQL error number or PostgreSQL SQLSTATE behind a SQLAlchemy error."""
    orig = getattr(error, "orig", None)
    if orig is None:
        return None
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):  # MySQL/MariaDB error number (more precise)
        return args[0]
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(sqlstate) if sqlstate else None


def is_retriable(error: sa_exc.SQLAlchemyError) -> bool:
    """Transient: a lock, a deadlock, a lost connection; the same call may succeed later."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    code = error_code(error)
    if code in _PG_RETRY or code in _MY_RETRY:
        return True
    message = str(getattr(error, "orig", "")).lower()
    return "database is locked" in message or "database table is locked" in message


def is_data_error(error: sa_exc.SQLAlchemyError) -> bool:
    """Refused because of the values (so some rows may be fine), not the connection."""
    if isinstance(error, (sa_exc.DataError, sa_exc.IntegrityError)):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        return error_code(error) in _MY_REASON
    # Bind-time conversion failures (e.g. a str for a SQLite DATE) wrap a plain Python
    # error, raised before anything reached the database.
    return isinstance(error, sa_exc.StatementError) and \
        isinstance(error.orig, (TypeError, ValueError, ArithmeticError))


def explain(error: sa_exc.SQLAlchemyError, table: sa.Table, record: Record
            ) -> tuple[str, str | None]:
    """Reason and field of a refused row, built from codes and column names only."""
    code = error_code(error)
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
    return reason, _guess_field(orig, message, table, record)


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
        length = getattr(table.c[name].type, "length", None) if name in table.c else None
        if isinstance(value, str) and length is not None and len(value) > length:
            return name
    return None
