"""RFC 9457 problem details: the one place where errors become HTTP responses.

Messages name what is wrong and where, never the submitted values (they may be restricted).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hub.errors import HubError

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str | None = None, **extra: object
            ) -> JSONResponse:
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


class NotFound(HubError):
    def __init__(self, what: str):
        super().__init__(f"{what} not found")


def install(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return problem(404, "Not Found", str(exc))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Report where and what, not the input (pydantic's "input" key echoes values).
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return problem(422, "Invalid request", "see errors", errors=errors)

    @app.exception_handler(HubError)
    async def _hub(_: Request, exc: HubError) -> JSONResponse:
        return problem(400, type(exc).__name__, str(exc))
