"""The audit trail for compliance officers: one person's trace, and searches over transfers.

Entries hold field names, categories, actions, rules and keyed hashes, never values.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from hub.api.deps import HubDep, aware
from hub.api.security import AuditReader
from hub.audit import query, signing, verify
from hub.auth.tables import RestrictedReadLog
from hub.records import jsonable
from hub.store import bulk

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
Text = Annotated[str | None, Query(max_length=200)]
# How many recent restricted-read rows a trace searches for one record.
READ_LOG_WINDOW = 5000


def restricted_reads(conn: Any, entity: str, golden_id: str) -> list[dict[str, Any]]:
    """API, SCIM and dashboard responses that showed this record's restricted fields."""
    log = bulk.table_of(RestrictedReadLog)
    rows = conn.execute(select(log).where(log.c.entity == entity)
                        .order_by(log.c.id.desc()).limit(READ_LOG_WINDOW))
    return [{"at": r.at, "role": r.role, "token_id": r.token_id, "channel": r.channel,
             "fields": r.fields, "purpose": r.purpose}
            for r in rows if golden_id in (r.golden_ids or [])][::-1]


@router.get("/trace", summary="Everything the trail holds about one person")
def trace(hub: HubDep, caller: AuditReader,
          entity: Annotated[Literal["customer", "employee"], Query()],
          id: Annotated[str, Query(max_length=32, description="Golden record id")],
          ) -> dict[str, Any]:
    with hub.engine.connect() as conn:
        entries = query.trace(conn, entity, id)
        reads = restricted_reads(conn, entity, id)
    return jsonable({"entity": entity, "id": id, "entries": entries,
                     "restricted_reads": reads}, sort=False)


@router.get("/search", summary="Transfers matching system, category, action, rule, time")
def search(hub: HubDep, caller: AuditReader, system: Text = None, category: Text = None,
           action: Text = None, rule: Text = None, kind: Text = None,
           since: Annotated[dt.datetime | None, Query()] = None,
           until: Annotated[dt.datetime | None, Query()] = None,
           limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    q = query.Search(system=system, category=category, action=action, rule=rule, kind=kind,
                     since=aware(since), until=aware(until), limit=limit)
    with hub.engine.connect() as conn:
        return [jsonable(e) for e in query.search(conn, q)]


@router.get("/verify", summary="Check the trail's hash chain and signed checkpoints")
def verify_trail(hub: HubDep, caller: AuditReader) -> dict[str, Any]:
    report = verify.verify(hub.engine, signing.public_keys(hub.deployment.keyring()))
    return {"ok": report.ok, "entries": report.entries, "checkpoints": report.checkpoints,
            "problem": report.problem, "seq": report.seq, "notes": report.notes}
