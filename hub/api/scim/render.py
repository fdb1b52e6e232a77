"""Golden employees rendered as SCIM Users for one caller, and SCIM input read back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import Connection

from hub.api import payloads
from hub.api.deps import FastJSONResponse
from hub.api.disclosure import Disclosure, business_values
from hub.api.problems import SCIM_JSON, ApiProblem
from hub.api.scim.attributes import SCIM_READ_ONLY_TYPES, ScimInput, kontor_fields, to_scim
from hub.api.scim.filter import FilterError
from hub.api.security import public_base
from hub.context import Hub
from hub.records import jsonable
from hub.store import bulk, goldens
from policies.gate import Action

ENTITY = "employee"


class ScimProblem(ApiProblem):
    """A 400 with its SCIM error type (invalidFilter, invalidValue, ...)."""


def base_url(request: Request) -> str:
    """Absolute, as SCIM wants: the configured ``public_url``, else the listen address;
    never the Host header (hub/api/security.py)."""
    return public_base(request) + "/scim/v2"


def kontor(hub: Hub) -> list[str]:
    return kontor_fields(hub.deployment.fields[ENTITY])


def kontor_read_only(hub: Hub) -> list[str]:
    """Extension fields SCIM only reads (attributes.SCIM_READ_ONLY_TYPES)."""
    specs = hub.deployment.fields[ENTITY]
    return [f for f in kontor(hub) if specs[f].type in SCIM_READ_ONLY_TYPES]


def transformed(view: Disclosure) -> set[str]:
    """Fields the caller sees only transformed (masked, hashed, ...): read-only to it."""
    return {f for f in view.hub.deployment.fields[ENTITY]
            if view.gate.decide(ENTITY, f, view.destination).action
            not in (Action.ALLOW, Action.DENY)}


def scim_response(body: Any, status: int = 200, etag: str | None = None,
                  location: str | None = None) -> JSONResponse:
    headers = {k: v for k, v in (("ETag", etag), ("Location", location)) if v}
    return FastJSONResponse(body, status_code=status, media_type=SCIM_JSON, headers=headers)


def weak_etag(version: int) -> str:
    return f'W/"{version}"'


def manager_ids(conn: Connection, numbers: list[Any]) -> dict[Any, str]:
    """manager number -> golden id, for the managers named on a page of users.

    A manager number is the manager's employee number; a SCIM client may also have stored
    a User id there (a manager without an employee number). Numbers naming nobody the hub
    knows are absent: their Users show the reference as it was given.
    """
    wanted = sorted({n for n in numbers if n is not None}, key=str)
    if not wanted:
        return {}
    found = bulk.fetch_ids_by_field(conn, ENTITY, "employee_number", wanted)
    rest = [n for n in wanted if n not in found and isinstance(n, str) and len(n) <= 32]
    if rest:
        found.update({i: i for i in bulk.fetch_ids_by_field(conn, ENTITY, "id", rest)})
    return found


def users(conn: Connection, view: Disclosure, rows: list[dict[str, Any]], url: str, *,
          plain: bool = True) -> list[dict[str, Any]]:
    """Rows (restricted values already opened) as the caller may see them. ``plain``: as
    JSON types; else dates stay Python values for ``scim_response``, which writes them
    as ``jsonable`` would (a page serialised once, not each User twice more)."""
    released = view.values(ENTITY, [(r["id"], business_values(r)) for r in rows])
    managers = manager_ids(conn, [v.get("manager_number") for v, _ in released])
    names = kontor(view.hub)
    found = [to_scim(row, values, manager_id=managers.get(values.get("manager_number")),
                     base_url=url, kontor=names) for row, (values, _) in zip(rows, released)]
    return [jsonable(u, sort=False) for u in found] if plain else found


def internal_user(conn: Connection, hub: Hub, row: dict[str, Any], url: str) -> dict[str, Any]:
    """The whole stored user, nothing withheld: what PATCH operations apply to."""
    values = business_values(row)
    managers = manager_ids(conn, [values.get("manager_number")])
    user = jsonable(to_scim(row, values, manager_id=managers.get(values.get("manager_number")),
                            base_url=url, kontor=kontor(hub)), sort=False)
    for item in user.get("emails", []) + user.get("phoneNumbers", []):
        item["primary"] = item["type"] == "work"  # paths like emails[primary eq true] match
    return user


def resolve(conn: Connection, hub: Hub, got: ScimInput, current: dict[str, Any] | None
            ) -> dict[str, Any]:
    """Canonical, typed, cleaned values from SCIM input, with ``active`` and ``manager``
    turned into a termination date and a manager's employee number."""
    values = dict(got.values)
    if got.manager_given:
        values["manager_number"] = manager_number(conn, hub, got.manager_id)
    if got.active is not None:
        today = dt.date.today()
        term = (current or {}).get("termination_date")
        if not got.active and (term is None or term > today):
            values["termination_date"] = today
        elif got.active and term is not None and term <= today:
            values["termination_date"] = None
    specs = hub.deployment.fields[ENTITY]
    model = payloads.values_model(ENTITY, specs)
    try:
        typed = model.model_validate(values).model_dump(exclude_unset=True)
    except ValidationError as exc:
        where = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:5])
        raise ScimProblem(f"invalid value for {where}", scim_type="invalidValue") from None
    try:
        given = payloads.clean(specs, {k: v for k, v in typed.items() if v is not None})
    except payloads.InvalidValue as exc:  # RFC 7644 §3.12: invalidValue is a 400
        raise ScimProblem(exc.detail, scim_type="invalidValue") from None
    return {**{k: None for k, v in typed.items() if v is None}, **given}


def manager_number(conn: Connection, hub: Hub, reference: Any) -> Any:
    """What ``manager_number`` keeps for a ``manager.value``: the employee number of the
    User it names (that User's id when it has none), or the reference as given when it
    names no User the hub knows: an identity provider may provision a person before
    their manager, and the link resolves once a User with that employee number exists."""
    if reference in (None, ""):
        return None
    if isinstance(reference, (dict, list, bool)):
        raise ScimProblem("manager.value must be a string", scim_type="invalidValue")
    reference = str(reference)
    found = goldens.read(conn, hub.sealer, ENTITY, [reference]) if len(reference) <= 32 \
        else {}
    if not found:
        return reference
    return next(iter(found.values()))["employee_number"] or reference


def filter_problem(exc: FilterError, scim_type: str = "invalidFilter") -> ScimProblem:
    return ScimProblem(str(exc), scim_type=scim_type)
