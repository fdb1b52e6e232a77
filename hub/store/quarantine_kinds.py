"""The two kinds of quarantine entry, and how to tell them apart.

- a **refused record**: the record was not stored; its raw record is kept for a retry;
- a **dropped field** (``on_invalid: drop_field``): the record was stored without one
  field's invalid value; the entry names the field and why, and keeps at most the value's
  own columns, never a restricted one. There is nothing to retry: the source must send a
  valid value (the next sync then resolves the entry), or a steward discards the entry.

A dropped field's reason starts with ``DROPPED``, so the entry reads the same in every
list, summary and report, and no column of the quarantine table had to change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

DROPPED = "dropped, record kept without it: "


def dropped_reason(reason: str) -> str:
    return DROPPED + reason


def is_dropped(reason: str | None) -> bool:
    return bool(reason) and str(reason).startswith(DROPPED)


def kind(reason: str | None) -> str:
    """``field`` for a dropped field's entry, else ``record``."""
    return "field" if is_dropped(reason) else "record"


def dropped_clause(reason_column: Any) -> ColumnElement[bool]:
    """SQL: the entry is a dropped field's."""
    return reason_column.startswith(DROPPED, autoescape=True)  # type: ignore[no-any-return]
