"""Reading and writing golden records in batches, restricted fields sealed at rest.

Every path that loads golden records goes through these functions, so no caller can forget
to open a restricted value; the one that stores them is ``hub.golden.writer`` (the single
write path), which calls ``write`` here.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select

from hub import faults
from hub.canonical import MODELS, builtin_fields
from hub.store import bulk, outbox, search_index
from hub.store.sealing import Sealer
from hub.store.tables import RecordHistory


@functools.cache
def _builtin(entity: str) -> frozenset[str]:
    return frozenset(builtin_fields(entity))


def read(conn: Connection, sealer: Sealer, entity: str, ids: Sequence[str], *,
         fields: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
    """Golden rows by id, restricted values opened.

    ``fields``: only these fields are read and opened (a delivery needs the few its
    mapping and policy use): each row then holds ``id``, those built-in fields and
    ``custom`` (the custom values, ``{}`` when none of ``fields`` is custom); no
    provenance, and no restricted value it was not asked for, not even sealed.
    """
    if fields is None:
        rows = bulk.fetch_goldens(conn, entity, ids)
        sealer.open_goldens(conn, entity, list(rows.values()))
        return rows
    builtin = _builtin(entity)
    columns = {f for f in fields if f in builtin}
    custom = len(columns) < len(set(fields))  # the others are custom fields
    rows = bulk.fetch_goldens(conn, entity, ids, {*columns, "custom"} if custom else columns)
    if custom:
        for row in rows.values():  # only the custom values asked for
            row["custom"] = {k: v for k, v in (row["custom"] or {}).items() if k in fields}
    else:
        for row in rows.values():
            row["custom"] = {}
    sealer.open_goldens(conn, entity, list(rows.values()), fields)
    return rows


def scan(engine: Engine, sealer: Sealer, entity: str, batch_size: int
         ) -> Iterator[list[dict[str, Any]]]:
    """All golden records in id order, a batch at a time (keyset pagination)."""
    t = bulk.table_of(MODELS[entity])
    last = ""
    while True:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(
                select(t).where(t.c.id > last).order_by(t.c.id).limit(batch_size))]
            sealer.open_goldens(conn, entity, rows)
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def write(conn: Connection, sealer: Sealer, entity: str, *, inserts: list[dict[str, Any]],
          updates: list[dict[str, Any]], history: list[dict[str, Any]],
          outbox_streams: Sequence[tuple[str, str]] = ()) -> None:
    """Insert new golden rows, update changed ones, append history; all sealed. Every
    changed record enters the outbox of each (system, stream) in ``outbox_streams``, in
    this same transaction."""
    outbox.enqueue(conn, entity, [r["id"] for r in inserts + updates], outbox_streams)
    faults.point("store.after_outbox")
    sealer.seal_write(conn, entity, inserts + updates, history)  # data keys looked up once
    bulk.insert_rows(conn, bulk.table_of(MODELS[entity]), inserts)
    bulk.update_goldens(conn, entity, updates)
    bulk.insert_rows(conn, bulk.table_of(RecordHistory), history)
    search_index.refresh(conn, entity)  # the API's name search, a batch at a time (SQLite)


def read_history(conn: Connection, sealer: Sealer, entity: str, golden_id: str
                 ) -> list[dict[str, Any]]:
    h = bulk.table_of(RecordHistory)
    rows = [dict(r._mapping) for r in conn.execute(
        select(h).where(h.c.entity == entity, h.c.golden_id == golden_id)
        .order_by(h.c.version))]
    sealer.open_history(conn, entity, rows)
    return rows
