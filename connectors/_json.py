"""Nested JSON objects as flat records, and back.

Mappings name fields, not paths, so HTTP connectors hand the hub flat records whose
names are dotted paths (``address.city``). Lists stay lists: their items have no
stable name. An empty object stays a value (``{}``) so nothing is silently dropped.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from connectors.base import Record


def flatten(obj: dict[str, Any], prefix: str = "") -> Record:
    """``{"a": {"b": 1}, "c": [1]}`` → ``{"a.b": 1, "c": [1]}``."""
    flat: Record = {}
    for name, value in obj.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def unflatten(record: Record) -> dict[str, Any]:
    """The inverse of :func:`flatten`: ``{"a.b": 1}`` → ``{"a": {"b": 1}}``.

    A field that is both a value and a parent (``a`` and ``a.b``) cannot be built.
    """
    nested: dict[str, Any] = {}
    for path, value in record.items():
        *parents, leaf = path.split(".")
        node = nested
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise TypeError(f"field {path!r} is nested under a field that has a value")
            node = child
        if isinstance(node.get(leaf), dict) and not isinstance(value, dict):
            raise TypeError(f"field {path!r} has a value and nested fields")
        node[leaf] = value
    return nested


def get_path(obj: Any, path: str) -> Any:
    """The value at dotted ``path`` inside ``obj`` (``""`` is ``obj``), or None."""
    if not path:
        return obj
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def json_type(value: Any) -> str:
    """The JSON type name of a value, for ``discover``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def _default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # as text: a float would round it
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"a {type(value).__name__} cannot be sent as JSON")


def dumps(obj: Any) -> bytes:
    """UTF-8 JSON for a request body; dates as ISO text, decimals as exact text."""
    return json.dumps(obj, default=_default, ensure_ascii=False).encode("utf-8")
