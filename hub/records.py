"""A record on its way through the hub, and the JSON form used for hashes and history."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(values: Any) -> str:
    """Canonical JSON: sorted keys, dates as ISO 8601, decimals as plain strings."""
    return json.dumps(values, default=_json_default, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(to_json(values))  # type: ignore[no-any-return]


def content_hash(values: Any) -> str:
    return hashlib.sha256(to_json(values).encode("utf-8")).hexdigest()


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
