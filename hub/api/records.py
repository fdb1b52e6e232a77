"""Golden customers and employees: list, get, history, xrefs — through the privacy gate."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from hub.api.deps import ConnDep, GateDep
from hub.api.problems import NotFound
from hub.canonical import MODELS
from hub.records import jsonable
from hub.store import bulk
from hub.store.tables import RecordHistory, Xref
from policies.gate import Destination, PrivacyGate

router = APIRouter(prefix="/api/v1")
API_READER = Destination("api", "api", purpose=None)
_BOOKKEEPING = ("id", "version", "created_at", "updated_at")
IdPath = Annotated[str, Path(max_length=32, description="Golden record id, e.g. C-1001")]


def _public(entity: str, row: dict[str, Any], gate: PrivacyGate) -> dict[str, Any]:
    """A golden record as the API caller may see it; provenance only for released fields."""
    values = {k: v for k, v in row.items()
              if k not in _BOOKKEEPING and k not in ("custom", "provenance")}
    values.update(row.get("custom") or {})
    released, _ = gate.release(entity, values, API_READER)
    provenance = {k: v for k, v in (row.get("provenance") or {}).items() if k in released}
    return jsonable({**{k: row[k] for k in _BOOKKEEPING}, **released,
                     "provenance": provenance}, sort=False)


def _register(entity: str) -> None:
    plural = f"{entity}s"
    table = bulk.table_of(MODELS[entity])

    @router.get(f"/{plural}", tags=[plural], summary=f"List golden {plural}")
    def list_records(conn: ConnDep, gate: GateDep,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50,
                     after: Annotated[str | None, Query(max_length=32,
                                                        description="Cursor: last id seen")] = None,
                     ) -> dict[str, Any]:
        stmt = select(table).order_by(table.c.id).limit(limit)
        if after:
            stmt = stmt.where(table.c.id > after)
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
        items = [_public(entity, r, gate) for r in rows]
        return {"items": items, "next": rows[-1]["id"] if len(rows) == limit else None}

    @router.get(f"/{plural}/{{golden_id}}", tags=[plural], summary=f"One golden {entity}")
    def get_record(golden_id: IdPath, conn: ConnDep, gate: GateDep) -> dict[str, Any]:
        row = conn.execute(select(table).where(table.c.id == golden_id)).first()
        if row is None:
            raise NotFound(f"{entity} {golden_id}")
        return _public(entity, dict(row._mapping), gate)

    @router.get(f"/{plural}/{{golden_id}}/history", tags=[plural],
                summary=f"Every version of a golden {entity}")
    def history(golden_id: IdPath, conn: ConnDep, gate: GateDep) -> list[dict[str, Any]]:
        h = bulk.table_of(RecordHistory)
        rows = conn.execute(select(h).where(h.c.entity == entity, h.c.golden_id == golden_id)
                            .order_by(h.c.version)).all()
        if not rows:
            raise NotFound(f"{entity} {golden_id}")
        out = []
        for r in rows:
            data = dict(r.data)
            data.update(data.pop("custom", None) or {})
            released, _ = gate.release(entity, data, API_READER)
            out.append({"version": r.version, "changed_at": r.changed_at.isoformat(),
                        "system": r.system, "run_id": r.run_id, "data": released})
        return out

    @router.get(f"/{plural}/{{golden_id}}/xrefs", tags=[plural],
                summary=f"Which record in which system is this {entity}")
    def xrefs(golden_id: IdPath, conn: ConnDep) -> list[dict[str, Any]]:
        x = bulk.table_of(Xref)
        rows = conn.execute(select(x.c.system, x.c.source_key, x.c.first_run, x.c.last_run,
                                   x.c.updated_at)
                            .where(x.c.entity == entity, x.c.golden_id == golden_id)).all()
        return [jsonable(dict(r._mapping)) for r in rows]

    _ = (list_records, get_record, history, xrefs)  # registered on the router


for _entity in MODELS:
    _register(_entity)
