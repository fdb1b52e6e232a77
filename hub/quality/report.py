"""The data-quality report: per system and field, how complete, how valid, how consistent.

Read from the store only (nothing is written, no source is contacted):

- **completeness**: the share of a system's live records that carry a value for each
  field it maps (from the values each xref last delivered);
- **invalid**: open quarantine entries per system and field (the values a mapping
  refused); **dropped**: how many of them a mapping left out of a record it kept
  (``on_invalid: drop_field``) rather than refusing the record;
- **duplicates**: golden records that may be one person (open review pairs, as clusters);
- **conflicts**: golden records whose systems disagree on a field (normalised values
  compared; the report names record, field and systems, never the values).

Restricted fields are not kept per source, so they are counted only as invalid entries.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, case, func, select

from hub.context import Hub
from hub.store import bulk
from hub.store.matching_tables import ReviewPair
from hub.store.quarantine_kinds import dropped_clause
from hub.store.tables import Quarantine, Xref

PAGE = 5000
EXAMPLES = 20  # golden ids listed per conflicting field


def _norm(value: Any) -> str:
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return " ".join(text.replace(".", " ").replace(",", " ").split())


def _xrefs(conn: Connection) -> Iterator[list[Any]]:
    """Live xrefs in (entity, golden id) order, a page at a time (bounded memory)."""
    t = bulk.table_of(Xref)
    last: tuple[str, str, int] = ("", "", 0)
    while True:
        stmt = select(t.c.id, t.c.entity, t.c.golden_id, t.c.system, t.c.data).where(
            t.c.deleted_at.is_(None),
            (t.c.entity > last[0]) | ((t.c.entity == last[0]) & (
                (t.c.golden_id > last[1]) | ((t.c.golden_id == last[1]) & (t.c.id > last[2])))))
        rows = conn.execute(stmt.order_by(t.c.entity, t.c.golden_id, t.c.id).limit(PAGE)).all()
        if not rows:
            return
        yield list(rows)
        last = (rows[-1].entity, rows[-1].golden_id, rows[-1].id)


def _fields_by_system(hub: Hub) -> dict[tuple[str, str], list[str]]:
    """(system, entity) -> the unrestricted fields its inbound mappings fill."""
    found: dict[tuple[str, str], list[str]] = {}
    for s in hub.deployment.streams("inbound"):
        specs = hub.deployment.fields[s.entity]
        names = [f for f in s.mapping.canonical_fields if not specs[f].restricted]
        found.setdefault((s.system, s.entity), [])
        found[(s.system, s.entity)] += [f for f in names if f not in found[(s.system, s.entity)]]
    return found


def quality(hub: Hub, system: str | None = None) -> dict[str, Any]:
    """The report as plain data (JSON-ready)."""
    mapped = _fields_by_system(hub)
    totals: dict[tuple[str, str], int] = defaultdict(int)
    filled: dict[tuple[str, str, str], int] = defaultdict(int)
    conflicts: dict[tuple[str, str], dict[str, Any]] = {}
    with hub.engine.connect() as conn:
        group: list[Any] = []
        for page in _xrefs(conn):
            for row in page:
                if group and (row.entity, row.golden_id) != (group[0].entity,
                                                             group[0].golden_id):
                    _compare(group, system, conflicts)
                    group = []
                group.append(row)
                if system is not None and row.system != system:
                    continue
                totals[(row.system, row.entity)] += 1
                for f, v in (row.data or {}).items():
                    if not f.startswith("_") and v not in (None, ""):
                        filled[(row.system, row.entity, f)] += 1
        if group:
            _compare(group, system, conflicts)
        invalid, dropped = _invalid(conn, system)
        duplicates = _duplicate_clusters(conn)
    systems: dict[str, Any] = {}
    for (sys_name, entity), fields in sorted(mapped.items()):
        if system is not None and sys_name != system:
            continue
        total = totals.get((sys_name, entity), 0)
        systems.setdefault(sys_name, {})[entity] = {
            "records": total,
            "fields": {f: {"completeness": round(filled[(sys_name, entity, f)] / total, 4)
                           if total else None,
                           "invalid": invalid.get((sys_name, f), 0),
                           "dropped": dropped.get((sys_name, f), 0)} for f in fields},
            "invalid_other": sum(n for (s, f), n in invalid.items()
                                 if s == sys_name and f not in fields),
        }
    return {"system": system, "systems": systems,
            "conflicts": [{"entity": e, "field": f, **c, "systems": sorted(c["systems"])}
                          for (e, f), c in sorted(conflicts.items())],
            "duplicate_clusters": duplicates}


def _compare(group: list[Any], system: str | None, out: dict[tuple[str, str], Any]) -> None:
    """Fields on which the systems of one golden record disagree."""
    if len({r.system for r in group}) < 2 or (system and system not in
                                              {r.system for r in group}):
        return
    by_field: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in group:
        for f, v in (r.data or {}).items():
            if not f.startswith("_") and v not in (None, ""):
                by_field[f][_norm(v)].add(r.system)
    for f, values in by_field.items():
        if len(values) > 1:
            entry = out.setdefault((group[0].entity, f), {"records": 0, "systems": set(),
                                                          "examples": []})
            entry["records"] += 1
            entry["systems"].update(s for systems in values.values() for s in systems)
            if len(entry["examples"]) < EXAMPLES:
                entry["examples"].append(group[0].golden_id)


def _invalid(conn: Connection, system: str | None
             ) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """Open inbound entries per (system, field): all of them, and the dropped fields'."""
    q = bulk.table_of(Quarantine)
    stmt = select(q.c.system, q.c.field, func.count(),
                  func.sum(case((dropped_clause(q.c.reason), 1), else_=0))).where(
        q.c.status == "open", q.c.direction == "inbound").group_by(q.c.system, q.c.field)
    if system:
        stmt = stmt.where(q.c.system == system)
    invalid: dict[tuple[str, str], int] = {}
    dropped: dict[tuple[str, str], int] = {}
    for s, f, n, n_dropped in conn.execute(stmt):
        invalid[(s, f or "(record)")] = int(n)
        dropped[(s, f or "(record)")] = int(n_dropped or 0)
    return invalid, dropped


def _duplicate_clusters(conn: Connection) -> list[dict[str, Any]]:
    """Open review pairs joined into clusters of golden ids."""
    t = bulk.table_of(ReviewPair)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    entities: dict[str, str] = {}
    for r in conn.execute(select(t.c.entity, t.c.golden_a, t.c.golden_b).where(
            t.c.status == "open")):
        a, b = find(r.golden_a), find(r.golden_b)
        parent[max(a, b)] = min(a, b)
        entities[r.golden_a] = entities[r.golden_b] = r.entity
    groups: dict[str, list[str]] = defaultdict(list)
    for x in list(parent):
        groups[find(x)].append(x)
    return [{"entity": entities[root], "golden_ids": sorted(members)}
            for root, members in sorted(groups.items()) if len(members) > 1]
