"""Match & merge, part two: survivorship. For now: the latest business time wins, per field.

A value wins when the source observed it at or after the time the current value was
observed (the source's own update time, not when Kontor happened to read it). A source
that has no value for a field never blanks what another source supplied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def merge(current: Mapping[str, Any], provenance: Mapping[str, Any], incoming: Mapping[str, Any],
          *, observed_at: str, source: Mapping[str, Any], fields: Iterable[str]
          ) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """Merge ``incoming`` into ``current``; return (values, provenance, changed)."""
    values = {f: current.get(f) for f in fields}
    prov = dict(provenance)
    changed = False
    for name, value in incoming.items():
        if value is None:
            continue
        held = prov.get(name)
        if held is not None and held.get("at", "") > observed_at:
            continue  # the store's value is newer at its source
        if values.get(name) != value:
            values[name] = value
            changed = True
        if held is None or held.get("system") != source.get("system") or \
                held.get("key") != source.get("key") or held.get("at") != observed_at:
            prov[name] = {**source, "at": observed_at}
    return values, prov, changed
