"""A quirky JSON API on 127.0.0.1 (http.server in a thread), bending HTTP the way real
servers do, for tests/connectors/test_rest_quirks.py.

The API lives under ``/api/v1`` and wants ``Authorization: Bearer <token>``. Its quirks:

- ``GET /api/v1/customers?page=&per_page=``: pages never hold more than ``PAGE_CAP`` (10)
  items, whatever ``per_page`` asks; no total is reported.
- ``POST /api/v1/customers`` creates a new customer with a server-made id every time (a
  repeated POST is a duplicate). With ``honour_keys`` it deduplicates by
  ``Idempotency-Key`` as draft-ietf-httpapi-idempotency-key-header says: a repeat gets the
  first answer again, one arriving while the first is still being processed gets 409, one
  reusing the key for another body gets 422.
- ``commit_gate`` / ``stall``: a POST waits for the gate before storing its customer, or
  sleeps ``stall`` seconds after storing it, so a client timeout strikes before or after
  the commit.
- ``faults``: answers given instead of the next requests (``rate_limit``, ``burst``,
  ``html_error``): 429 with Retry-After, 500s, a proxy's text/html 502 page.
- ``redirects``: path → Location, for redirects off the base path or to another port.
- ``GET /sso/...`` answers 200 with an HTML login page (a proxy that intercepts the API).
- ``/scim/v2/Users``: a SCIM 2.0 user list that also caps pages at ``PAGE_CAP``, filters
  only on ``externalId eq "…"`` (joined by ``or``), and refuses a second user with the
  same externalId (409 uniqueness), as SCIM service providers do.
- ``POST /oauth/token``: OAuth2 client credentials; tokens it issues are valid on the
  server listed in ``token_for`` (an identity provider on another origin).

Every request is logged (method, path, query, headers) for the tests to inspect.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE_CAP = 10
BASE = "/api/v1"
TOKEN = "quirky-token"
CLIENT = ("kontor-client", "client-secret-value")
#: Text in the HTML pages that must never reach an error message.
PAGE_SECRET = "Jane Doe, jane.doe@example.org"
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
_EXTERNAL_ID = re.compile(r'externalId eq "((?:[^"\\]|\\.)*)"')
HTML_502 = (f"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>"
            f"<p>upstream failed while serving {PAGE_SECRET}</p><hr>nginx</body></html>")
LOGIN_PAGE = (f"<!doctype html><html><body><form>Welcome back, {PAGE_SECRET}. "
              f"Please sign in.</form></body></html>")


@dataclass
class Fault:
    status: int
    body: str = '{"error": "try later"}'
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class State:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    faults: list[Fault] = field(default_factory=list)
    redirects: dict[str, str] = field(default_factory=dict)
    honour_keys: bool = False
    #: A POST waits for this before it stores anything (the test decides when).
    commit_gate: threading.Event | None = None
    stall: float = 0.0
    #: Idempotency-Key → (body as sent, answer; None while the first is in progress)
    keys: dict[str, tuple[bytes, tuple[int, Any] | None]] = field(default_factory=dict)
    log: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seed(self, n: int) -> None:
        for i in range(1, n + 1):
            self.customers[f"s{i:03d}"] = {"id": f"s{i:03d}", "name": f"Customer {i}"}

    def seed_users(self, n: int) -> None:
        for i in range(1, n + 1):
            self.users[f"u{i:03d}"] = {"schemas": [SCIM_USER], "id": f"u{i:03d}",
                                       "externalId": f"e{i:03d}", "userName": f"user{i}"}

    def rate_limit(self, retry_after: str) -> None:
        self.faults.append(Fault(429, headers={"Retry-After": retry_after}))

    def burst(self, n: int, status: int = 500) -> None:
        self.faults += [Fault(status)] * n

    def html_error(self, n: int, status: int = 502) -> None:
        self.faults += [Fault(status, HTML_502, "text/html; charset=utf-8")] * n

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [s for s in self.log if (method is None or s.method == method)
                and (path is None or s.path == path)]


class Handler(BaseHTTPRequestHandler):
    server: QuirkyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def _send(self, status: int, body: Any = None, *, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else \
            b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        st = self.server.state
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with st.lock:
            st.log.append(Seen(method, url.path, query, dict(self.headers.items())))
            fault = st.faults.pop(0) if st.faults else None
        if fault:
            return self._send(fault.status, fault.body, content_type=fault.content_type,
                              headers=fault.headers)
        if url.path in st.redirects:
            return self._send(301, None, headers={"Location": st.redirects[url.path]})
        if url.path == "/oauth/token":
            return self._token(raw)
        if url.path.startswith("/sso/"):
            return self._send(200, LOGIN_PAGE, content_type="text/html")
        if self.headers.get("Authorization", "").removeprefix("Bearer ") not in st.tokens:
            return self._send(401, {"error": "bad credentials"})
        if url.path.startswith("/scim/v2/Users"):
            return self._scim(method, url.path, query, raw)
        if url.path != f"{BASE}/customers":
            return self._send(404, {"error": "no such resource"})
        if method == "GET":
            return self._list(query)
        if method == "POST":
            return self._create(raw)
        return self._send(405, {"error": "method not allowed"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _list(self, q: dict[str, str]) -> None:
        rows = list(self.server.state.customers.values())
        size = min(int(q.get("per_page", "10")), PAGE_CAP)  # what was asked, capped
        page = int(q.get("page", "1"))
        self._send(200, {"items": rows[(page - 1) * size:page * size]})

    def _create(self, raw: bytes) -> None:
        st = self.server.state
        key = self.headers.get("Idempotency-Key") if st.honour_keys else None
        if key is not None:
            with st.lock:
                known = st.keys.get(key)
                if known is None:
                    st.keys[key] = (raw, None)  # in progress
            if known is not None:
                sent, answer = known
                if sent != raw:
                    return self._send(422, {"error": "key reused for another request"})
                if answer is None:
                    return self._send(409, {"error": "a request with this key is in progress"})
                return self._send(*answer)  # the first outcome, not a second create
        if st.commit_gate is not None:
            st.commit_gate.wait(10)
        with st.lock:
            new = {**json.loads(raw), "id": f"n{len(st.customers) + 1:03d}"}
            st.customers[new["id"]] = new
            answer = (201, new)
            if key is not None:
                st.keys[key] = (raw, answer)
        time.sleep(st.stall)  # committed, but the answer comes late
        self._send(*answer)

    def _scim(self, method: str, path: str, q: dict[str, str], raw: bytes) -> None:
        users = self.server.state.users
        if method == "GET" and path == "/scim/v2/Users":
            wanted = {json.loads(f'"{v}"') for v in _EXTERNAL_ID.findall(q.get("filter", ""))}
            found = [u for u in users.values() if u.get("externalId") in wanted]
            start, size = int(q.get("startIndex", "1")), min(int(q.get("count", "10")), PAGE_CAP)
            page = found[start - 1:start - 1 + size]
            return self._send(200, {"schemas": [SCIM_LIST], "totalResults": len(found),
                                    "itemsPerPage": len(page), "startIndex": start,
                                    "Resources": page}, content_type="application/scim+json")
        body = json.loads(raw or b"{}")
        if method == "POST" and path == "/scim/v2/Users":
            if any(u.get("externalId") == body.get("externalId") for u in users.values()):
                return self._send(409, {"scimType": "uniqueness", "status": "409"})
            body["id"] = f"u{len(users) + 1:03d}"
            users[body["id"]] = body
            return self._send(201, body, content_type="application/scim+json")
        if method == "PUT" and path.removeprefix("/scim/v2/Users/") in users:
            body["id"] = path.removeprefix("/scim/v2/Users/")
            users[body["id"]] = body
            return self._send(200, body, content_type="application/scim+json")
        return self._send(404, {"status": "404"})

    def _token(self, raw: bytes) -> None:
        want = base64.b64encode(":".join(CLIENT).encode()).decode()
        form = parse_qs(raw.decode())
        if form.get("grant_type") != ["client_credentials"] or \
                self.headers.get("Authorization") != f"Basic {want}":
            return self._send(401, {"error": "invalid_client"})
        issued = f"idp-token-{len(self.server.state.log)}"
        for other in self.server.token_for:
            other.state.tokens.add(issued)
        self._send(200, {"access_token": issued, "token_type": "Bearer", "expires_in": 600})


class QuirkyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = State()
        self.token_for: list[QuirkyServer] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client gave up waiting (a stalled answer): expected here
        super().handle_error(request, client_address)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def url(self) -> str:
        """The API's base URL."""
        return self.origin + BASE


@contextmanager
def quirky() -> Iterator[QuirkyServer]:
    """A fresh quirky server on a free loopback port, stopped afterwards."""
    server = QuirkyServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
