"""Who is calling: bearer tokens, and the permission each route needs.

Every route outside /health and the docs depends on ``require(permission)``; the matrix
test walks ``app.routes`` to prove it, role by role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.api.problems import Forbidden, Unauthorized
from hub.auth import tokens
from hub.auth.roles import Permission, allows
from hub.auth.tokens import Caller

# auto_error=False: a missing header becomes our 401 problem, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="An API token from `kontor tokens create`")


async def authenticate(request: Request, token: str | None) -> Caller:
    """The caller behind ``token``; the store is asked (off the event loop) at most once a
    second per token."""
    caller = tokens.trusted(token) if token else None
    if caller is None and token:
        caller = await run_in_threadpool(tokens.authenticate, request.app.state.hub.engine,
                                         token)
    if caller is None:
        raise Unauthorized()
    request.state.caller = caller
    return caller


async def bearer_caller(request: Request,
                        credentials: Annotated[HTTPAuthorizationCredentials | None,
                                               Depends(_bearer)]) -> Caller:
    return await authenticate(request, credentials.credentials if credentials else None)


def require(permission: Permission) -> Callable[..., Awaitable[Caller]]:
    """A dependency that lets only callers whose role has ``permission`` through."""

    async def _check(caller: Annotated[Caller, Depends(bearer_caller)]) -> Caller:
        if not allows(caller.role, permission):
            raise Forbidden(f"role {caller.role.value!r} lacks permission {permission.value!r}")
        return caller

    return _check


P = Permission
RecordsReader = Annotated[Caller, Depends(require(P.RECORDS_READ))]
RecordsWriter = Annotated[Caller, Depends(require(P.RECORDS_WRITE))]
OperationsReader = Annotated[Caller, Depends(require(P.OPERATIONS_READ))]
QuarantineReader = Annotated[Caller, Depends(require(P.QUARANTINE_READ))]
PolicySimulator = Annotated[Caller, Depends(require(P.POLICY_SIMULATE))]
OutboxManager = Annotated[Caller, Depends(require(P.OUTBOX_MANAGE))]
Reviewer = Annotated[Caller, Depends(require(P.REVIEW))]
AuditReader = Annotated[Caller, Depends(require(P.AUDIT_READ))]
ReportsReader = Annotated[Caller, Depends(require(P.REPORTS_READ))]
ScimCaller = Annotated[Caller, Depends(require(P.SCIM))]


_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def _server_address(request: Request) -> tuple[str, str, int | None]:
    """Scheme, host and port of the socket this request reached (the ASGI ``server``),
    which the client cannot choose, unlike the Host header."""
    server = request.scope.get("server")
    host, port = (str(server[0]), server[1]) if server else ("127.0.0.1", None)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6
    return request.scope.get("scheme", "http"), host, port


def public_base(request: Request) -> str:
    """The hub's absolute base URL, without a trailing slash: the configured ``public_url``,
    else the address the server listens on. Never the request's Host header."""
    configured = request.app.state.hub.deployment.config.public_url
    if configured:
        return str(configured).rstrip("/")
    scheme, host, port = _server_address(request)
    return f"{scheme}://{host}{_port_suffix(scheme, port)}"


def _port_suffix(scheme: str, port: int | None) -> str:
    return f":{port}" if port and port != {"http": 80, "https": 443}.get(scheme) else ""


def trusted_origins(request: Request) -> set[str]:
    """The origins the dashboard accepts forms from: the ``public_url``'s, else the listen
    address's (on a loopback address, also as ``localhost``, ``127.0.0.1`` and ``[::1]``)."""
    base = public_base(request)
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if request.app.state.hub.deployment.config.public_url:
        return {origin}
    scheme, host, port = _server_address(request)
    if host not in _LOOPBACK:
        return {origin}
    return {origin} | {f"{scheme}://{alias}{_port_suffix(scheme, port)}" for alias in _LOOPBACK}


def public_is_https(request: Request) -> bool:
    return public_base(request).startswith("https://")
