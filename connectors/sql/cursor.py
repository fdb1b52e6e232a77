"""Incremental-read cursors of the SQL connector: JSON-ready, and safe to commit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.base import ReadBatch, Record, SourceRecord


def to_json(value: Any) -> Any:
    """A cursor value the hub can store as JSON."""
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def from_json(column: sa.Column[Any], value: Any) -> Any:
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


def batch_with_cursor(records: list[SourceRecord], field: str | None,
                      next_value: Record | None) -> ReadBatch:
    """A batch whose cursor is safe to commit.

    Rows are read in cursor order and the next run asks for ``> cursor``. When the next
    row shares the last row's cursor value, committing that value would skip the rest of
    its group after a crash, so the batch commits the highest value strictly below it (or
    nothing): a few rows may be read twice, never lost.
    """
    if not field:
        return ReadBatch(records=records)
    values = [r.data[field] for r in records if r.data[field] is not None]
    if next_value is not None and values and next_value[field] == values[-1]:
        values = [v for v in values if v != values[-1]]
    return ReadBatch(records=records, cursor=to_json(values[-1]) if values else None)
