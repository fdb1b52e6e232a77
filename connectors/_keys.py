"""How the hub names a record by its key: the key values joined with ``|``."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import Record


def key_text(key: Sequence[str], record: Record, index: int) -> str:
    """``"|".join`` of the key values, or ``#index`` (batch position) when one is missing."""
    if key and all(record.get(k) not in (None, "") for k in key):
        return "|".join(str(record[k]) for k in key)
    return f"#{index}"


def key_values(key: Sequence[str], given: str | Sequence[object]) -> tuple[str, ...]:
    """A key for ``delete`` as a tuple of strings, whether given as text or as a tuple.

    Text is split on ``|`` only when the key has several fields, so a single-field key
    may itself contain ``|``.
    """
    if isinstance(given, str):
        parts = given.split("|", len(key) - 1) if len(key) > 1 else [given]
    else:
        parts = [str(v) for v in given]
    if len(parts) != len(key):
        raise ValueError(f"expected {len(key)} key value(s) for ({', '.join(key)})")
    return tuple(parts)
