"""SCIM discovery endpoints: what this service provider supports and how Users look."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from hub.api.problems import NotFound
from hub.api.scim import render, schemas
from hub.api.security import ScimCaller

router = APIRouter(prefix="/scim/v2", tags=["scim"])
IdPath = Annotated[str, Path(max_length=200)]


def _schemas(request: Request) -> list[dict[str, object]]:
    specs = request.app.state.hub.deployment.fields[render.ENTITY]
    names = render.kontor(request.app.state.hub)
    return schemas.schemas({n: specs[n] for n in names}, render.base_url(request))


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
    found = _schemas(request)
    return render.scim_response(schemas.list_response(found, len(found), 1))


@router.get("/Schemas/{schema_id}", summary="One schema")
def schema(schema_id: IdPath, request: Request, caller: ScimCaller) -> JSONResponse:
    for found in _schemas(request):
        if found["id"] == schema_id:
            return render.scim_response(found)
    raise NotFound("schema")
