"""Golden customers and employees, write side: create, replace (PUT), patch (PATCH).

Updates need ``If-Match`` with the ETag of the version they were based on (428 without,
412 when someone else changed the record first). A caller writes only fields its role sees
in clear: writing a field one cannot read would reveal its value by whether the version
changes.
"""


from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Request
from fastapi.responses import JSONResponse, Response

from hub.api import payloads, writes
from hub.api.deps import disclosure, etag, json_response
from hub.api.disclosure import Disclosure
from hub.api.problems import Forbidden, PreconditionFailed, PreconditionRequired
from hub.api.security import RecordsWriter
from hub.config import Deployment

IdPath = Annotated[str, Path(max_length=32, description="Golden record id, e.g. C-1001")]
IfMatch = Annotated[str | None, Header(max_length=40,
                                       description='ETag of the version you based this on, '
                                                   'e.g. "3"')]


def parse_if_match(value: str | None, *, required: bool) -> int | None:
    """The version an ``If-Match`` names; None for ``*`` or (when optional) no header."""
    if value is None:
        if required:
            raise PreconditionRequired("send If-Match with the record's ETag")
        return None
    text = value.strip()
    if text == "*":
        return None
    text = text.removeprefix("W/").strip('"')
    if not text.isdigit():
        raise PreconditionFailed("If-Match does not name a version of this record")
    return int(text)


def _writable(view: Disclosure, entity: str, fields: list[str]) -> None:
    hidden = [f for f in fields if not view.in_clear(entity, f)]
    if hidden:
        raise Forbidden(f"field {hidden[0]!r} may not be written by this role "
                        "(it cannot read it in clear)", scim_type="mutability")


def _respond(view: Disclosure, entity: str, row: dict[str, Any], status: int = 200,
             location: str | None = None) -> JSONResponse:
    headers = {"ETag": etag(row["version"])}
    if location:
        headers["Location"] = location
    return json_response(view.record(entity, row), status, headers)


def build_router(deployment: Deployment) -> APIRouter:
    """Write routes with request bodies typed from this deployment's fields."""
    router = APIRouter(prefix="/api/v1")
    for entity in ("customer", "employee"):
        _register(router, deployment, entity)
    return router


def _register(router: APIRouter, deployment: Deployment, entity: str) -> None:
    plural = f"{entity}s"
    specs = deployment.fields[entity]
    Values: Any = payloads.values_model(entity, specs)
    ValuesBody = Annotated[Values, Body()]

    def _source(caller: Any) -> writes.WriteSource:
        return writes.WriteSource("api", caller)

    @router.post(f"/{plural}", tags=[plural], status_code=201,
                 summary=f"Create a golden {entity}",
                 responses={409: {"description": "A unique field's value is taken"}})
    def create(body: ValuesBody, request: Request, caller: RecordsWriter) -> JSONResponse:
        given = body.model_dump(exclude_none=True)
        view = disclosure(request, caller)
        _writable(view, entity, list(given))
        row = writes.create(request.app.state.hub, entity, payloads.clean(specs, given),
                            _source(caller))
        return _respond(view, entity, row, 201, f"/api/v1/{plural}/{row['id']}")

    @router.put(f"/{plural}/{{golden_id}}", tags=[plural],
                summary=f"Replace the visible fields of a golden {entity}",
                description="Fields you may see and leave out are cleared; fields your role "
                            "cannot see are left as they are.",
                responses={412: {"description": "Stale If-Match"},
                           428: {"description": "If-Match missing"}})
    def replace(golden_id: IdPath, body: ValuesBody, request: Request,
                caller: RecordsWriter, if_match: IfMatch = None) -> JSONResponse:
        version = parse_if_match(if_match, required=True)
        view = disclosure(request, caller)
        given = body.model_dump(exclude_none=True)
        _writable(view, entity, list(given))
        clear = [f for f in specs if f not in given and view.in_clear(entity, f)]
        row = writes.update(request.app.state.hub, entity, golden_id,
                            expected_version=version, values=payloads.clean(specs, given),
                            clear=clear, source=_source(caller))
        return _respond(view, entity, row)

    @router.patch(f"/{plural}/{{golden_id}}", tags=[plural],
                  summary=f"Change some fields of a golden {entity}",
                  description="JSON merge patch (RFC 7396): fields set to null are cleared.",
                  responses={412: {"description": "Stale If-Match"},
                             428: {"description": "If-Match missing"}})
    def patch(golden_id: IdPath, body: ValuesBody, request: Request, caller: RecordsWriter,
              if_match: IfMatch = None) -> JSONResponse:
        version = parse_if_match(if_match, required=True)
        view = disclosure(request, caller)
        sent = body.model_dump(exclude_unset=True)
        _writable(view, entity, list(sent))
        given = {k: v for k, v in sent.items() if v is not None}
        row = writes.update(request.app.state.hub, entity, golden_id,
                            expected_version=version, values=payloads.clean(specs, given),
                            clear=[k for k, v in sent.items() if v is None],
                            source=_source(caller))
        return _respond(view, entity, row)

    @router.delete(f"/{plural}/{{golden_id}}", tags=[plural], status_code=204,
                   summary=f"Delete a golden {entity}",
                   description="The record and its cross-references go, its restricted "
                               "values are crypto-shredded, and every target that received "
                               "it deletes, deactivates or keeps it (its `on_golden_delete`).",
                   responses={412: {"description": "Stale If-Match"},
                              428: {"description": "If-Match missing"}})
    def remove(golden_id: IdPath, request: Request, caller: RecordsWriter,
               if_match: IfMatch = None) -> Response:
        version = parse_if_match(if_match, required=True)
        writes.remove(request.app.state.hub, entity, golden_id, expected_version=version,
                      source=_source(caller))
        return Response(status_code=204)

    _ = (create, replace, patch, remove)
