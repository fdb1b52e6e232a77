"""SCIM discovery endpoints: what this service provider supports and how Users look."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from hub.api.deps import disclosure
from hub.api.problems import NotFound
from hub.api.scim import render, schemas
from hub.api.security import ScimCaller
from hub.auth.tokens import Caller
from policies.gate import Action

router = APIRouter(prefix="/scim/v2", tags=["scim"])
IdPath = Annotated[str, Path(max_length=200)]


def _schemas(request: Request, caller: Caller) -> list[dict[str, object]]:
    """Schemas as this caller may use them: Kontor's extension lists the fields its role
    sees, read-only where it sees them only transformed (it may write only clear ones)."""
    view = disclosure(request, caller, "scim")
    specs = view.hub.deployment.fields[render.ENTITY]
    actions = {n: view.gate.decide(render.ENTITY, n, view.destination).action
               for n in render.kontor(view.hub)}
    shown = {n: specs[n] for n, action in actions.items() if action is not Action.DENY}
    read_only = {n for n in shown if actions[n] is not Action.ALLOW}
    return schemas.schemas(shown, render.base_url(request),
                           read_only=read_only | set(render.kontor_read_only(view.hub)))


@router.get("/ServiceProviderConfig", summary="What this SCIM service provider supports")
def service_provider_config(request: Request, caller: ScimCaller) -> JSONResponse:
    return render.scim_response(schemas.service_provider_config(render.base_url(request)))


@router.get("/ResourceTypes", summary="Resource types (User)")
def resource_types(request: Request, caller: ScimCaller) -> JSONResponse:
    found = schemas.resource_types(render.base_url(request))
    return render.scim_response(schemas.list_response(found, len(found), 1))


@router.get("/ResourceTypes/{type_id}", summary="One resource type")
def resource_type(type_id: IdPath, request: Request, caller: ScimCaller) -> JSONResponse:
    for found in schemas.resource_types(render.base_url(request)):
        if found["id"] == type_id:
            return render.scim_response(found)
    raise NotFound("resource type")


@router.get("/Schemas", summary="Schemas of User and its extensions")
def schema_list(request: Request, caller: ScimCaller) -> JSONResponse:
    found = _schemas(request, caller)
    return render.scim_response(schemas.list_response(found, len(found), 1))


@router.get("/Schemas/{schema_id}", summary="One schema")
def schema(schema_id: IdPath, request: Request, caller: ScimCaller) -> JSONResponse:
    for found in _schemas(request, caller):
        if found["id"] == schema_id:
            return render.scim_response(found)
    raise NotFound("schema")
