"""The dashboard over HTTP (no browser): login with CSRF, cookie flags, pages per role,
the privacy gate on every page, escaping, and security headers."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from hub.auth.roles import Role
from hub.store import goldens
from hub.web.session import SESSION_COOKIE
from tests.api.kit import Served

ORIGIN = "http://testserver"  # the TestClient's listen address, as a browser sends it


def _client(served: Served) -> TestClient:
    """A browser on the hub's own origin: its POSTs carry the Origin header."""
    return TestClient(served.app, follow_redirects=False, headers={"Origin": ORIGIN})


def _row(html: str, field: str) -> str:
    found = re.search(rf'data-field="{field}">(.*?)</tr>', html, re.DOTALL)
    assert found, field
    return found.group(1)


def login(served: Served, role: Role) -> TestClient:
    client = _client(served)
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    response = client.post("/ui/login", data={"token": served.tokens[role], "csrf": csrf})
    assert response.status_code == 303, response.text
    return client


def test_login_sets_a_strict_http_only_cookie(served: Served) -> None:
    client = _client(served)
    form = client.get("/ui/login")
    assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    response = client.post("/ui/login", data={"token": served.tokens[Role.AUDITOR],
                                              "csrf": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/ui/overview"
    cookie = next(c for c in response.headers.get_list("set-cookie")
                  if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert client.get("/ui/overview").status_code == 200


def test_login_refuses_forged_forms_bad_tokens_and_machine_roles(served: Served) -> None:
    client = _client(served)
    client.get("/ui/login")
    forged = client.post("/ui/login", data={"token": served.tokens[Role.ADMIN],
                                            "csrf": "guessed"})
    assert forged.status_code == 403 and SESSION_COOKIE not in forged.headers.get(
        "set-cookie", "")
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    foreign = client.post("/ui/login", data={"token": served.tokens[Role.ADMIN], "csrf": csrf},
                          headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    wrong = client.post("/ui/login", data={"token": "kt_CANARY" + "x" * 38, "csrf": csrf})
    assert wrong.status_code == 401 and "unknown, expired or revoked" in wrong.text
    assert "CANARY" not in wrong.text
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    machine = client.post("/ui/login", data={"token": served.tokens[Role.SYSTEM], "csrf": csrf})
    assert machine.status_code == 403 and "cannot use the dashboard" in machine.text


def test_navigation_shows_what_the_role_may_open(served: Served) -> None:
    reader = login(served, Role.READER)
    page = reader.get("/ui/records")
    header = re.findall(r"<header>.*?</header>", page.text, re.DOTALL)[0]
    links = set(header.split('href="')[1:])
    assert [link.split('"')[0] for link in links] == ["/ui/records"]
    assert reader.get("/ui/quarantine").status_code == 403
    assert reader.get("/ui/").headers["location"] == "/ui/records"


def test_record_page_masks_and_withholds_through_the_gate(served: Served) -> None:
    with served.hub.engine.connect() as conn:
        stored = goldens.read(conn, served.hub.sealer, "employee", ["E-1002"])["E-1002"]
    page = login(served, Role.STEWARD).get("/ui/records/employee/E-1002")
    assert page.status_code == 200
    html = page.text
    for field in ("iban", "sick_leave_reason", "national_id", "salary",
                  "criminal_record_check"):
        if stored[field]:
            assert str(stored[field]) not in html, field
    assert "withheld by policy" in _row(html, "sick_leave_reason")
    iban = _row(html, "iban")
    assert "mask" in iban and str(stored["iban"])[-4:] in iban
    email = _row(html, "work_email")
    assert str(stored["work_email"]) in email and ">hr<" in email.replace(" ", "")
    assert page.headers["cache-control"] == "no-store"
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)  # type: ignore[union-attr]
    assert all(f'nonce="{nonce}"' in tag for tag in re.findall(r"<script[^>]*>", html))
    assert "trace-link" not in html  # stewards cannot open audit traces


def test_search_escapes_what_sources_sent(served: Served) -> None:
    hostile = '<script>alert("kontor")</script>'
    created = served.client.post("/api/v1/customers", headers=served.auth(Role.STEWARD),
                                 json={"last_name": hostile, "email": "xss@example.org"})
    assert created.status_code == 201, created.text
    page = login(served, Role.READER).get("/ui/records", params={"q": "alert"})
    assert hostile not in page.text and "&lt;script&gt;" in page.text
    assert created.json()["id"] in page.text


def test_trace_reports_and_quarantine(served: Served) -> None:
    auditor = login(served, Role.AUDITOR)
    auditor.get("/ui/records/employee/E-1002")  # a read of the masked IBAN, logged
    trace = auditor.get("/ui/records/employee/E-1002/trace")
    assert trace.status_code == 200
    assert "version 1" in trace.text and "restricted read" in trace.text
    assert "web by auditor" in trace.text
    reports = auditor.get("/ui/reports")
    assert reports.text.count("<svg") >= 6 and "Fields withheld by policy" in reports.text
    assert "<script src" not in reports.text and "https://" not in reports.text
    operator = login(served, Role.OPERATOR)
    quarantine = operator.get("/ui/quarantine")
    assert quarantine.status_code == 200 and "kunden.csv" in quarantine.text
    overview = operator.get("/ui/overview")
    assert "crm" in overview.text and "records failed" in overview.text


def test_review_queue_compares_through_the_gate_and_decides(served: Served) -> None:
    steward = login(served, Role.STEWARD)
    page = steward.get("/ui/review")
    assert page.status_code == 200
    pair_id = re.search(r'id="pair-(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    assert 'id="merge-' in page.text and 'id="apart-' in page.text
    assert "someone.else@example.net" in page.text  # the shop's email, visible to stewards
    assert "email different" in page.text  # the evidence
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    forged = steward.post(f"/ui/review/{pair_id}", data={"decision": "keep_apart",
                                                         "csrf": "x"})
    assert forged.status_code == 403
    done = steward.post(f"/ui/review/{pair_id}", data={"decision": "keep_apart",
                                                       "csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == f"/ui/review?done={pair_id}"
    after = steward.get(done.headers["location"])
    assert "kept apart by test-steward" in after.text and "review-empty" in after.text
    twice = steward.post(f"/ui/review/{pair_id}", data={"decision": "merge", "csrf": csrf})
    assert twice.status_code == 409
    assert login(served, Role.AUDITOR).get("/ui/review").status_code == 403


def test_logout_needs_the_session_csrf_token(served: Served) -> None:
    client = login(served, Role.READER)
    page = client.get("/ui/records")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert client.post("/ui/logout", data={"csrf": "nope"}).status_code == 403
    out = client.post("/ui/logout", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert client.get("/ui/records").headers["location"] == "/ui/login"
