"""Survivorship: which value of which source a golden record keeps, field by field.

Rules (per entity and field, in kontor.yaml ``survivorship``):

- ``most_recent`` (default): the value observed last at its source wins, by the source's
  own business time, never by when Kontor read it.
- ``source_priority``: the value of the highest-ranked system that has one wins (HR for
  employee names, payroll for the IBAN); among equal ranks the most recent.
- ``most_complete``: the fuller value wins ("Hauptstraße 5a" over "Hauptstr. 5"); among
  equally full ones the most recent.

Always: a source without a value never blanks a field (null never overwrites); a source
correcting its *own* earlier value (same system and record) wins when it is newer; and a
data steward's override beats every source until the steward clears it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from hub.matching.settings import EntitySurvivorship

STEWARD = "steward"


def typed(type_name: str, value: Any) -> Any:
    """A value as JSON stored it (dates, decimals as text), typed for its field again."""
    if not isinstance(value, str):
        return value
    if type_name == "date":
        return dt.date.fromisoformat(value)
    if type_name == "datetime":
        return dt.datetime.fromisoformat(value)
    if type_name == "decimal":
        return Decimal(value)
    return value


def completeness(value: Any) -> int:
    return len(str(value).strip()) if isinstance(value, str) else 1


class Survivorship:
    """The configured rules of one entity, applied incrementally as records arrive."""

    def __init__(self, settings: EntitySurvivorship, fields: Iterable[str]):
        self.fields = list(fields)
        self._rules = {f: settings.rule_for(f) for f in self.fields}
        self._rank = {f: {s: i for i, s in enumerate(p)} for f, (_, p) in self._rules.items()}

    def _wins(self, field: str, value: Any, current: Any, held: Mapping[str, Any] | None,
              observed_at: str, source: Mapping[str, Any]) -> bool:
        if held is None or current is None:
            return True
        newer = observed_at >= held.get("at", "")
        if held.get("system") == source.get("system") and held.get("key") == source.get("key"):
            return newer  # the same record, corrected at its source
        rule, _ = self._rules.get(field, ("most_recent", []))
        if rule == "source_priority":
            ranks = self._rank[field]
            mine = ranks.get(str(source.get("system")), len(ranks))
            theirs = ranks.get(str(held.get("system")), len(ranks))
            return mine < theirs or (mine == theirs and newer)
        if rule == "most_complete":
            mine, theirs = completeness(value), completeness(current)
            return mine > theirs or (mine == theirs and newer)
        return newer

    def merge(self, current: Mapping[str, Any], provenance: Mapping[str, Any],
              incoming: Mapping[str, Any], *, observed_at: str, source: Mapping[str, Any],
              overrides: Mapping[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """Merge ``incoming`` into ``current``; return (values, provenance, changed)."""
        values = {f: current.get(f) for f in self.fields}
        changed = False
        if not provenance and not overrides:  # a new record: every value wins (fast path)
            stamp = {**source, "at": observed_at}
            fresh: dict[str, Any] = {}
            for name, value in incoming.items():
                if value is not None and name in values:
                    changed = changed or values[name] != value
                    values[name] = value
                    fresh[name] = stamp
            return values, fresh, changed
        prov = dict(provenance)
        overrides = overrides or {}
        for name, value in overrides.items():
            if name in values and values[name] != value:
                values[name] = value
                changed = True
        for name, value in incoming.items():
            if value is None or name in overrides or name not in values:
                continue
            held = prov.get(name)
            if held is not None and held.get("system") == STEWARD:
                held = None  # the override was cleared: sources compete again
            if not self._wins(name, value, values.get(name), held, observed_at, source):
                continue
            if values.get(name) != value:
                values[name] = value
                changed = True
            if held is None or held.get("system") != source.get("system") or \
                    held.get("key") != source.get("key") or held.get("at") != observed_at:
                prov[name] = {**source, "at": observed_at}
        return values, prov, changed
