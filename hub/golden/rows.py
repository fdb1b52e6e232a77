"""Golden rows as dicts: a new one, a source's values merged in, its history row.

Shared by every writer (sync, API, SCIM, steward), so every source follows the same rules.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.matching.settings import EntitySurvivorship
from hub.survivorship.rules import Sources, Survivorship


def split_fields(fields: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(built-in column names, custom field names) of an entity's field specs."""
    return ([n for n, s in fields.items() if not s.custom],
            [n for n, s in fields.items() if s.custom])


def new_golden(gid: str, now: dt.datetime, builtin: list[str]) -> dict[str, Any]:
    """An empty golden row, before any source's values are merged into it."""
    return {"id": gid, "version": 0, "created_at": now, "custom": {}, "provenance": {},
            **{f: None for f in builtin}}


def values_of(row: dict[str, Any], builtin: list[str]) -> dict[str, Any]:
    """Every field's value of a golden row, built-in and custom alike."""
    return {**{f: row.get(f) for f in builtin}, **(row.get("custom") or {})}


def merge_into(row: dict[str, Any], values: dict[str, Any], *, observed_at: str,
               source: dict[str, Any], builtin: list[str], custom: list[str],
               rules: Survivorship | None = None, overrides: dict[str, Any] | None = None,
               sources: Sources | None = None) -> tuple[dict[str, Any], bool]:
    """``row`` with ``values`` merged in by survivorship, and whether any value changed.

    ``rules``: the entity's configured survivorship (default: the defaults by data
    category); the steward's ``overrides`` of this record, which no source beats;
    ``sources``: the record's live source records, which the incoming one joins.
    """
    current = values_of(row, builtin)
    rules = rules or Survivorship(EntitySurvivorship(), builtin + custom)
    values, prov, changed = rules.merge(current, row["provenance"] or {}, values,
                                        observed_at=observed_at, source=source,
                                        overrides=overrides, sources=sources)
    return {**row, **{f: values[f] for f in builtin},
            "custom": {f: values[f] for f in custom if values[f] is not None},
            "provenance": prov}, changed


def new_merged(gid: str, now: dt.datetime, values: dict[str, Any], *, observed_at: str,
               source: dict[str, Any], builtin: list[str], custom: list[str],
               rules: Survivorship, sources: Sources | None = None
               ) -> tuple[dict[str, Any], bool]:
    """``merge_into(new_golden(gid, now, builtin), values, ...)`` for a record no golden
    record holds yet (no provenance, no override, the incoming record its only source),
    without building the empty row and merging into it: the same row, in the same order."""
    merged, prov, changed = rules.first(values, observed_at=observed_at, source=source,
                                        sources=sources)
    row = {"id": gid, "version": 0, "created_at": now,
           "custom": {f: merged[f] for f in custom if merged[f] is not None},
           "provenance": prov}
    for f in builtin:
        row[f] = merged[f]
    return row, changed


def history_row(entity: str, row: dict[str, Any], builtin: list[str], *, system: str,
                run_id: int | None, now: dt.datetime) -> dict[str, Any]:
    """The record_history row for ``row`` as it is now."""
    data = {f: row[f] for f in builtin} | {"custom": dict(row["custom"])}
    return {"entity": entity, "golden_id": row["id"], "version": row["version"], "data": data,
            "system": system, "run_id": run_id, "changed_at": now}
