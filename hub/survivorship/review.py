"""The data steward's review queue: pairs that may be one person, decided once.

``merge`` merges the two golden records (the older id survives); ``keep_apart`` records
that they are two people, so neither the matcher nor the queue brings them up again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update

from hub.context import Hub
from hub.matching.matcher import id_order
from hub.store import bulk
from hub.store.matching_tables import ReviewPair
from hub.survivorship.merging import MergeError, Steward

DECISIONS = ("merge", "keep_apart")


def pairs(hub: Hub, *, status: str | None = "open", entity: str | None = None,
          limit: int = 100) -> list[dict[str, Any]]:
    """Review pairs, oldest first: ids, score and evidence (never a record's values)."""
    t = bulk.table_of(ReviewPair)
    stmt = select(t)
    if status:
        stmt = stmt.where(t.c.status == status)
    if entity:
        stmt = stmt.where(t.c.entity == entity)
    with hub.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt.order_by(t.c.id).limit(limit))]


def decide(hub: Hub, pair_id: int, decision: str, *, actor: str) -> dict[str, Any]:
    """Apply a steward's decision to an open pair; returns what was done."""
    if decision not in DECISIONS:
        raise MergeError(f"decision must be one of {', '.join(DECISIONS)}")
    t = bulk.table_of(ReviewPair)
    with hub.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == pair_id)).first()
    if row is None:
        raise MergeError(f"no review pair #{pair_id}")
    if row.status != "open":
        raise MergeError(f"review pair #{pair_id} is {row.status} already")
    if decision == "keep_apart":
        with hub.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == pair_id).values(
                status="kept_apart", decided_at=dt.datetime.now(dt.UTC), decided_by=actor))
        return {"pair": pair_id, "decision": decision}
    survivor, merged = sorted((row.golden_a, row.golden_b), key=id_order)
    merge_id = Steward(hub, row.entity).merge(survivor, merged, actor=actor)
    return {"pair": pair_id, "decision": decision, "survivor": survivor, "merged": merged,
            "merge": merge_id}
