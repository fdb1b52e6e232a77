"""Dashboard sessions (issue 14, part 5): server-side ids hashed at rest, idle and absolute
expiry, logout and token revocation end them, CSRF bound to the session, and every POST
must name the hub's own origin (Origin, else Referer)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from hub.auth import sessions, tokens
from hub.auth.roles import Role
from hub.auth.tables import WebSession
from hub.store import bulk
from hub.web.session import LOGIN_CSRF_COOKIE, SESSION_COOKIE, csrf_for
from tests.api.kit import Served

ORIGIN = "http://testserver"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _client(served: Served, **kwargs: Any) -> TestClient:
    return TestClient(served.app, follow_redirects=False, **kwargs)


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


def _log_in(served: Served, role: Role = Role.READER, token: str | None = None,
            client: TestClient | None = None) -> tuple[TestClient, str]:
    """A logged-in browser and its session cookie."""
    client = client or _client(served, headers={"Origin": ORIGIN})
    form = client.get("/ui/login")
    response = client.post("/ui/login", data={"token": token or served.tokens[role],
                                              "csrf": _csrf(form.text)})
    assert response.status_code == 303, response.text
    return client, response.cookies[SESSION_COOKIE]


def _with_cookie(served: Served, session: str) -> TestClient:
    return _client(served, cookies={SESSION_COOKIE: session}, headers={"Origin": ORIGIN})


def _refused(response: Any) -> bool:
    return response.status_code == 303 and response.headers["location"] == "/ui/login"


def _rows(served: Served) -> list[Any]:
    with served.hub.engine.connect() as conn:
        return list(conn.execute(select(bulk.table_of(WebSession))).all())


def _age(served: Served, session: str, **values: Any) -> None:
    s = bulk.table_of(WebSession)
    with served.hub.engine.begin() as conn:
        conn.execute(update(s).where(s.c.id_hash == sessions.hash_id(session)).values(**values))


def test_the_cookie_is_a_random_session_id_stored_only_as_its_hash(served: Served) -> None:
    _, first = _log_in(served, Role.AUDITOR)
    _, second = _log_in(served, Role.AUDITOR)
    token = served.tokens[Role.AUDITOR]
    assert first != second and token not in (first, second)
    assert len(first) == 43 and not first.startswith(tokens.PREFIX)
    rows = {r.id_hash: r for r in _rows(served)}
    digest = hashlib.sha256(first.encode()).hexdigest()
    assert digest in rows and first not in rows and token not in str(rows)
    row = rows[digest]
    assert row.expires_at - row.created_at == sessions.ABSOLUTE
    # the API token itself is no longer a dashboard cookie
    assert _refused(_with_cookie(served, token).get("/ui/overview"))
    assert _with_cookie(served, first).get("/ui/overview").status_code == 200


def test_logout_revokes_the_session_and_the_old_cookie_is_refused(served: Served) -> None:
    client, session = _log_in(served)
    page = client.get("/ui/records")
    assert page.status_code == 200
    csrf = _csrf(page.text)
    out = client.post("/ui/logout", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert sessions.hash_id(session) not in {r.id_hash for r in _rows(served)}
    # a copy of the old cookie (kept by an attacker, or a browser that ignored the delete)
    stale = _with_cookie(served, session)
    assert _refused(stale.get("/ui/records"))
    assert _refused(stale.post("/ui/logout", data={"csrf": csrf}))
    assert _refused(stale.post("/ui/review/1", data={"decision": "merge", "csrf": csrf}))


def test_idle_and_absolute_expiry(served: Served) -> None:
    now = dt.datetime.now(dt.UTC)
    _, idle = _log_in(served)
    _age(served, idle, last_seen_at=now - sessions.IDLE + dt.timedelta(minutes=2))
    assert _with_cookie(served, idle).get("/ui/records").status_code == 200  # still alive
    _age(served, idle, last_seen_at=now - sessions.IDLE - dt.timedelta(seconds=1))
    assert _refused(_with_cookie(served, idle).get("/ui/records"))

    _, busy = _log_in(served)
    _age(served, busy, created_at=now - sessions.ABSOLUTE, expires_at=now - dt.timedelta(
        seconds=1))
    assert _refused(_with_cookie(served, busy).get("/ui/records"))  # however recently seen

    _, fresh = _log_in(served)
    _age(served, fresh, last_seen_at=now - dt.timedelta(minutes=5))
    assert _with_cookie(served, fresh).get("/ui/records").status_code == 200
    seen = next(r for r in _rows(served) if r.id_hash == sessions.hash_id(fresh))
    assert now - seen.last_seen_at < dt.timedelta(minutes=1)  # a request keeps it alive

    # a new login clears sessions that can no longer be used
    _log_in(served)
    left = {r.id_hash for r in _rows(served)}
    assert sessions.hash_id(idle) not in left and sessions.hash_id(busy) not in left


def test_revoking_the_token_ends_its_sessions(served: Served) -> None:
    new = tokens.create(served.hub.engine, role=Role.READER, expires_in=dt.timedelta(hours=1),
                        name="revoked-soon")
    _, session = _log_in(served, token=new.token)
    assert _with_cookie(served, session).get("/ui/records").status_code == 200
    tokens.revoke(served.hub.engine, new.id)
    assert _refused(_with_cookie(served, session).get("/ui/records"))
    assert sessions.hash_id(session) not in {r.id_hash for r in _rows(served)}


def test_posts_need_the_hubs_own_origin_or_referer(served: Served) -> None:
    token = served.tokens[Role.ADMIN]
    bare = _client(served)
    form = bare.get("/ui/login")
    data = {"token": token, "csrf": _csrf(form.text)}
    assert bare.post("/ui/login", data=data).status_code == 403  # neither header
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Referer": "http://evil.example/ui/login"},
                    {"Origin": "null", "Referer": "http://evil.example/ui/login"},
                    # the Host header is the attacker's to choose: it is not trusted
                    {"Origin": "http://evil.example", "Host": "evil.example"}):
        refused = bare.post("/ui/login", data=data, headers=headers)
        assert refused.status_code == 403, headers
        assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    by_referer = bare.post("/ui/login", data=data,
                           headers={"Referer": f"{ORIGIN}/ui/login"})
    assert by_referer.status_code == 303

    client, session = _log_in(served, Role.READER)
    csrf = _csrf(client.get("/ui/records").text)
    plain = _client(served, cookies={SESSION_COOKIE: session})
    assert plain.post("/ui/logout", data={"csrf": csrf}).status_code == 403
    assert plain.post("/ui/logout", data={"csrf": csrf},
                      headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.get("/ui/records").status_code == 200  # still logged in


def test_attacker_chosen_cookie_and_form_values_are_refused(served: Served) -> None:
    # login: a nonce cookie and a form field set to the same value (a cookie planted by a
    # sibling domain, say) do not pass: the form token is signed by the server
    client = _client(served, headers={"Origin": ORIGIN})
    client.cookies.set(LOGIN_CSRF_COOKIE, "chosen-by-attacker")
    forced = client.post("/ui/login", data={"token": served.tokens[Role.ADMIN],
                                            "csrf": "chosen-by-attacker"})
    assert forced.status_code == 403
    assert SESSION_COOKIE not in forced.headers.get("set-cookie", "")
    # after login: a made-up session id with its matching CSRF token is no session
    chosen = "A" * 43
    fake = _with_cookie(served, chosen)
    assert _refused(fake.post("/ui/logout", data={"csrf": csrf_for(chosen)}))
    assert _refused(fake.post("/ui/review/1", data={"decision": "merge",
                                                     "csrf": csrf_for(chosen)}))
    # one session's CSRF token does not work for another
    _, mine = _log_in(served)
    other, _ = _log_in(served)
    csrf = csrf_for(mine)
    assert other.post("/ui/logout", data={"csrf": csrf}).status_code == 403


def test_loopback_aliases_are_one_origin(served: Served) -> None:
    client = _client(served, base_url="http://127.0.0.1:8000",
                     headers={"Origin": "http://localhost:8000"})
    _log_in(served, client=client)
    foreign = _client(served, base_url="http://127.0.0.1:8000",
                      headers={"Origin": "http://localhost:9000"})
    form = foreign.get("/ui/login")
    assert foreign.post("/ui/login", data={"token": served.tokens[Role.READER],
                                           "csrf": _csrf(form.text)}).status_code == 403


def test_public_url_is_the_only_origin_and_makes_cookies_secure(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(served.hub.deployment.config, "public_url",
                        "https://kontor.example.org")
    wrong = _client(served, headers={"Origin": ORIGIN})
    form = wrong.get("/ui/login")
    assert "Secure" in form.headers["set-cookie"]
    assert wrong.post("/ui/login", data={"token": served.tokens[Role.READER],
                                         "csrf": _csrf(form.text)}).status_code == 403
    # (an https client: httpx, like a browser, sends Secure cookies over HTTPS only)
    right = _client(served, base_url="https://testserver",
                    headers={"Origin": "https://kontor.example.org"})
    form = right.get("/ui/login")
    response = right.post("/ui/login", data={"token": served.tokens[Role.READER],
                                              "csrf": _csrf(form.text)})
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie")
                  if c.startswith(SESSION_COOKIE))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
