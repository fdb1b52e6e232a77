"""Golden customers and employees, write side: create, replace (PUT), patch (PATCH).

Updates need ``If-Match`` with the ETag of the version they were based on (428 without,
412 when someone else changed the record first). A caller writes only fields its role sees
in clear: writing a field one cannot read would reveal its value by whether the version
changes. A create or a replacement is a whole record: it must name whom it is about
(``payloads.record_model``), or it gets a 422 and nothing is written.
"""


from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Request
from fastapi.responses import JSONResponse, Response

from hub.api import payloads, writes
from hub.api.deps import disclosure, etag, json_response
from hub.api.disclosure import Disclosure
from hub.api.openapi import AUTHENTICATED, ETAG, NOT_FOUND, headers, problems
from hub.api.problems import Forbidden, PreconditionFailed, PreconditionRequired
from hub.api.security import RecordsWriter
from hub.config import Deployment

IdPath = Annotated[str, Path(max_length=32, description="Golden record id, e.g. C-1001")]
# An entity tag (RFC 9110 §8.8.3) as this API issues them ("3"; W/"3" from SCIM), or *.
ETAG_PATTERN = r'^(\*|(W/)?"[0-9]{1,18}")$'
# Required, but a missing one is answered 428, not 422 (hub/api/problems.py).
IfMatch = Annotated[str, Header(max_length=40, pattern=ETAG_PATTERN,
                                description='ETag of the version you based this on, '
                                            'e.g. "3"')]
_UNIQUE = problems((409, "Another record already has this unique value (e.g. the email)"))
_PRECONDITIONS = problems(412, 428)


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
    router = APIRouter(prefix="/api/v1", responses=AUTHENTICATED)
    for entity in ("customer", "employee"):
        _register(router, deployment, entity)
    return router


def _register(router: APIRouter, deployment: Deployment, entity: str) -> None:
    plural = f"{entity}s"
    specs = deployment.fields[entity]
    Values: Any = payloads.values_model(entity, specs)
    ValuesBody = Annotated[Values, Body()]
    Record: Any = payloads.record_model(entity, specs)
    RecordBody = Annotated[Record, Body()]

    def _source(caller: Any) -> writes.WriteSource:
        return writes.WriteSource("api", caller)

    @router.post(f"/{plural}", tags=[plural], status_code=201,
                 summary=f"Create a golden {entity}",
                 responses={201: headers(ETag=ETAG, Location="The new record's URL"),
                            **_UNIQUE})
    def create(body: RecordBody, request: Request, caller: RecordsWriter) -> JSONResponse:
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
                responses={200: headers(ETag=ETAG), **NOT_FOUND, **_UNIQUE,
                           **_PRECONDITIONS})
    def replace(golden_id: IdPath, body: RecordBody, request: Request,
                caller: RecordsWriter, if_match: IfMatch) -> JSONResponse:
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
                  responses={200: headers(ETag=ETAG), **NOT_FOUND, **_UNIQUE,
                             **_PRECONDITIONS})
    def patch(golden_id: IdPath, body: ValuesBody, request: Request, caller: RecordsWriter,
              if_match: IfMatch) -> JSONResponse:
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
                   responses={**NOT_FOUND, **_PRECONDITIONS})
    def remove(golden_id: IdPath, request: Request, caller: RecordsWriter,
               if_match: IfMatch) -> Response:
        version = parse_if_match(if_match, required=True)
        writes.remove(request.app.state.hub, entity, golden_id, expected_version=version,
                      source=_source(caller))
        return Response(status_code=204)

    _ = (create, replace, patch, remove)
