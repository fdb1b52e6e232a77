"""Render a dashboard page: templates, navigation for the role, security headers."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from hub.auth.roles import Permission, allows
from hub.auth.tokens import Caller
from hub.web.session import csrf_for

TEMPLATES = Jinja2Templates(env=Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True)))
NAV = [("Overview", "/ui/overview", Permission.OPERATIONS_READ),
       ("Records", "/ui/records", Permission.RECORDS_READ),
       ("Quarantine", "/ui/quarantine", Permission.QUARANTINE_READ),
       ("Review queue", "/ui/review", Permission.REVIEW),
       ("Reports", "/ui/reports", Permission.REPORTS_READ)]


def nav_for(caller: Caller, path: str) -> list[dict[str, Any]]:
    return [{"label": label, "href": href, "current": path.startswith(href)}
            for label, href, permission in NAV if allows(caller.role, permission)]


def first_page(caller: Caller) -> str:
    items = nav_for(caller, "")
    return items[0]["href"] if items else "/ui/login"


def secure(response: HTMLResponse, nonce: str) -> HTMLResponse:
    # Pages carry personal data: never cached; scripts and styles only with this nonce.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"  # "no-referrer" makes Origin null
    return response


def page(request: Request, template: str, caller: Caller | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    session = getattr(request.state, "session_id", None)  # set once the session was found
    response = TEMPLATES.TemplateResponse(request, template, {
        "caller": caller, "nav": nav_for(caller, request.url.path) if caller else [],
        "csrf": csrf_for(session) if session else "", "nonce": nonce, **context},
        status_code=status)
    return secure(response, nonce)
