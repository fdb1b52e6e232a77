"""Systems, runs and quarantine: what operators look at (no personal data here)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from hub.api.deps import ConnDep, HubDep
from hub.api.openapi import AUTHENTICATED, NOT_FOUND
from hub.api.problems import NotFound
from hub.api.security import OperationsReader, QuarantineReader
from hub.api.services import open_quarantine, recent_runs, systems_overview
from hub.records import jsonable
from hub.store import bulk
from hub.store.tables import SyncRun

router = APIRouter(prefix="/api/v1", responses=AUTHENTICATED)


@router.get("/systems", tags=["operations"],
            summary="Configured systems: streams, last run outcome, open quarantine")
def systems(hub: HubDep, conn: ConnDep, caller: OperationsReader) -> list[dict[str, Any]]:
    return systems_overview(conn, hub.deployment)


@router.get("/runs", tags=["operations"], summary="Sync runs, newest first")
def runs(conn: ConnDep, caller: OperationsReader,
         limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict[str, Any]]:
    return recent_runs(conn, limit)


@router.get("/runs/{run_id}", tags=["operations"], summary="One sync run with its counts",
            responses=NOT_FOUND)
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
