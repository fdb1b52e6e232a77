"""RFC 9457 problem details: the one place where errors become HTTP responses.

Messages name what is wrong and where, never the submitted values (they may be restricted).
Under /scim/ the same errors are rendered as SCIM errors (RFC 7644 §3.12).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from html import escape

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.errors import HubError
from hub.store.health import cause_of, is_store_failure, store_unavailable

PROBLEM = "application/problem+json"
SCIM_JSON = "application/scim+json"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
log = logging.getLogger(__name__)


class ApiProblem(HubError):
    """An error with its HTTP status; ``detail`` must never contain submitted values."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, *, scim_type: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}


class NotFound(ApiProblem):
    status, title = 404, "Not Found"

    def __init__(self, what: str):
        super().__init__(f"{what} not found")


class Unauthorized(ApiProblem):
    status, title = 401, "Unauthorized"

    def __init__(self, detail: str = "a valid API token is required (Authorization: Bearer)"):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiProblem):
    status, title = 403, "Forbidden"


class Conflict(ApiProblem):
    status, title = 409, "Conflict"


class PreconditionFailed(ApiProblem):
    status, title = 412, "Precondition Failed"


class PreconditionRequired(ApiProblem):
    status, title = 428, "Precondition Required"


class Unavailable(ApiProblem):
    status, title = 503, "Service Unavailable"


def problem(status: int, title: str, detail: str | None = None, **extra: object
            ) -> JSONResponse:
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def scim_error(status: int, detail: str, scim_type: str | None = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, object] = {"schemas": [SCIM_ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return JSONResponse(body, status_code=status, media_type=SCIM_JSON, headers=headers)


def _is_scim(request: Request) -> bool:
    return request.url.path.startswith("/scim/")


def _page(status: int, title: str, detail: str | None) -> Response:
    """Errors of dashboard pages: a plain page; no session means the login page."""
    if status == 401:
        return RedirectResponse("/ui/login", status_code=303)
    body = (f"<!doctype html><meta charset=utf-8><title>{status} {escape(title)}</title>"
            f"<h1>{status} {escape(title)}</h1><p>{escape(detail or '')}</p>"
            '<p><a href="/ui/">Back to the dashboard</a></p>')
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _render(request: Request, status: int, title: str, detail: str | None,
            scim_type: str | None = None, headers: dict[str, str] | None = None,
            **extra: object) -> Response:
    if request.url.path.startswith("/ui/"):
        page = _page(status, title, detail)
        if status != 401:  # that one is a redirect to the login page, not a challenge
            page.headers.update(headers or {})
        return page
    if _is_scim(request):
        return scim_error(status, detail or title, scim_type, headers)
    response = problem(status, title, detail, **extra)
    response.headers.update(headers or {})
    return response


def _allowed(request: Request) -> str:
    """The methods of the resource at this path. Starlette's 405 names only those of the
    first route matching the path; RFC 9110 §10.2.1 wants all of them. Where a fixed path
    and a template both match (``/Users/.search``, ``/Users/{user_id}``), the resource is
    the fixed one: the fewest path parameters."""
    params: dict[str, int] = {}  # method -> path parameters of the route it reaches
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        for route, path in _routes(request.app.router.routes, request.scope["path"]):
            match, child = route.matches({**scope, "path": path})
            if match is Match.FULL:
                params[method] = len(child.get("path_params", {}))
                break
    fewest = min(params.values(), default=0)
    return ", ".join(m for m, n in params.items() if n == fewest)


def _routes(routes: list[BaseRoute], path: str) -> Iterator[tuple[BaseRoute, str]]:
    """Routes in dispatch order, each with the path it sees. FastAPI (>= 0.16x) keeps an
    included router whole; its own ``matches`` does not tell which route matched."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is None:
            yield route, path
            continue
        prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
        if path.startswith(prefix):
            yield from _routes(inner.routes, path[len(prefix):])


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> Response:
        return _render(request, exc.status, exc.title, exc.detail, exc.scim_type, exc.headers)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(request)
        return _render(request, exc.status_code, str(exc.detail), None, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if any(e["type"] == "missing" and tuple(e["loc"]) == ("header", "if-match")
               for e in exc.errors()):
            # RFC 6585: a required precondition left out is 428, not a validation error.
            return _render(request, 428, PreconditionRequired.title,
                           "send If-Match with the record's ETag")
        # Report where and what, not the input (pydantic's "input" key echoes values).
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        if request.url.path.startswith("/ui/"):
            return _page(400, "Invalid request", "a form or link value is not valid")
        if _is_scim(request):
            where = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:5])
            return scim_error(400, f"invalid request: {where}", "invalidValue")
        return problem(422, "Invalid request", "see errors", errors=errors)

    @app.exception_handler(HubError)
    async def _hub(request: Request, exc: HubError) -> Response:
        return _render(request, 400, type(exc).__name__, str(exc))

    app.add_middleware(_CatchAll)


class _CatchAll:
    """Unexpected errors become a bare 500 problem; the log gets the error's type only.

    Starlette's own handler re-raises, so the server would log the message and traceback,
    which may carry values. This middleware ends the error here instead.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def _send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            request = Request(scope)
            if is_store_failure(exc):  # down, read-only or full: try again later
                log.error("%s %s: %s", request.method, request.url.path,
                          store_unavailable(exc))  # type: ignore[arg-type]
                if not started:  # the client learns the cause, not the store's address
                    await _render(request, 503, "Service Unavailable",
                                  f"the master store cannot be used: {cause_of(exc)}",
                                  headers={"Retry-After": "30"})(scope, receive, send)
                return
            log.error("internal error on %s %s: %s", request.method, request.url.path,
                      type(exc).__name__)
            if not started:
                await _render(request, 500, "Internal Server Error",
                              "unexpected error; see the server log")(scope, receive, send)
