"""Write refused records to the quarantine: where, why, and the raw record for a retry."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection

from hub.errors import RecordProblem
from hub.records import jsonable
from hub.store import bulk
from hub.store.tables import Quarantine


def quarantine_rows(problems: list[tuple[RecordProblem, dict[str, Any] | None]], *, run_id: int,
                    system: str, stream: str, entity: str, direction: str,
                    now: dt.datetime) -> list[dict[str, Any]]:
    return [{
        "run_id": run_id, "system": system, "stream": stream, "entity": entity,
        "direction": direction, "source_key": p.source_key, "location": p.location,
        "field": p.field, "reason": p.reason,
        "payload": jsonable(raw) if raw is not None else None,
        "status": "open", "created_at": now,
    } for p, raw in problems]


def save(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk.insert_rows(conn, bulk.table_of(Quarantine), rows)
