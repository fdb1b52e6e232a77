"""SCIM Users, read side: list with filter, sorting and pagination (GET, or POST to
``/.search`` with the query in the body, RFC 7644 §3.4.3); get one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import func, select

from hub.api.deps import HubDep, disclosure
from hub.api.disclosure import dict_rows
from hub.api.scim import bodies, render, schemas
from hub.api.scim.attributes import ENTERPRISE, KONTOR, LOWER_URIS, attr_key
from hub.api.scim.filter import FilterError, parse, split_attr
from hub.api.scim.query import Translator
from hub.api.scim.search import Search, from_model
from hub.api.security import ScimCaller
from hub.api.writes import load
from hub.auth.tokens import Caller
from hub.canonical import MODELS
from hub.context import Hub
from hub.store import bulk, search_index

router = APIRouter(prefix="/scim/v2", tags=["scim"])
IdPath = Annotated[str, Path(max_length=32, description="The User's id (golden id)")]
# Optional parameters are documented as strings: a query or header has no null.
AttrList = Annotated[str | SkipJsonSchema[None], Query(
    max_length=1000, description="Comma-separated attribute names to return (with id, "
                                 "schemas, meta); names naming none are ignored")]
Excluded = Annotated[str | SkipJsonSchema[None], Query(
    alias="excludedAttributes", max_length=1000,
    description="Comma-separated attribute names not to return; names naming none are "
                "ignored")]
_ALWAYS = {"id", "schemas", "meta"}


def project(user: dict[str, Any], attributes: str | None, excluded: str | None,
            kontor: list[str]) -> dict[str, Any]:
    """Keep (``attributes``) or drop (``excludedAttributes``) top-level attributes.

    A name that names no attribute of a User is ignored: it selects nothing. RFC 7644
    §3.9 asks for no error, and clients ask for attributes of RFC 7643 this server does
    not keep (nickName, groups).
    """
    def keys(text: str) -> set[str]:
        out = set()
        for name in filter(None, (n.strip() for n in text.split(","))):
            if name.lower() in LOWER_URIS:  # a whole extension
                out.add(LOWER_URIS[name.lower()].rstrip(":") or "core")
                continue
            try:
                out.add(attr_key(split_attr(name), kontor).split(".")[0])
            except FilterError:
                continue
        return out

    def key_of(attr: str) -> str:
        return {ENTERPRISE: "enterprise", KONTOR: "kontor"}.get(attr, attr.lower())

    if attributes:
        wanted = keys(attributes) | _ALWAYS
        return {k: v for k, v in user.items() if key_of(k) in wanted}
    if excluded:
        unwanted = keys(excluded) - _ALWAYS
        return {k: v for k, v in user.items() if key_of(k) not in unwanted}
    return user


@router.get("/Users", summary="List Users: filter, sortBy/sortOrder, startIndex/count")
def list_users(
    request: Request, caller: ScimCaller, hub: HubDep,
    filter_: Annotated[bodies.FilterText | SkipJsonSchema[None], Query(
        alias="filter", max_length=4000, description=bodies.FORMATS["scim-filter"])] = None,
    sort_by: Annotated[bodies.SortByText | SkipJsonSchema[None], Query(
        alias="sortBy", max_length=200, description=bodies.FORMATS["scim-sort-by"])] = None,
    sort_order: Annotated[Literal["ascending", "descending"],
                          Query(alias="sortOrder")] = "ascending",
    start_index: Annotated[int, Query(alias="startIndex", ge=-2**31, le=2**31)] = 1,
    count: Annotated[int, Query(ge=-2**31, le=2**31)] = 100,
    attributes: AttrList = None, excluded: Excluded = None,
) -> JSONResponse:
    return _search(request, caller, hub, Search(filter_, sort_by, sort_order == "descending",
                                                start_index, count, attributes, excluded))


SearchBody = Annotated[bodies.ScimSearchRequest, Body(description=(
    "A SearchRequest (RFC 7644 §3.4.3): filter, sortBy, sortOrder, startIndex, count, "
    "attributes, excludedAttributes"))]


@router.post("/Users/.search", summary="Search Users, the query in the body")
def search_users(body: SearchBody, request: Request, caller: ScimCaller, hub: HubDep
                 ) -> JSONResponse:
    return _search(request, caller, hub, from_model(body))


@router.post("/.search", summary="Search every resource type (Users are the only one)")
def search_all(body: SearchBody, request: Request, caller: ScimCaller, hub: HubDep
               ) -> JSONResponse:
    return _search(request, caller, hub, from_model(body))


def _search(request: Request, caller: Caller, hub: Hub, query: Search) -> JSONResponse:
    view = disclosure(request, caller, "scim")
    table = bulk.table_of(MODELS[render.ENTITY])
    names = render.kontor(hub)
    specs = hub.deployment.fields[render.ENTITY]
    translator = Translator(table, names, lambda f: view.in_clear(render.ENTITY, f)
                            and not specs[f].restricted)
    start = max(query.start, 1)  # RFC 7644 §3.4.2.4: below 1 means 1
    size = min(max(query.count, 0), schemas.MAX_RESULTS)
    try:
        where = translator.where(parse(query.filter)) if query.filter else None
        order = translator.order_by(query.sort_by, query.descending) if query.sort_by \
            else [table.c.id.asc()]
    except FilterError as exc:
        raise render.filter_problem(exc) from None
    counted = select(func.count()).select_from(table)
    # A User carries no provenance: not read, so not parsed or opened.
    stmt = select(*view.columns(render.ENTITY, table, provenance=False)).order_by(*order) \
        .offset(start - 1).limit(size)
    if where is not None:
        counted, stmt = counted.where(where), stmt.where(where)
    with hub.engine.connect() as conn:  # not a dependency: saves two thread-pool trips
        # The total is remembered until the employee table changes; the page walks the
        # sort order's index (migration 0011) to startIndex.
        total = search_index.count(conn, render.ENTITY, counted)
        rows = dict_rows(conn.execute(stmt)) if size else []
        view.open(conn, render.ENTITY, rows)
        found = [project(u, query.attributes, query.excluded, names)
                 for u in render.users(conn, view, rows, render.base_url(request),
                                       plain=False)]
    return render.scim_response(schemas.list_response(found, total, start))


@router.get("/Users/{user_id}", summary="One User",
            responses={304: {"description": "Not modified (If-None-Match)"}})
def get_user(user_id: IdPath, request: Request, caller: ScimCaller, hub: HubDep,
             attributes: AttrList = None, excluded: Excluded = None,
             if_none_match: Annotated[str | SkipJsonSchema[None], Header(
                 max_length=40, description='The ETag you hold, e.g. W/"3": 304 when '
                                            'it is current')] = None) -> Response:
    with hub.engine.connect() as conn:
        row = load(conn, hub.sealer, render.ENTITY, user_id)
        tag = render.weak_etag(row["version"])
        if if_none_match is not None and if_none_match.strip() in (tag, tag[2:], "*"):
            return Response(status_code=304, headers={"ETag": tag})
        user = render.users(conn, disclosure(request, caller, "scim"), [row],
                            render.base_url(request))[0]
    return render.scim_response(project(user, attributes, excluded,
                                        render.kontor(hub)), etag=tag)
