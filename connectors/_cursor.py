"""Cursor values from records: the later of two, whatever their type.

Timestamps from APIs come as ISO strings that may differ in offset or precision
(``...Z`` vs ``...+00:00``), so strings that parse as datetimes compare as instants;
numbers compare as numbers; anything else as text.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

_EXTENDED_ISO = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
                           r"(Z|[+-]\d{2}:?\d{2})?)?$")


def _instant(value: str) -> dt.datetime | None:
    # Only the extended form: fromisoformat also "parses" LDAP's 20240501104257Z, wrongly.
    if not _EXTENDED_ISO.match(value):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def later(current: Any, value: Any) -> Any:
    """The later of two cursor values; None never wins."""
    if value is None:
        return current
    if current is None:
        return value
    if _is_number(current) and _is_number(value):
        return max(current, value)
    if isinstance(current, str) and isinstance(value, str):
        a, b = _instant(current), _instant(value)
        if a is not None and b is not None:
            return value if b > a else current
    return value if str(value) > str(current) else current
