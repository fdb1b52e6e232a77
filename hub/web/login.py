"""Log in and out of the dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.auth import tokens
from hub.auth.roles import Permission, allows
from hub.web import render
from hub.web.session import (
    COOKIE_PATH,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Dashboard,
    check_form,
    csrf_for,
    new_login_csrf,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
FormText = Annotated[str, Form(max_length=200)]


def _login_page(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    csrf = new_login_csrf()
    response = render.page(request, "login.html", None, status, error=error, login_csrf=csrf)
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=COOKIE_PATH)
    return response


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login")
def login(request: Request, token: FormText, csrf: FormText) -> Response:
    check_form(request, csrf, request.cookies.get(LOGIN_CSRF_COOKIE))
    caller = tokens.authenticate(request.app.state.hub.engine, token.strip())
    if caller is None:
        return _login_page(request, "That token is unknown, expired or revoked.", 401)
    if not allows(caller.role, Permission.DASHBOARD):
        return _login_page(request, f"Role {caller.role.value!r} cannot use the dashboard.", 403)
    response = RedirectResponse(render.first_page(caller), status_code=303)
    # The cookie holds the token itself: HttpOnly (no script reads it), SameSite=Strict
    # (no other site sends it), and Secure whenever the dashboard is served over HTTPS.
    response.set_cookie(SESSION_COOKIE, token.strip(), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=COOKIE_PATH)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/logout")
def logout(request: Request, caller: Dashboard, csrf: FormText) -> Response:
    check_form(request, csrf, csrf_for(request.cookies.get(SESSION_COOKIE, "")))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/")
def home(caller: Dashboard) -> Response:
    return RedirectResponse(render.first_page(caller), status_code=303)
