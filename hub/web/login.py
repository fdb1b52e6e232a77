"""Log in and out of the dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.api.security import public_is_https
from hub.auth import sessions, tokens
from hub.auth.roles import Permission, allows
from hub.web import render
from hub.web.session import (
    COOKIE_PATH,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Dashboard,
    check_form,
    check_session_form,
    login_csrf_for,
    new_login_csrf,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
FormText = Annotated[str, Form(max_length=200)]


def _login_page(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    nonce, csrf = new_login_csrf()
    response = render.page(request, "login.html", None, status, error=error, login_csrf=csrf)
    response.set_cookie(LOGIN_CSRF_COOKIE, nonce, httponly=True, samesite="strict",
                        secure=_secure(request), path=COOKIE_PATH)
    return response


def _secure(request: Request) -> bool:
    """Cookies are Secure whenever the hub is reached over HTTPS."""
    return public_is_https(request) or request.url.scheme == "https"


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login")
def login(request: Request, token: FormText, csrf: FormText) -> Response:
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE)
    check_form(request, csrf, login_csrf_for(nonce) if nonce else None)
    caller = tokens.authenticate(request.app.state.hub.engine, token.strip())
    if caller is None:
        return _login_page(request, "That token is unknown, expired or revoked.", 401)
    if not allows(caller.role, Permission.DASHBOARD):
        return _login_page(request, f"Role {caller.role.value!r} cannot use the dashboard.", 403)
    session_id = sessions.open_session(request.app.state.hub.engine, caller.token_id)
    response = RedirectResponse(render.first_page(caller), status_code=303)
    # The cookie holds only the session id, never the token: HttpOnly (no script reads it),
    # SameSite=Strict (no other site sends it), Secure whenever the hub is on HTTPS.
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict",
                        secure=_secure(request), path=COOKIE_PATH)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/logout")
def logout(request: Request, caller: Dashboard, csrf: FormText) -> Response:
    check_session_form(request, csrf)
    sessions.end(request.app.state.hub.engine, request.state.session_id)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/")
def home(caller: Dashboard) -> Response:
    return RedirectResponse(render.first_page(caller), status_code=303)
