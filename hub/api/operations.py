"""Systems, runs and quarantine: what operators look at (no personal data here)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import Connection, func, select

from hub.api.deps import ConnDep, HubDep
from hub.api.problems import NotFound
from hub.api.security import OperationsReader, QuarantineReader
from hub.config import Deployment
from hub.records import jsonable
from hub.store import bulk
from hub.store.tables import Quarantine, SyncRun

router = APIRouter(prefix="/api/v1")
# How many recent runs to search for each stream's last outcome.
_RECENT_RUNS = 50


def recent_runs(conn: Connection, limit: int) -> list[dict[str, Any]]:
    t = bulk.table_of(SyncRun)
    rows = conn.execute(select(t).order_by(t.c.id.desc()).limit(limit))
    return [jsonable(dict(r._mapping)) for r in rows]


def systems_overview(conn: Connection, deployment: Deployment) -> list[dict[str, Any]]:
    """Each system with its streams' last run outcome, open quarantine, and a status:
    ``ok``, ``records failed`` (last run quarantined some), ``failing`` (a stream failed),
    or ``never run``."""
    runs = recent_runs(conn, _RECENT_RUNS)
    q = bulk.table_of(Quarantine)
    open_q = {r[0]: int(r[1]) for r in conn.execute(
        select(q.c.system, func.count()).where(q.c.status == "open").group_by(q.c.system))}
    out = []
    for name, system in deployment.systems.items():
        streams: list[dict[str, Any]] = []
        for st in system.streams:
            last = next(({"run_id": r["id"], "started_at": r["started_at"],
                          **r["counts"][st.label]}
                         for r in runs if st.label in (r["counts"] or {})), None)
            streams.append({"name": st.name, "entity": st.entity,
                            "direction": st.config.direction, "purpose": st.config.purpose,
                            "last_run": last})
        lasts = [s["last_run"] for s in streams if s["last_run"]]
        status = ("never run" if not lasts else
                  "failing" if any(x.get("error") for x in lasts) else
                  "records failed" if any(x.get("failed") for x in lasts) else "ok")
        out.append({"name": name, "connector": system.config.connector,
                    "description": system.config.description, "status": status,
                    "open_quarantine": open_q.get(name, 0), "streams": streams})
    return out


def open_quarantine(conn: Connection, limit: int, system: str | None = None
                    ) -> list[dict[str, Any]]:
    q = bulk.table_of(Quarantine)
    # The raw payload may hold restricted values: it is never served.
    stmt = select(q.c.id, q.c.run_id, q.c.system, q.c.stream, q.c.entity, q.c.direction,
                  q.c.location, q.c.source_key, q.c.field, q.c.reason,
                  q.c.created_at).where(q.c.status == "open")
    if system:
        stmt = stmt.where(q.c.system == system)
    return [jsonable(dict(r._mapping)) for r in conn.execute(stmt.order_by(q.c.id).limit(limit))]


@router.get("/systems", tags=["operations"],
            summary="Configured systems: streams, last run outcome, open quarantine")
def systems(hub: HubDep, conn: ConnDep, caller: OperationsReader) -> list[dict[str, Any]]:
    return systems_overview(conn, hub.deployment)


@router.get("/runs", tags=["operations"], summary="Sync runs, newest first")
def runs(conn: ConnDep, caller: OperationsReader,
         limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict[str, Any]]:
    return recent_runs(conn, limit)


@router.get("/runs/{run_id}", tags=["operations"], summary="One sync run with its counts")
def run(run_id: Annotated[int, Path(ge=1, le=2**53)], conn: ConnDep,
        caller: OperationsReader) -> dict[str, Any]:
    t = bulk.table_of(SyncRun)
    row = conn.execute(select(t).where(t.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"run {run_id}")
    return jsonable(dict(row._mapping))


@router.get("/quarantine", tags=["operations"], summary="Open quarantined records (no payloads)")
def quarantine(conn: ConnDep, caller: QuarantineReader,
               limit: Annotated[int, Query(ge=1, le=500)] = 100,
               system: Annotated[str | None, Query(max_length=100)] = None
               ) -> list[dict[str, Any]]:
    return open_quarantine(conn, limit, system)
