"""Questions a compliance officer asks the trail: where did this person's data go, and
which transfers match these conditions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, or_, select

from hub.audit.tables import AuditDecisionSet, AuditEntry
from hub.store import bulk


def decision_sets(conn: Connection, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    t = bulk.table_of(AuditDecisionSet)
    found: dict[str, list[dict[str, Any]]] = {}
    for part in bulk.chunks(sorted(set(ids))):
        found.update({r.id: r.fields for r in conn.execute(select(t).where(t.c.id.in_(part)))})
    return found


def _with_fields(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sets = decision_sets(conn, [r["decisions"] for r in rows if r["decisions"]])
    for r in rows:
        r["fields"] = sets.get(r["decisions"], []) if r["decisions"] else []
    return rows


def trace(conn: Connection, entity: str, golden_id: str) -> list[dict[str, Any]]:
    """Every entry about one person, oldest first, with each field's category and form."""
    t = bulk.table_of(AuditEntry)
    rows = [dict(r._mapping) for r in conn.execute(
        select(t).where(t.c.entity == entity, t.c.golden_id == golden_id).order_by(t.c.seq))]
    return _with_fields(conn, rows)


@dataclass
class Search:
    system: str | None = None
    category: str | None = None
    action: str | None = None
    rule: str | None = None
    kind: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 1000


def _matching_sets(conn: Connection, q: Search) -> list[str] | None:
    """Decision sets holding a field that matches category/action/rule (None: no filter)."""
    if not (q.category or q.action or q.rule):
        return None
    t = bulk.table_of(AuditDecisionSet)
    hits = []
    for row in conn.execute(select(t)):  # few: one per distinct decision outcome
        for f in row.fields:
            if q.category and not (f.get("category") == q.category or
                                   str(f.get("category", "")).startswith(q.category + ".")):
                continue
            if q.action and f.get("action") != q.action:
                continue
            if q.rule and f.get("rule") != q.rule:
                continue
            hits.append(row.id)
            break
    return hits


def search(conn: Connection, q: Search) -> list[dict[str, Any]]:
    t = bulk.table_of(AuditEntry)
    stmt = select(t).order_by(t.c.seq.desc()).limit(q.limit)
    if q.system:
        stmt = stmt.where(or_(t.c.source == q.system, t.c.source.startswith(q.system + "."),
                              t.c.destination == q.system,
                              t.c.destination.startswith(q.system + ".")))
    if q.kind:
        stmt = stmt.where(t.c.kind == q.kind)
    if q.since:
        stmt = stmt.where(t.c.at >= q.since)
    if q.until:
        stmt = stmt.where(t.c.at < q.until)
    sets = _matching_sets(conn, q)
    if sets is not None:
        if not sets:
            return []
        stmt = stmt.where(t.c.decisions.in_(sets))
    rows = [dict(r._mapping) for r in conn.execute(stmt)]
    return _with_fields(conn, rows)
