"""Dashboard sessions: log in with an API token, get a server-side session.

The cookie holds only a random session id (HttpOnly, SameSite=Strict, Secure when the hub
is reached over HTTPS); the store keeps its hash, its idle and absolute expiry, and ends it
at logout or when the token is revoked (hub/auth/sessions.py). The page rights are the
token's role.

Every POST must come from the hub's own origin (its Origin header, else its Referer: one of
them is required; see ``hub.api.security.trusted_origins``) and carry a CSRF token bound to
something the attacker cannot choose: after login an HMAC of the session id (whose row must
exist), before login an HMAC, under a key only this process knows, of a nonce in a cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from hub.api.problems import Forbidden, Unauthorized
from hub.api.security import trusted_origins
from hub.auth import sessions
from hub.auth.roles import Permission, allows
from hub.auth.tokens import Caller

SESSION_COOKIE = "kontor_session"
LOGIN_CSRF_COOKIE = "kontor_login_csrf"
COOKIE_PATH = "/ui"
# Signs the login form's CSRF token: a cookie and a form field the attacker sets to the same
# value do not pass. Per process: a restart expires open login forms (reload the page).
_LOGIN_KEY = secrets.token_bytes(32)


class LoginRequired(Unauthorized):
    """No valid session: the dashboard sends the browser to the login page."""


def csrf_for(session_id: str) -> str:
    """The CSRF token of a session: derived from its id, so nothing more needs storing."""
    return hmac.new(session_id.encode(), b"kontor-csrf", hashlib.sha256).hexdigest()[:32]


def new_login_csrf() -> tuple[str, str]:
    """A login form's (cookie nonce, form token)."""
    nonce = secrets.token_urlsafe(24)
    return nonce, login_csrf_for(nonce)


def login_csrf_for(nonce: str) -> str:
    return hmac.new(_LOGIN_KEY, nonce.encode(), hashlib.sha256).hexdigest()[:32]


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc \
        else None


def same_origin(request: Request) -> bool:
    """A state-changing request must name where it comes from, and that must be this hub:
    the Origin header, else the Referer's origin. Neither (or "null") is refused."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        referer = request.headers.get("referer")
        origin = _origin_of(referer) if referer else None
    return origin is not None and origin.rstrip("/").lower() in trusted_origins(request)


def check_form(request: Request, sent: str | None, expected: str | None) -> None:
    if not same_origin(request):
        raise Forbidden("form not posted from this hub's own address (no matching Origin or "
                        "Referer): open the dashboard at its public_url, or set public_url "
                        "in kontor.yaml to the address you use")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden("form expired or forged: reload the page and try again")


def check_session_form(request: Request, sent: str | None) -> None:
    """A logged-in form: same origin, and the CSRF token of this request's session (which
    ``page_caller`` has already found in the store)."""
    session_id = getattr(request.state, "session_id", None)
    check_form(request, sent, csrf_for(session_id) if session_id else None)


async def page_caller(request: Request) -> Caller:
    session_id = request.cookies.get(SESSION_COOKIE)
    caller = await run_in_threadpool(sessions.caller, request.app.state.hub.engine,
                                     session_id) if session_id else None
    if caller is None or not allows(caller.role, Permission.DASHBOARD):
        raise LoginRequired("log in with an API token")
    request.state.caller = caller
    request.state.session_id = session_id
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
