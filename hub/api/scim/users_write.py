"""SCIM Users, write side: create, replace, patch, delete — as the ``scim`` source.

``If-Match`` is optional here (identity providers rarely send it) but honoured: a stale
version gets 412. A client writes only fields its role sees in clear, as in the REST API.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Request
from fastapi.responses import JSONResponse, Response

from hub.api import writes
from hub.api.deps import disclosure
from hub.api.disclosure import Disclosure, business_values
from hub.api.problems import Forbidden, PreconditionFailed
from hub.api.record_writes import parse_if_match
from hub.api.scim import patch, render
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
from hub.context import Hub

router = APIRouter(prefix="/scim/v2", tags=["scim"])
IdPath = Annotated[str, Path(max_length=32, description="The User's id (golden id)")]
IfMatch = Annotated[str | None, Header(max_length=40, description='e.g. W/"3"')]
UserBody = Annotated[dict[str, Any], Body(description="A SCIM User")]
UNIQUE = ("work_email",)  # userName


def _writable(view: Disclosure, fields: Iterable[str]) -> None:
    hidden = sorted(f for f in fields if not view.in_clear(render.ENTITY, f))
    if hidden:
        raise Forbidden(f"field {hidden[0]!r} may not be written by this client")


def _source(caller: Any) -> writes.WriteSource:
    return writes.WriteSource("scim", caller)


def _read(hub: Hub, body: dict[str, Any]) -> Any:
    try:
        return from_scim(lower_keys(body), render.kontor(hub))
    except FilterError as exc:
        raise render.ScimProblem(str(exc), scim_type="invalidValue") from None


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
    got = _read(hub, body)
    if not got.values.get("work_email"):
        raise render.ScimProblem("userName is required", scim_type="invalidValue")
    with hub.engine.connect() as conn:
        values = render.resolve(conn, hub, got, None)
    given = {k: v for k, v in values.items() if v is not None}
    _writable(view, given)
    row = writes.create(hub, render.ENTITY, given, _source(caller), unique=UNIQUE)
    return _answer(request, view, row, 201)


def _replaced_fields(hub: Hub, body: dict[str, Any]) -> set[str]:
    """Fields a PUT replaces: core ones, and an extension's only when its schema is listed."""
    listed = {str(s).lower() for s in body.get("schemas") or [] if isinstance(s, str)}
    fields = set(CORE_FIELDS) | {"termination_date"}
    if ENTERPRISE.lower() in listed:
        fields |= set(ENTERPRISE_FIELDS.values())
    if KONTOR.lower() in listed:
        fields |= set(render.kontor(hub))
    return fields


@router.put("/Users/{user_id}", summary="Replace a User")
def replace_user(user_id: IdPath, body: UserBody, request: Request, caller: ScimCaller,
                 if_match: IfMatch = None) -> JSONResponse:
    hub: Hub = request.app.state.hub
    view = disclosure(request, caller, "scim")
    version = parse_if_match(if_match, required=False)
    got = _read(hub, body)
    if not got.values.get("work_email"):
        raise render.ScimProblem("userName is required", scim_type="invalidValue")
    with hub.engine.connect() as conn:
        current = writes.load(conn, hub.sealer, render.ENTITY, user_id)
        values = render.resolve(conn, hub, got, current)
    given = {k: v for k, v in values.items() if v is not None}
    _writable(view, given)
    # Fields the client may see and left out are cleared; hidden ones stay as they are.
    clear = [f for f in _replaced_fields(hub, body)
             if f not in given and view.in_clear(render.ENTITY, f)]
    if got.active is None:
        clear = [f for f in clear if f != "termination_date"]
    row = writes.update(hub, render.ENTITY, user_id, expected_version=version, values=given,
                        clear=clear, source=_source(caller), unique=UNIQUE)
    return _answer(request, view, row)


@router.patch("/Users/{user_id}", summary="Change a User with PATCH operations")
def patch_user(user_id: IdPath, request: Request, caller: ScimCaller,
               body: Annotated[dict[str, Any], Body(description="A SCIM PatchOp")],
               if_match: IfMatch = None) -> JSONResponse:
    hub: Hub = request.app.state.hub
    view = disclosure(request, caller, "scim")
    version = parse_if_match(if_match, required=False)
    operations = {str(k).lower(): v for k, v in body.items()}.get("operations")
    names = render.kontor(hub)
    with hub.engine.connect() as conn:
        current = writes.load(conn, hub.sealer, render.ENTITY, user_id)
        if version is not None and current["version"] != version:
            raise PreconditionFailed(f"{render.ENTITY} {user_id} is at another version")
        doc = lower_keys(render.internal_user(conn, hub, current, render.base_url(request)))
        try:
            patched, touched = patch.apply(doc, operations, names)
        except patch.PatchError as exc:
            raise render.ScimProblem(str(exc), scim_type=exc.scim_type) from None
        try:
            _writable(view, {f for key in touched for f in fields_of(key, names)})
        except FilterError:
            raise render.ScimProblem("a path names an unknown attribute",
                                     scim_type="invalidPath") from None
        if "emails" in touched and "username" not in touched:
            patched.pop("username", None)  # the work email changed through emails
        got = _read(hub, patched)
        stated = _read(hub, doc)  # what the stored user states; removed attributes clear
        for field in stated.values:
            got.values.setdefault(field, None)
        if stated.manager_given and not got.manager_given:
            got.manager_given, got.manager_id = True, None
        values = render.resolve(conn, hub, got, current)
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
