"""Golden customers and employees, read side: list and search, get, history, xrefs,
provenance. Every value passes the privacy gate for the caller's role."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from hub.api.deps import ConnDep, HubDep, Instant, aware, disclosure, etag, json_response
from hub.api.disclosure import Disclosure, dict_rows
from hub.api.openapi import AUTHENTICATED, ETAG, NOT_FOUND, headers
from hub.api.problems import Forbidden, NotFound
from hub.api.security import RecordsReader
from hub.api.services import EMAIL_FIELD, NAME_FIELDS
from hub.api.writes import load
from hub.canonical import MODELS
from hub.records import json_default, jsonable
from hub.store import bulk, goldens, search_index
from hub.store.tables import Xref

router = APIRouter(prefix="/api/v1", responses=AUTHENTICATED)
IdPath = Annotated[str, Path(max_length=32, description="Golden record id, e.g. C-1001")]


def _filterable(view: Disclosure, entity: str, fields: tuple[str, ...], param: str) -> None:
    # Filtering on a field the caller may not see in clear would reveal it by elimination.
    hidden = [f for f in fields if not view.in_clear(entity, f)]
    if hidden:
        raise Forbidden(f"filter {param!r} uses field {hidden[0]!r}, "
                        "which this role may not see in clear")


def _register(entity: str) -> None:
    plural = f"{entity}s"
    table = bulk.table_of(MODELS[entity])

    @router.get(f"/{plural}", tags=[plural], summary=f"List and search golden {plural}")
    def list_records(
        request: Request, caller: RecordsReader, hub: HubDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        after: Annotated[str | None, Query(max_length=32,
                                           description="Cursor: the `next` of the last page")
                         ] = None,
        email: Annotated[str | None, Query(max_length=320, description="Exact email "
                                           "(compared lower-cased, as stored)")] = None,
        name: Annotated[str | None, Query(max_length=200,
                                          description="Part of a first, last or "
                                                      "organisation name")] = None,
        updated_since: Annotated[Instant | None,
                                 Query(description="Changed at or after (RFC 3339)")] = None,
    ) -> Response:
        view = disclosure(request, caller)
        # Keyset paging: the page after the last id seen, in id order (the primary key).
        stmt = select(*view.columns(entity, table)).order_by(table.c.id).limit(limit)
        if after:
            stmt = stmt.where(table.c.id > after)
        if email is not None:
            _filterable(view, entity, (EMAIL_FIELD[entity],), "email")
            stmt = stmt.where(table.c[EMAIL_FIELD[entity]] == email.strip().lower())
        if name is not None:
            _filterable(view, entity, NAME_FIELDS[entity], "name")
        if updated_since is not None:
            stmt = stmt.where(table.c.updated_at >= aware(updated_since))
        with hub.engine.connect() as conn:  # not a dependency: saves two thread-pool trips
            if name is not None:
                stmt = stmt.where(search_index.name_filter(conn, entity, table,
                                                           NAME_FIELDS[entity], name.strip()))
            rows = dict_rows(conn.execute(stmt))
            view.open(conn, entity, rows)
        # One orjson pass over the page, dates and decimals as ``jsonable`` writes them.
        return Response(orjson.dumps({"items": view.records(entity, rows, plain=False),
                                      "next": rows[-1]["id"] if len(rows) == limit else None},
                                     default=json_default),
                        media_type="application/json")

    @router.get(f"/{plural}/{{golden_id}}", tags=[plural], summary=f"One golden {entity}",
                description="The `ETag` header carries the version, for `If-Match` on updates.",
                responses={200: headers(ETag=ETAG), **NOT_FOUND})
    def get_record(golden_id: IdPath, request: Request, caller: RecordsReader,
                   hub: HubDep) -> JSONResponse:
        with hub.engine.connect() as conn:
            row = load(conn, hub.sealer, entity, golden_id)
        return json_response(disclosure(request, caller).record(entity, row),
                             headers={"ETag": etag(row["version"])})

    @router.get(f"/{plural}/{{golden_id}}/provenance", tags=[plural],
                summary=f"Which system supplied each visible field of a golden {entity}",
                responses=NOT_FOUND)
    def provenance(golden_id: IdPath, request: Request, caller: RecordsReader,
                   hub: HubDep, conn: ConnDep) -> dict[str, Any]:
        row = load(conn, hub.sealer, entity, golden_id)
        public = disclosure(request, caller).record(entity, row)
        return {"id": golden_id, "version": row["version"], "fields": public["provenance"]}

    @router.get(f"/{plural}/{{golden_id}}/history", tags=[plural],
                summary=f"Every version of a golden {entity}", responses=NOT_FOUND)
    def history(golden_id: IdPath, request: Request, caller: RecordsReader, hub: HubDep,
                conn: ConnDep) -> list[dict[str, Any]]:
        rows = goldens.read_history(conn, hub.sealer, entity, golden_id)
        if not rows:
            raise NotFound(f"{entity} {golden_id}")
        versions = []
        for r in rows:
            data = dict(r["data"])
            data.update(data.pop("custom", None) or {})
            versions.append((golden_id, data))
        released = disclosure(request, caller).values(entity, versions)
        return [{"version": r["version"], "changed_at": r["changed_at"].isoformat(),
                 "system": r["system"], "run_id": r["run_id"], "deleted": not r["data"],
                 "data": jsonable(values)} for r, (values, _) in zip(rows, released)]

    @router.get(f"/{plural}/{{golden_id}}/xrefs", tags=[plural],
                summary=f"Which record in which system is this {entity}",
                responses=NOT_FOUND)
    def xrefs(golden_id: IdPath, caller: RecordsReader, hub: HubDep,
              conn: ConnDep) -> list[dict[str, Any]]:
        load(conn, hub.sealer, entity, golden_id)
        x = bulk.table_of(Xref)
        rows = conn.execute(select(x.c.system, x.c.source_key, x.c.first_run, x.c.last_run,
                                   x.c.updated_at)
                            .where(x.c.entity == entity, x.c.golden_id == golden_id)).all()
        return [jsonable(dict(r._mapping)) for r in rows]

    _ = (list_records, get_record, provenance, history, xrefs)  # registered on the router


for _entity in MODELS:
    _register(_entity)
