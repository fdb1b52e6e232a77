"""The audit trail for compliance officers: one person's trace, and searches over transfers.

Entries hold field names, categories, actions, rules and keyed hashes, never values.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from hub.api.deps import HubDep, Instant, aware
from hub.api.openapi import AUTHENTICATED
from hub.api.security import AuditReader
from hub.api.services import restricted_reads
from hub.audit import query, signing, verify
from hub.records import jsonable

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=AUTHENTICATED)
Text = Annotated[str | None, Query(max_length=200)]


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
           since: Annotated[Instant | None, Query()] = None,
           until: Annotated[Instant | None, Query()] = None,
           limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    q = query.Search(system=system, category=category, action=action, rule=rule, kind=kind,
                     since=aware(since), until=aware(until), limit=limit)
    with hub.engine.connect() as conn:
        return [jsonable(e) for e in query.search(conn, q)]


@router.get("/verify", summary="Check the trail's hash chain and signed checkpoints")
def verify_trail(hub: HubDep, caller: AuditReader,
                 allow_unsigned_tail: Annotated[bool, Query(
                     description="Accept any number of entries past the last checkpoint"
                 )] = False) -> dict[str, Any]:
    allowance = None if allow_unsigned_tail else hub.deployment.config.audit_unsigned_tail
    report = verify.verify(hub.engine, signing.public_keys(hub.deployment.keyring()),
                           unsigned_tail_allowance=allowance)
    return report.as_dict()
