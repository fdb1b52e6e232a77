"""Every endpoint × every role: allowed or refused, exactly as the matrix below says.

The routes come from ``app.routes``; a new endpoint without a row here fails the test, so
nobody can add one without deciding who may call it. The expectations are written out
by hand, not derived from ``hub.auth.roles``, so a wrong grant there fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from hub.api.app import PUBLIC_PATHS
from hub.auth import sessions, tokens
from hub.auth.roles import Role
from hub.web.session import SESSION_COOKIE, csrf_for
from tests.api.kit import Served

A, S, U, O, R, Y = (Role.ADMIN, Role.STEWARD, Role.AUDITOR, Role.OPERATOR, Role.READER,
                    Role.SYSTEM)
READ = {A, S, U, R, Y}
WRITE = {A, S, Y}
OPS = {A, S, U, O}
SCIM = {A, Y}
PUBLIC: set[Role] = set(Role)  # reachable without any token

EXPECTED: dict[tuple[str, str], set[Role]] = {
    ("GET", "/health"): PUBLIC, ("GET", "/openapi.json"): PUBLIC, ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC, ("GET", "/redoc"): PUBLIC,
    ("GET", "/api/v1/systems"): OPS, ("GET", "/api/v1/runs"): OPS,
    ("GET", "/metrics"): OPS,
    ("GET", "/api/v1/runs/{run_id}"): OPS, ("GET", "/api/v1/quarantine"): {A, S, O},
    ("GET", "/api/v1/policy/simulate"): {A, S, U},
    ("GET", "/api/v1/review"): {A, S}, ("POST", "/api/v1/review/{pair_id}"): {A, S},
    ("GET", "/api/v1/outbox"): OPS, ("POST", "/api/v1/outbox/retry"): {A, O},
    ("GET", "/api/v1/audit/trace"): {A, U}, ("GET", "/api/v1/audit/search"): {A, U},
    ("GET", "/api/v1/audit/verify"): {A, U},
    ("GET", "/api/v1/reports/quality"): OPS, ("GET", "/api/v1/reports/transfers"): OPS,
    ("GET", "/api/v1/reports/processing"): OPS,
    ("GET", "/scim/v2/ServiceProviderConfig"): SCIM, ("GET", "/scim/v2/ResourceTypes"): SCIM,
    ("GET", "/scim/v2/ResourceTypes/{type_id}"): SCIM, ("GET", "/scim/v2/Schemas"): SCIM,
    ("GET", "/scim/v2/Schemas/{schema_id}"): SCIM, ("GET", "/scim/v2/Users"): SCIM,
    ("POST", "/scim/v2/Users"): SCIM, ("GET", "/scim/v2/Users/{user_id}"): SCIM,
    ("PUT", "/scim/v2/Users/{user_id}"): SCIM, ("PATCH", "/scim/v2/Users/{user_id}"): SCIM,
    ("DELETE", "/scim/v2/Users/{user_id}"): SCIM,
    ("POST", "/scim/v2/Users/.search"): SCIM, ("POST", "/scim/v2/.search"): SCIM,
    # Dashboard pages (session cookie). The system role cannot log in at all.
    ("GET", "/ui/login"): PUBLIC, ("POST", "/ui/login"): PUBLIC,
    ("GET", "/ui/"): {A, S, U, O, R}, ("POST", "/ui/logout"): {A, S, U, O, R},
    ("GET", "/ui/overview"): OPS, ("GET", "/ui/records"): {A, S, U, R},
    ("GET", "/ui/records/{entity}/{golden_id}"): {A, S, U, R},
    ("GET", "/ui/records/{entity}/{golden_id}/trace"): {A, U},
    ("GET", "/ui/quarantine"): {A, S, O}, ("GET", "/ui/review"): {A, S},
    ("POST", "/ui/review/{pair_id}"): {A, S},
    ("GET", "/ui/reports"): OPS,
}
for _plural in ("customers", "employees"):
    for _suffix in ("", "/{golden_id}", "/{golden_id}/provenance", "/{golden_id}/history",
                    "/{golden_id}/xrefs"):
        EXPECTED[("GET", f"/api/v1/{_plural}{_suffix}")] = READ
    EXPECTED[("POST", f"/api/v1/{_plural}")] = WRITE
    EXPECTED[("PUT", f"/api/v1/{_plural}/{{golden_id}}")] = WRITE
    EXPECTED[("PATCH", f"/api/v1/{_plural}/{{golden_id}}")] = WRITE
    EXPECTED[("DELETE", f"/api/v1/{_plural}/{{golden_id}}")] = WRITE

# Values for path parameters; writes aim at records that do not exist or send bodies that
# fail validation, so an allowed call changes nothing.
_PARAMS = {"run_id": "1", "type_id": "User", "entity": "customer", "pair_id": "999999",
           "schema_id": "urn:ietf:params:scim:schemas:core:2.0:User"}
_QUERY = {"/api/v1/policy/simulate": {"system": "api:reader", "entity": "customer",
                                      "id": "C-1001"},
          "/api/v1/audit/trace": {"entity": "customer", "id": "C-1001"}}


def _walk(routes: list[Any], prefix: str = "") -> list[tuple[str, str]]:
    found = []
    for route in routes:
        if isinstance(route, APIRoute | Route):
            found += [(m, prefix + route.path) for m in sorted(route.methods or ())
                      if m != "HEAD"]
        elif hasattr(route, "original_router"):  # FastAPI >= 0.16x includes routers lazily
            context = getattr(route, "include_context", None)
            found += _walk(route.original_router.routes,
                           prefix + getattr(context, "prefix", ""))
    return found


def _routes(served: Served) -> list[tuple[str, str]]:
    return _walk(list(served.app.routes))


def _url(method: str, path: str) -> str:
    golden = "E-1001" if "employees" in path else "C-1001"
    if path.startswith("/scim/") and method != "GET":
        golden = "E-999999"
    for name, value in {**_PARAMS, "golden_id": golden, "user_id": golden}.items():
        path = path.replace(f"{{{name}}}", value)
    return path


def _session(served: Served, role: Role) -> str:
    """A dashboard session opened with the role's token (as logging in does)."""
    caller = tokens.authenticate(served.hub.engine, served.tokens[role])
    assert caller is not None
    return sessions.open_session(served.hub.engine, caller.token_id)


def _call(served: Served, method: str, path: str, role: Role | None):
    url = _url(method, path)
    kwargs: dict[str, object] = {"params": _QUERY.get(path, {}), "follow_redirects": False}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {"no_such_field": 1}
    if path.startswith("/ui/"):
        session = _session(served, role) if role else ""
        cookies = {SESSION_COOKIE: session} if role else {}
        served.client.cookies.clear()
        for name, value in cookies.items():
            served.client.cookies.set(name, value)
        if method == "POST":
            kwargs.pop("json")
            kwargs["headers"] = {"Origin": "http://testserver"}
            kwargs["data"] = {"csrf": csrf_for(session) if role else "",
                              "token": "kt_" + "x" * 43, "decision": "keep_apart"}
        response = served.client.request(method, url, **kwargs)  # type: ignore[arg-type]
        served.client.cookies.clear()
        return response
    headers = served.auth(role) if role else {}
    return served.client.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]


def test_every_route_has_a_row_in_the_matrix(served: Served) -> None:
    missing = [r for r in _routes(served) if r not in EXPECTED]
    assert not missing, f"add these endpoints to EXPECTED: {missing}"
    stale = [r for r in EXPECTED if r not in _routes(served)]
    assert not stale, f"EXPECTED lists endpoints that no longer exist: {stale}"


def _refused(path: str, response) -> bool:  # type: ignore[no-untyped-def]
    if path == "/ui/logout":  # both outcomes redirect to the login page; only one logs out
        return SESSION_COOKIE not in response.headers.get("set-cookie", "")
    if path.startswith("/ui/") and response.status_code == 303:
        return response.headers["location"] == "/ui/login"
    return response.status_code in (401, 403)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_reaches_exactly_its_endpoints(served: Served, role: Role) -> None:
    wrong = []
    for method, path in _routes(served):
        if path == "/ui/login" or EXPECTED[(method, path)] is PUBLIC:
            continue
        response = _call(served, method, path, role)
        assert response.status_code < 500, (method, path, response.text)
        allowed = role in EXPECTED[(method, path)]
        if allowed == _refused(path, response):
            wrong.append((method, path, response.status_code))
    assert not wrong, f"{role.value}: unexpected outcome for {wrong}"


def test_nothing_but_health_docs_and_login_without_a_token(served: Served) -> None:
    open_routes = []
    for method, path in _routes(served):
        response = _call(served, method, path, None)
        assert response.status_code < 500, (method, path)
        if not _refused(path, response):
            open_routes.append(path)
        elif path.startswith(("/api/", "/scim/")):
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
    assert set(open_routes) <= set(PUBLIC_PATHS)
    assert {"/health", "/openapi.json", "/docs"} <= set(open_routes)


def test_a_malformed_or_unknown_token_is_refused_like_none(served: Served) -> None:
    for token in ("kt_" + "A" * 43, "not-a-token", served.tokens[Role.ADMIN] + "x"):
        response = served.client.get("/api/v1/customers",
                                     headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert token not in response.text
