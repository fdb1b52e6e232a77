"""Write refused records to the quarantine: where, why, and the raw record for a retry."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, select, update

from hub.errors import RecordProblem
from hub.records import jsonable
from hub.store import bulk
from hub.store.sealing import Sealer
from hub.store.tables import Quarantine


def quarantine_rows(problems: list[tuple[RecordProblem, dict[str, Any] | None]], *, run_id: int,
                    system: str, stream: str, entity: str, direction: str,
                    now: dt.datetime, sealer: Sealer) -> list[dict[str, Any]]:
    """Rows for the quarantine table; raw records are sealed (they may hold anything)."""
    return [{
        "run_id": run_id, "system": system, "stream": stream, "entity": entity,
        "direction": direction, "source_key": p.source_key, "location": p.location,
        "field": p.field, "reason": p.reason,
        "payload": sealer.seal_payload(jsonable(raw)) if raw is not None else None,
        "status": "open", "created_at": now,
    } for p, raw in problems]


def save(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk.insert_rows(conn, bulk.table_of(Quarantine), rows)


def has_open(conn: Connection, system: str, stream: str) -> bool:
    q = bulk.table_of(Quarantine)
    return conn.execute(select(q.c.id).where(q.c.system == system, q.c.stream == stream,
                                             q.c.status == "open").limit(1)).first() is not None


def settle(conn: Connection, *, system: str, stream: str, passed_keys: list[str],
           failed: list[RecordProblem]) -> None:
    """Close earlier open entries of this stream that this batch has decided.

    A record that now passes is ``resolved``; one that fails again is ``superseded`` by the
    new entry, so the quarantine lists each bad record once, as it is now.
    """
    q = bulk.table_of(Quarantine)
    scope = (q.c.system == system, q.c.stream == stream, q.c.status == "open")
    for part in bulk.chunks(passed_keys):
        conn.execute(update(q).where(*scope, q.c.source_key.in_(part))
                     .values(status="resolved"))
    again_keys = [p.source_key for p in failed if p.source_key]
    again_places = [p.location for p in failed if not p.source_key and p.location]
    for part in bulk.chunks(again_keys):
        conn.execute(update(q).where(*scope, q.c.source_key.in_(part))
                     .values(status="superseded"))
    for part in bulk.chunks(again_places):
        conn.execute(update(q).where(*scope, q.c.source_key.is_(None),
                                     q.c.location.in_(part)).values(status="superseded"))
