"""What the OpenAPI document says about errors: which statuses a route answers, and how.

REST routes list their error statuses with the presets here: routers that need a token
take ``AUTHENTICATED`` (401, 403), a route adds ``problems(404, 409, ...)``. Each is an RFC
9457 problem, ``application/problem+json`` with the ``ProblemDetails`` schema, as
``hub/api/problems.py`` renders it.

``install`` completes the document where FastAPI cannot say it itself:

- FastAPI documents its request validation (422) as ``application/json``; ours is a
  problem, with ``errors`` naming where. A body that is not even text (not UTF-8) gets
  FastAPI's 400, on every route that takes one.
- Under /scim/ every body is ``application/scim+json`` (RFC 7644 §3.1; a request body
  may also be ``application/json``); errors are SCIM errors (§3.12) and an invalid
  request is a 400, not a 422. The statuses a SCIM route answers follow from what it
  takes: any route 401 and 403, an id 404, a body or parameters 400, a write (not a POST
  /.search) 409 (userName taken), an If-Match 412. Request bodies are the models of
  ``hub/api/scim/bodies.py`` as this deployment has them (its Kontor extension), and a
  PATCH body, which the server checks operation by operation, is its ``ScimPatchOp``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from hub.api.problems import PROBLEM, SCIM_JSON
from hub.api.scim import bodies
from hub.api.scim.attributes import kontor_fields

SCHEMAS = "#/components/schemas/"
_DESCRIPTIONS = {
    400: "The request cannot be carried out as asked",
    401: "No valid API token: send `Authorization: Bearer <token>`",
    403: "The token's role lacks the permission, or the request touches a field the role "
         "may not see in clear",
    404: "Not found",
    409: "Conflict with the current state",
    412: "`If-Match` names another version: someone changed the record first",
    422: "Invalid request: `errors` says where",
    428: "`If-Match` is missing: send the record's `ETag`",
    503: "The store cannot be reached",
}
_SCIM_400 = ("Invalid request (RFC 7644 §3.12): `scimType` says how (invalidFilter, "
             "invalidValue, invalidSyntax, invalidPath, noTarget, mutability); `detail` "
             "names where, never a value")


class InvalidField(BaseModel):
    """Where a request is invalid and why; never the submitted value."""

    loc: list[str | int] = Field(description='Where, e.g. ["body", "email"] or '
                                             '["query", "limit"]')
    msg: str


class ProblemDetails(BaseModel):
    """An error (RFC 9457). ``detail`` names what is wrong and where, never a value."""

    type: str = "about:blank"
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    errors: list[InvalidField] | None = Field(
        default=None, description="Request validation (422): each invalid part")


class ScimError(BaseModel):
    """A SCIM error response (RFC 7644 §3.12)."""

    schemas: list[str]
    status: str = Field(description="The HTTP status, as a string")
    detail: str | None = None
    scimType: str | None = Field(default=None, description="e.g. invalidFilter, "
                                 "invalidValue, uniqueness, mutability")


def _error(status: int, description: str | None, media_type: str, schema: str
           ) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or _DESCRIPTIONS[status],
        "content": {media_type: {"schema": {"$ref": SCHEMAS + schema}}}}
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {
            "description": "`Bearer`", "schema": {"type": "string"}}}
    return response


def problems(*statuses: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """Problem responses for ``responses=``: a status, or (status, what it means here)."""
    out: dict[int | str, dict[str, Any]] = {}
    for item in statuses:
        status, description = item if isinstance(item, tuple) else (item, None)
        out[status] = _error(status, description, PROBLEM, "ProblemDetails")
    return out


def headers(**described: str) -> dict[str, Any]:
    """Response headers for a success response: name (``_`` for ``-``) -> description."""
    return {"headers": {name.replace("_", "-"): {"description": text,
                                                 "schema": {"type": "string"}}
                        for name, text in described.items()}}


_UNREADABLE = "The body cannot be read (it is not UTF-8)"
AUTHENTICATED = problems(401, 403)
NOT_FOUND = problems(404)
ETAG = "The record's version, to send back as `If-Match`"


# -- completing the generated document ----------------------------------------------------

def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first request)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            specs = app.state.hub.deployment.fields["employee"]
            complete(generate(), bodies.documented(specs, kontor_fields(specs)))
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = document  # type: ignore[method-assign]


_STORE_DOWN = ("The master store cannot be used (down, read-only or full): try again after "
               "Retry-After")


def complete(doc: dict[str, Any], scim: dict[str, Any] | None = None) -> None:
    """``scim``: component schemas of the SCIM bodies (``bodies.documented``)."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (ProblemDetails, ScimError):
        found = model.model_json_schema(ref_template=SCHEMAS + "{model}")
        schemas.update(found.pop("$defs", {}))
        schemas[model.__name__] = found
    schemas.update(scim or {})
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            scim_route = path.startswith("/scim/")
            (_scim if scim_route else _rest)(path, method, operation)
            # Any route that reads the store answers 503 while it is down (problems.py).
            operation["responses"].setdefault("503", _error(
                503, _STORE_DOWN, SCIM_JSON if scim_route else PROBLEM,
                "ScimError" if scim_route else "ProblemDetails"))
            operation["responses"] = dict(sorted(operation["responses"].items()))
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)  # FastAPI's 422 body, which this API never sends


def _rest(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    fastapi_422 = {"$ref": SCHEMAS + "HTTPValidationError"}
    if responses.get("422", {}).get("content", {}).get("application/json", {}).get(
            "schema") == fastapi_422:
        responses["422"] = _error(422, None, PROBLEM, "ProblemDetails")
    if "requestBody" in operation:
        responses.setdefault("400", _error(400, _UNREADABLE, PROBLEM, "ProblemDetails"))


def _scim(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    for response in responses.values():
        content = response.get("content", {})
        if "application/json" in content:
            content[SCIM_JSON] = content.pop("application/json")
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        if method == "patch":  # the server checks it itself: see bodies.documented
            body["application/json"]["schema"] = {"$ref": SCHEMAS + "ScimPatchOp"}
        body[SCIM_JSON] = body["application/json"]
        operation["requestBody"]["content"] = {SCIM_JSON: body[SCIM_JSON],
                                               "application/json": body["application/json"]}
    responses.pop("422", None)  # SCIM answers an invalid request 400 (hub/api/problems.py)
    params = operation.get("parameters", [])
    statuses = [401, 403]
    if params or "requestBody" in operation:
        statuses.append(400)
    if any(p["in"] == "path" for p in params):
        statuses.append(404)
    if method in ("post", "put", "patch") and not path.endswith("/.search"):
        statuses.append(409)
    if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in params):
        statuses.append(412)
    for status in statuses:
        given = responses.get(str(status), {}).get("description")
        if status == 400 and given in (None, "Bad Request"):
            given = _SCIM_400
        responses.setdefault(str(status), {}).update(
            _error(status, given, SCIM_JSON, "ScimError"))
