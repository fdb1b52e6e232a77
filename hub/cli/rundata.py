"""What the CLI reads about a run from the master store: its refused records and the review
pairs it raised. Imported by the commands when they run (it pulls in SQLAlchemy)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, func, select

from hub.store import bulk
from hub.store.matching_tables import ReviewPair
from hub.store.quarantine_kinds import kind
from hub.store.tables import Quarantine


def quarantined(engine: Engine, run_id: int) -> list[dict[str, Any]]:
    """The records ``run_id`` refused and the fields it dropped, in order (no values);
    ``kind``: ``record`` (refused) or ``field`` (the record stored without it)."""
    t = bulk.table_of(Quarantine)
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.system, t.c.stream, t.c.location,
                                   t.c.source_key, t.c.field, t.c.reason, t.c.status)
                            .where(t.c.run_id == run_id).order_by(t.c.id))
        return [{**r._mapping, "kind": kind(r.reason)} for r in rows]


def review_pairs(engine: Engine, run_id: int, streams: Iterable[Mapping[str, Any]]
                 ) -> dict[str, int]:
    """New review pairs ``run_id`` raised, per inbound stream label ("crm.kunden")."""
    r = bulk.table_of(ReviewPair)
    with engine.connect() as conn:
        found = {(system, entity): int(n) for system, entity, n in conn.execute(
            select(r.c.system, r.c.entity, func.count()).where(r.c.run_id == run_id)
            .group_by(r.c.system, r.c.entity))}
    return {f"{s['system']}.{s['stream']}": found.get((s["system"], s.get("entity")), 0)
            for s in streams if s.get("direction") == "inbound"}
