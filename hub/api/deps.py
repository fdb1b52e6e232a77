"""Dependencies shared by the API routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection

from hub.context import Hub
from policies.gate import PrivacyGate


def get_hub(request: Request) -> Hub:
    return request.app.state.hub  # type: ignore[no-any-return]


def get_gate(request: Request) -> PrivacyGate:
    return request.app.state.gate  # type: ignore[no-any-return]


def get_conn(hub: Annotated[Hub, Depends(get_hub)]):  # type: ignore[no-untyped-def]
    with hub.engine.connect() as conn:
        yield conn


HubDep = Annotated[Hub, Depends(get_hub)]
GateDep = Annotated[PrivacyGate, Depends(get_gate)]
ConnDep = Annotated[Connection, Depends(get_conn)]
