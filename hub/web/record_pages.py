"""Dashboard pages for records: search, one record with provenance, and its trace."""

from __future__ import annotations

import re
from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, or_, select

from hub.api.deps import ConnDep, HubDep, disclosure
from hub.api.disclosure import Disclosure, business_values
from hub.api.services import EMAIL_FIELD, NAME_FIELDS, restricted_reads
from hub.api.writes import load
from hub.audit import query as audit_query
from hub.auth.roles import Permission, allows
from hub.canonical import MODELS
from hub.context import Hub
from hub.records import jsonable
from hub.store import bulk, goldens
from hub.store.tables import Delivery, Xref
from hub.web.render import page
from hub.web.session import AuditPage, RecordsPage
from policies.gate import Action

router = APIRouter(prefix="/ui", include_in_schema=False)
EntityPath = Annotated[Literal["customer", "employee"], Path()]
IdPath = Annotated[str, Path(max_length=32)]
_ID = re.compile(r"^[CE]-\d{1,12}$")
LIMIT = 50


def _search(conn: Connection, view: Disclosure, entity: str, q: str
            ) -> tuple[list[dict[str, Any]], str | None]:
    table = bulk.table_of(MODELS[entity])
    text = q.strip()
    if _ID.match(text):
        where = table.c.id == text
    elif "@" in text:
        if not view.in_clear(entity, EMAIL_FIELD[entity]):
            return [], "Your role may not search by email."
        where = table.c[EMAIL_FIELD[entity]] == text.lower()
    else:
        names = NAME_FIELDS[entity]
        if not all(view.in_clear(entity, f) for f in names):
            return [], "Your role may not search by name."
        where = or_(*(table.c[f].icontains(text, autoescape=True) for f in names))
    rows = [dict(r._mapping) for r in conn.execute(
        select(table).where(where).order_by(table.c.id).limit(LIMIT))]
    view.hub.sealer.open_goldens(conn, entity, rows)
    out = []
    for r in view.records(entity, rows):
        name = " ".join(str(r[f]) for f in NAME_FIELDS[entity] if r.get(f))
        out.append({"id": r["id"], "name": name or "—", "email": r.get(EMAIL_FIELD[entity]),
                    "updated_at": r["updated_at"]})
    return out, None


@router.get("/records")
def records(request: Request, caller: RecordsPage, conn: ConnDep,
            entity: Annotated[Literal["customer", "employee"], Query()] = "customer",
            q: Annotated[str | None, Query(max_length=200)] = None) -> HTMLResponse:
    results, problem = _search(conn, disclosure(request, caller, "web"), entity, q) \
        if q and q.strip() else ([], None)
    return page(request, "records.html", caller, entities=list(MODELS), entity=entity, q=q,
                results=results, problem=problem, limit=LIMIT)


@router.get("/records/{entity}/{golden_id}")
def record(request: Request, entity: EntityPath, golden_id: IdPath, caller: RecordsPage,
           hub: HubDep, conn: ConnDep) -> HTMLResponse:
    row = load(conn, hub.sealer, entity, golden_id)
    view = disclosure(request, caller, "web")
    [(released, decisions)] = view.values(entity, [(golden_id, business_values(row))])
    provenance = row.get("provenance") or {}
    released = jsonable(released)
    fields = [{"name": d.field, "category": d.category, "action": d.action.value,
               "rule": d.rule, "withheld": d.action is Action.DENY,
               "value": released.get(d.field),
               "empty": d.action is not Action.DENY and released.get(d.field) is None,
               "source": provenance.get(d.field) if d.action is not Action.DENY else None}
              for d in decisions]
    x = bulk.table_of(Xref)
    xrefs = conn.execute(select(x.c.system, x.c.source_key, x.c.first_run, x.c.last_run)
                         .where(x.c.entity == entity, x.c.golden_id == golden_id)).all()
    history = [jsonable({k: h[k] for k in ("version", "changed_at", "system", "run_id")})
               for h in goldens.read_history(conn, hub.sealer, entity, golden_id)]
    return page(request, "record.html", caller, entity=entity, fields=fields,
                record=jsonable({k: row[k] for k in ("id", "version", "created_at",
                                                      "updated_at")}),
                xrefs=xrefs, history=history,
                can_trace=allows(caller.role, Permission.AUDIT_READ))


def trace_events(conn: Connection, hub: Hub, entity: str, golden_id: str
                 ) -> list[dict[str, Any]]:
    """What happened to one record, oldest first; names and counts, never values."""
    events = []
    for h in goldens.read_history(conn, hub.sealer, entity, golden_id):
        kind = "deleted" if not h["data"] else "version"
        events.append({"at": h["changed_at"], "kind": kind, "where": h["system"],
                       "detail": f"version {h['version']}"
                       + (f" in run {h['run_id']}" if h["run_id"] else "")})
    d = bulk.table_of(Delivery)
    for r in conn.execute(select(d).where(d.c.golden_id == golden_id)):
        events.append({"at": r.delivered_at, "kind": "delivered",
                       "where": f"{r.system}.{r.stream}", "detail": f"run {r.run_id}"})
    x = bulk.table_of(Xref)
    for r in conn.execute(select(x).where(x.c.entity == entity, x.c.golden_id == golden_id)):
        events.append({"at": r.updated_at, "kind": "linked", "where": r.system,
                       "detail": f"seen from run {r.first_run} to run {r.last_run}"})
    for read in restricted_reads(conn, entity, golden_id):
        events.append({"at": read["at"], "kind": "restricted read",
                       "where": f"{read['channel']} by {read['role']} "
                                f"(token {read['token_id']})",
                       "detail": ", ".join(read["fields"])})
    for e in audit_query.trace(conn, entity, golden_id):
        actions = Counter(str(f.get("action")) for f in e["fields"])
        events.append({"at": e["at"], "kind": f"audit: {e['kind']}",
                       "where": f"{e['source']} → {e['destination']}",
                       "detail": f"{e['outcome']}; fields: " + ", ".join(
                           f"{n} {a}" for a, n in sorted(actions.items()))})
    return sorted((jsonable(e) for e in events), key=lambda e: e["at"])


@router.get("/records/{entity}/{golden_id}/trace")
def trace(request: Request, entity: EntityPath, golden_id: IdPath, caller: AuditPage,
          hub: HubDep, conn: ConnDep) -> HTMLResponse:
    events = trace_events(conn, hub, entity, golden_id)
    return page(request, "trace.html", caller, entity=entity, golden_id=golden_id,
                events=events)
