"""SCIM Users, write side: create, replace, patch, delete — as the ``scim`` source.

``If-Match`` is optional here (identity providers rarely send it) but honoured: a stale
version gets 412, one that is no entity tag 400. A client writes only fields its role sees
in clear, as in the REST API. userName is unique regardless of case (RFC 7643 §4.1.1); a
taken one gets 409 uniqueness. Bodies are checked as ``bodies.py`` documents them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import Connection, func, select

from hub.api import writes
from hub.api.deps import disclosure
from hub.api.disclosure import Disclosure, business_values
from hub.api.problems import Conflict, Forbidden, PreconditionFailed
from hub.api.record_writes import ETAG_PATTERN, parse_if_match
from hub.api.scim import bodies, patch, render
from hub.api.scim.attributes import (
    CORE_FIELDS,
    ENTERPRISE,
    ENTERPRISE_FIELDS,
    KONTOR,
    fields_of,
    from_scim,
    lower_keys,
)
from hub.api.scim.filter import FilterError
from hub.api.security import ScimCaller
from hub.canonical import MODELS
from hub.context import Hub
from hub.store import bulk

router = APIRouter(prefix="/scim/v2", tags=["scim"])
IdPath = Annotated[str, Path(max_length=32, description="The User's id (golden id)")]
# Optional, so documented as a string (a header has no null); malformed: 400.
IfMatch = Annotated[Annotated[str, Field(max_length=40, pattern=ETAG_PATTERN,
                                         json_schema_extra={"format": "entity-tag"})]
                    | SkipJsonSchema[None],
                    Header(description='The ETag of the version you based this on, '
                                       'e.g. W/"3"; optional')]
UserBody = Annotated[bodies.ScimUser, Body(description="A SCIM User")]
# A PATCH body is checked operation by operation (patch.py), for exact SCIM error types;
# hub/api/openapi.py documents it as bodies.documented's ScimPatchOp.
PatchBody = Annotated[dict[str, Any], Body(description="A SCIM PatchOp")]
# Exact duplicates, refused inside the write's own transaction (see _check_user_name).
UNIQUE = ("user_name", "work_email")


def _writable(view: Disclosure, fields: Iterable[str]) -> None:
    hidden = sorted(f for f in fields if not view.in_clear(render.ENTITY, f))
    if hidden:
        raise Forbidden(f"field {hidden[0]!r} may not be written by this client")


def _source(caller: Any) -> writes.WriteSource:
    return writes.WriteSource("scim", caller)


def _extension(hub: Hub) -> bodies.KontorModels:
    return bodies.kontor_models(hub.deployment.fields[render.ENTITY], render.kontor(hub))


def _plain(hub: Hub, body: bodies.ScimUser) -> dict[str, Any]:
    """The User as sent (names spelled as RFC 7643 does), for ``from_scim``; Kontor's
    extension held against this deployment's fields."""
    sent = body.model_dump(by_alias=True, exclude_unset=True)
    wrong = bodies.check_value(_extension(hub).whole | None, sent.get(KONTOR))
    if wrong is not None:
        raise render.ScimProblem(f"invalid request: body.{KONTOR}.{wrong}",
                                 scim_type="invalidValue")
    return sent


def _read(hub: Hub, body: dict[str, Any], *, whole: bool = True) -> Any:
    try:
        return from_scim(lower_keys(body), render.kontor(hub), whole=whole,
                         read_only=render.kontor_read_only(hub))
    except FilterError as exc:
        raise render.ScimProblem(str(exc), scim_type="invalidValue") from None


def user_name_of(golden_id: str, values: dict[str, Any], current: dict[str, Any] | None
                 ) -> Any:
    """The userName a record has once ``values`` are written (None in ``values``: cleared)."""
    merged = {f: (current or {}).get(f) for f in ("user_name", "work_email")}
    merged.update({f: values[f] for f in merged if f in values})
    return merged["user_name"] or merged["work_email"] or golden_id


def _check_user_name(conn: Connection, values: dict[str, Any], current: dict[str, Any] | None
                     ) -> None:
    """409 when the userName the record gets is another User's, regardless of case.

    Exact duplicates are also refused inside the write's transaction (``UNIQUE``); a
    variant in case written at the very same moment is the one race this check leaves.
    """
    own_id = current["id"] if current else ""
    name = user_name_of(own_id, values, current)
    if current and name == user_name_of(own_id, {}, current):
        return  # unchanged: a PATCH of other attributes is no place to judge old data
    t = bulk.table_of(MODELS[render.ENTITY])
    shown = func.lower(func.coalesce(t.c.user_name, t.c.work_email, t.c.id))
    stmt = select(t.c.id).where(shown == str(name).lower(), t.c.id != own_id).limit(1)
    holder = conn.execute(stmt).scalar()
    if holder is not None:
        raise Conflict(f"{render.ENTITY} {holder} already has this userName",
                       scim_type="uniqueness")


def _named(values: dict[str, Any]) -> None:
    if not values.get("user_name"):
        raise render.ScimProblem("userName is required", scim_type="invalidValue")


def _answer(request: Request, view: Disclosure, row: dict[str, Any], status: int = 200
            ) -> JSONResponse:
    hub: Hub = request.app.state.hub
    url = render.base_url(request)
    with hub.engine.connect() as conn:
        user = render.users(conn, view, [row], url)[0]
    return render.scim_response(user, status, render.weak_etag(row["version"]),
                                f"{url}/Users/{row['id']}" if status == 201 else None)


@router.post("/Users", status_code=201, summary="Create a User")
def create_user(body: UserBody, request: Request, caller: ScimCaller) -> JSONResponse:
    hub: Hub = request.app.state.hub
    view = disclosure(request, caller, "scim")
    got = _read(hub, _plain(hub, body))
    with hub.engine.connect() as conn:
        values = render.resolve(conn, hub, got, None)
        _named(values)
        _check_user_name(conn, values, None)
    given = _given(view, values)
    _writable(view, given)
    row = writes.create(hub, render.ENTITY, given, _source(caller), unique=UNIQUE)
    return _answer(request, view, row, 201)


def _given(view: Disclosure, values: dict[str, Any]) -> dict[str, Any]:
    """The values a POST or PUT writes: read-only ones (seen only masked, say) are ignored,
    as RFC 7644 §3.5.1 asks, so a client may send back what it read."""
    masked = render.transformed(view)
    return {k: v for k, v in values.items() if v is not None and k not in masked}


def _replaced_fields(hub: Hub, body: dict[str, Any]) -> set[str]:
    """Fields a PUT replaces: core ones, and an extension's only when its schema is listed.
    Not the read-only ones: termination_date changes only through ``active``."""
    listed = {str(s).lower() for s in body.get("schemas") or [] if isinstance(s, str)}
    fields = set(CORE_FIELDS)
    if ENTERPRISE.lower() in listed:
        fields |= set(ENTERPRISE_FIELDS.values())
    if KONTOR.lower() in listed:
        fields |= set(render.kontor(hub)) - set(render.kontor_read_only(hub))
    return fields


@router.put("/Users/{user_id}", summary="Replace a User")
def replace_user(user_id: IdPath, body: UserBody, request: Request, caller: ScimCaller,
                 if_match: IfMatch = None) -> JSONResponse:
    hub: Hub = request.app.state.hub
    view = disclosure(request, caller, "scim")
    version = parse_if_match(if_match, required=False)
    sent = _plain(hub, body)
    got = _read(hub, sent)
    with hub.engine.connect() as conn:
        current = writes.load(conn, hub.sealer, render.ENTITY, user_id)
        values = render.resolve(conn, hub, got, current)
        _named(values)
        _check_user_name(conn, values, current)
    given = _given(view, values)
    _writable(view, given)
    # Fields the client may see and left out are cleared, with those the input clears
    # (``active``: the termination date); hidden ones stay as they are.
    stated_none = {f for f, v in values.items() if v is None}
    clear = sorted(f for f in _replaced_fields(hub, sent) | stated_none
                   if f not in given and view.in_clear(render.ENTITY, f))
    row = writes.update(hub, render.ENTITY, user_id, expected_version=version, values=given,
                        clear=clear, source=_source(caller), unique=UNIQUE)
    return _answer(request, view, row)


@router.patch("/Users/{user_id}", summary="Change a User with PATCH operations")
def patch_user(user_id: IdPath, request: Request, caller: ScimCaller,
               body: PatchBody, if_match: IfMatch = None) -> JSONResponse:
    hub: Hub = request.app.state.hub
    view = disclosure(request, caller, "scim")
    version = parse_if_match(if_match, required=False)
    envelope = {str(k).lower(): v for k, v in body.items()}
    if bodies.check_value(list[bodies.Text] | None, envelope.get("schemas")) is not None:
        raise render.ScimProblem("schemas must be a list of schema URIs",
                                 scim_type="invalidSyntax")
    operations = envelope.get("operations")
    names = render.kontor(hub)
    with hub.engine.connect() as conn:
        current = writes.load(conn, hub.sealer, render.ENTITY, user_id)
        if version is not None and current["version"] != version:
            raise PreconditionFailed(f"{render.ENTITY} {user_id} is at another version")
        doc = lower_keys(render.internal_user(conn, hub, current, render.base_url(request)))
        fixed = {f"kontor:{f.lower()}" for f in render.kontor_read_only(hub)}
        try:
            patched, touched = patch.apply(doc, operations, names, fixed, _extension(hub))
        except patch.PatchError as exc:
            raise render.ScimProblem(str(exc), scim_type=exc.scim_type) from None
        try:
            fields = {f for key in touched for f in fields_of(key, names)}
            # Removing a whole extension removes what this client may write; the rest stays.
            kept = {f for key in touched & {"enterprise", "kontor"}
                    for f in fields_of(key, names) if not view.in_clear(render.ENTITY, f)}
        except FilterError:
            raise render.ScimProblem("a path names an unknown attribute",
                                     scim_type="invalidPath") from None
        _writable(view, fields - kept)
        if current["user_name"] is None and "username" not in touched:
            # No userName of its own: the one shown stands in (the work e-mail) and follows it.
            patched.pop("username", None)
            doc.pop("username", None)
        got = _read(hub, patched, whole=False)
        stated = _read(hub, doc, whole=False)  # what the stored user states; removed
        for field in stated.values:            # attributes clear
            got.values.setdefault(field, None)
        if stated.manager_given and not got.manager_given:
            got.manager_given, got.manager_id = True, None
        for field in kept:
            got.values.pop(field, None)
        if "manager_number" in kept:
            got.manager_given = False
        values = render.resolve(conn, hub, got, current)
        if "username" in touched:
            _named(values)
        _check_user_name(conn, values, current)
    before = business_values(current)
    row = writes.update(
        hub, render.ENTITY, user_id, expected_version=current["version"],
        values={k: v for k, v in values.items() if v is not None},
        clear=[k for k, v in values.items() if v is None and before.get(k) is not None],
        source=_source(caller), unique=UNIQUE)
    return _answer(request, view, row)


@router.delete("/Users/{user_id}", status_code=204, summary="Delete a User")
def delete_user(user_id: IdPath, request: Request, caller: ScimCaller,
                if_match: IfMatch = None) -> Response:
    version = parse_if_match(if_match, required=False)
    writes.remove(request.app.state.hub, render.ENTITY, user_id, expected_version=version,
                  source=_source(caller))
    return Response(status_code=204)
