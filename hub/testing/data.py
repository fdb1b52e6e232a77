"""The kit's test data: edge-case text values (``fixtures/edge_values.json``) and records."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from connectors.base import Record
from hub.testing.harness import Harness


@cache
def edge_values(multiline: bool = True) -> tuple[tuple[str, str], ...]:
    """(label, text) pairs every connector must carry unchanged."""
    raw = json.loads(resources.files("hub.testing").joinpath("fixtures/edge_values.json")
                     .read_text(encoding="utf-8"))
    return tuple((v["label"], v["text"]) for v in raw["values"]
                 if multiline or not v.get("multiline"))


def long_value(length: int) -> str:
    """A very long value with multi-byte characters at both ends (and no trailing space)."""
    return "Ω" + "x" * max(length - 2, 0) + "é"


def plain_records(harness: Harness, count: int, *, start: int = 1) -> list[Record]:
    """``count`` simple records with keys k001, k002, ..."""
    return [harness.record(f"k{i:03d}", f"Name {i}", f"note {i}")
            for i in range(start, start + count)]


def edge_records(harness: Harness) -> list[Record]:
    """One record per edge value, the value in both text fields."""
    return [harness.record(f"e{n:03d}", text, text)
            for n, (_, text) in enumerate(edge_values(harness.multiline), start=1)]


def project(harness: Harness, records: list[Record]) -> dict[str, dict[str, Any]]:
    """Records as {key: {text field: value}}: what the kit compares.

    A missing field reads as None; where the format cannot keep null and empty apart,
    both compare as "".
    """
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        values = {f: record.get(f) for f in harness.text_fields}
        if not harness.null_distinct:
            values = {f: "" if v is None else v for f, v in values.items()}
        out[str(record.get(harness.key_field))] = values
    return out
