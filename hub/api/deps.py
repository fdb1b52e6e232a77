"""Dependencies and small helpers shared by the API routes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator
from sqlalchemy import Connection

from hub.api.disclosure import Disclosure
from hub.auth.tokens import Caller
from hub.context import Hub
from hub.records import json_default
from policies.gate import PrivacyGate


# async: trivial dependencies would otherwise each take a trip through the thread pool.
async def get_hub(request: Request) -> Hub:
    return request.app.state.hub  # type: ignore[no-any-return]


async def get_gate(request: Request) -> PrivacyGate:
    return request.app.state.gate  # type: ignore[no-any-return]


def get_conn(hub: Annotated[Hub, Depends(get_hub)]) -> Iterator[Connection]:
    with hub.engine.connect() as conn:
        yield conn


HubDep = Annotated[Hub, Depends(get_hub)]
GateDep = Annotated[PrivacyGate, Depends(get_gate)]
ConnDep = Annotated[Connection, Depends(get_conn)]


def disclosure(request: Request, caller: Caller, channel: str = "api") -> Disclosure:
    """The caller's view of golden records, through the app's privacy gate."""
    return Disclosure(request.app.state.hub, request.app.state.gate, caller, channel)


# RFC 3339 (OpenAPI's "date-time"): seconds and an offset. Pydantic alone would also take
# numbers (as Unix time), dates, and times without a zone, which the document does not allow.
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                      r"([Zz]|[+-][0-9]{2}:[0-9]{2})")


def _rfc3339(value: object) -> object:
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        return value
    raise ValueError("expected a date-time with its offset, e.g. 2026-01-31T08:00:00Z")


Instant = Annotated[dt.datetime, BeforeValidator(_rfc3339)]


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A query's date-time in UTC when it names no zone (the store compares aware ones)."""
    return value.replace(tzinfo=dt.UTC) if value and value.tzinfo is None else value


def etag(version: int) -> str:
    return f'"{version}"'


class FastJSONResponse(JSONResponse):
    """JSON by orjson (compact UTF-8, as Starlette's ``JSONResponse`` writes it, several
    times faster); dates and decimals as ``hub.records.jsonable`` writes them."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=json_default)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None,
                  media_type: str | None = None) -> JSONResponse:
    """A ready response: skips FastAPI's second encoding pass of already-plain data."""
    return FastJSONResponse(body, status_code=status, headers=headers, media_type=media_type)
