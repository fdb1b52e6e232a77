"""Dashboard sessions: log in with an API token, kept in an HttpOnly, SameSite=Strict cookie.

Forms carry a CSRF token (double submit before login, derived from the session token
after), and POSTs from another origin are refused. The page rights are the token's role.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from hub.api.problems import Forbidden, Unauthorized
from hub.auth import tokens
from hub.auth.roles import Permission, allows
from hub.auth.tokens import Caller

SESSION_COOKIE = "kontor_session"
LOGIN_CSRF_COOKIE = "kontor_login_csrf"
COOKIE_PATH = "/ui"


class LoginRequired(Unauthorized):
    """No valid session: the dashboard sends the browser to the login page."""


def csrf_for(session_token: str) -> str:
    """The CSRF token of a session: derived, so nothing more needs storing."""
    return hmac.new(session_token.encode(), b"kontor-csrf", hashlib.sha256).hexdigest()[:32]


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def same_origin(request: Request) -> bool:
    """A POST's Origin (when the browser sends one) must be this server."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin.rstrip("/") == str(request.base_url).rstrip("/")


def check_form(request: Request, sent: str | None, expected: str | None) -> None:
    if not same_origin(request):
        raise Forbidden("form posted from another origin")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden("form expired or forged: reload the page and try again")


async def page_caller(request: Request) -> Caller:
    token = request.cookies.get(SESSION_COOKIE)
    caller = tokens.trusted(token) if token else None
    if caller is None and token:
        caller = await run_in_threadpool(tokens.authenticate, request.app.state.hub.engine,
                                         token)
    if caller is None or not allows(caller.role, Permission.DASHBOARD):
        raise LoginRequired("log in with an API token")
    request.state.caller = caller
    return caller


def require_page(permission: Permission) -> Callable[..., Awaitable[Caller]]:
    """A dependency for pages: log-in required, and the role must have ``permission``."""

    async def _check(caller: Annotated[Caller, Depends(page_caller)]) -> Caller:
        if not allows(caller.role, permission):
            raise Forbidden(f"role {caller.role.value!r} lacks permission {permission.value!r}")
        return caller

    return _check


P = Permission
Dashboard = Annotated[Caller, Depends(page_caller)]
OperationsPage = Annotated[Caller, Depends(require_page(P.OPERATIONS_READ))]
RecordsPage = Annotated[Caller, Depends(require_page(P.RECORDS_READ))]
QuarantinePage = Annotated[Caller, Depends(require_page(P.QUARANTINE_READ))]
ReviewPage = Annotated[Caller, Depends(require_page(P.REVIEW))]
AuditPage = Annotated[Caller, Depends(require_page(P.AUDIT_READ))]
ReportsPage = Annotated[Caller, Depends(require_page(P.REPORTS_READ))]
