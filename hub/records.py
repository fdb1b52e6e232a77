"""A record on its way through the hub, and the JSON form used for hashes and history."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

# orjson: ~18x faster than json here, and JSON sits on the hot path of every sync batch
# (content hashes, history rows, provenance).
import orjson

#: The options of canonical JSON (``to_json_bytes``), for callers that inline it.
JSON_OPTIONS = _OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json_bytes(values: Any) -> bytes:
    """Canonical JSON: sorted keys, dates as ISO 8601, decimals as plain strings."""
    return orjson.dumps(values, default=json_default, option=_OPTIONS)


def to_json(values: Any) -> str:
    return to_json_bytes(values).decode("utf-8")


def jsonable(values: dict[str, Any], *, sort: bool = True) -> dict[str, Any]:
    """Plain JSON types only (dates as ISO strings, decimals as strings)."""
    raw = to_json_bytes(values) if sort else orjson.dumps(values, default=json_default)
    return orjson.loads(raw)  # type: ignore[no-any-return]


@lru_cache(maxsize=1024)
def present(order: tuple[str, ...], keys: tuple[str, ...]) -> tuple[str, ...]:
    """The names of ``order`` among ``keys``, in ``order``'s order. Cached: a stream's
    records all carry the same keys, so a per-record loop over every field of ``order``
    becomes a loop over the few a record has."""
    held = set(keys)
    return tuple(f for f in order if f in held)


def content_hash(values: Any) -> str:
    return hashlib.sha256(to_json_bytes(values)).hexdigest()


@dataclass
class Incoming:
    """One mapped inbound record: who sent it, its canonical values, and its business time."""

    source_key: str
    values: dict[str, Any]
    observed_at: str  # ISO time the values were true at the source (business time)
    source_hash: str
    location: str
    golden_id: str | None = None
    linked: bool = False  # an xref already existed
    previous_hash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
