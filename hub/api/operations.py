"""Systems, runs and quarantine: what operators look at."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from hub.api.deps import ConnDep, HubDep
from hub.api.problems import NotFound
from hub.records import jsonable
from hub.store import bulk
from hub.store.tables import Quarantine, SyncRun

router = APIRouter(prefix="/api/v1")


@router.get("/systems", tags=["operations"], summary="Configured systems and their streams")
def systems(hub: HubDep) -> list[dict[str, Any]]:
    return [{"name": name, "connector": s.config.connector, "description": s.config.description,
             "streams": [{"name": st.name, "entity": st.entity,
                          "direction": st.config.direction, "purpose": st.config.purpose}
                         for st in s.streams]}
            for name, s in hub.deployment.systems.items()]


@router.get("/runs", tags=["operations"], summary="Sync runs, newest first")
def runs(conn: ConnDep, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict[str, Any]]:
    t = bulk.table_of(SyncRun)
    rows = conn.execute(select(t).order_by(t.c.id.desc()).limit(limit))
    return [jsonable(dict(r._mapping)) for r in rows]


@router.get("/runs/{run_id}", tags=["operations"], summary="One sync run with its counts")
def run(run_id: int, conn: ConnDep) -> dict[str, Any]:
    t = bulk.table_of(SyncRun)
    row = conn.execute(select(t).where(t.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"run {run_id}")
    return jsonable(dict(row._mapping))


@router.get("/quarantine", tags=["operations"], summary="Open quarantined records (no payloads)")
def quarantine(conn: ConnDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
               ) -> list[dict[str, Any]]:
    q = bulk.table_of(Quarantine)
    # The raw payload may hold restricted values: it is never served here.
    rows = conn.execute(select(q.c.id, q.c.run_id, q.c.system, q.c.stream, q.c.direction,
                               q.c.location, q.c.source_key, q.c.field, q.c.reason,
                               q.c.created_at).where(q.c.status == "open")
                        .order_by(q.c.id).limit(limit))
    return [jsonable(dict(r._mapping)) for r in rows]
