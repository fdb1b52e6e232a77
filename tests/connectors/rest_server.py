"""A real HTTP server on 127.0.0.1 for the REST connector tests (http.server, one thread).

It serves one customer collection under four pagination styles, checks one auth scheme,
issues OAuth2 tokens, and can be told to fail: ``faults`` holds (status, headers) answers
given before the next normal one. Every request is logged for the tests to inspect.

Quirks of real servers: ``page_cap`` caps page/offset pages at N items whatever the client
asks for; ``stall`` makes a method's successful answers come that many seconds late,
after the change is committed (a read timeout after commit); a ``?escape=/path`` query
makes the link style's next link point at that path (outside a base path).
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

STYLES = ("page", "offset", "cursor", "link", "plain")
CLIENT_ID, CLIENT_SECRET = "kontor-client", "s3cret-client"


#: status, JSON body (None: empty), extra headers
Answer = tuple[int, Any, dict[str, str]]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None


@dataclass
class State:
    auth: str = "none"  # none, basic, bearer, api_key, oauth2
    secret: str = "right"  # password, token or api key the server accepts
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    token_lifetime: int = 3600
    issued: int = 0
    clock: int = 0
    log: list[Seen] = field(default_factory=list)
    page_cap: int | None = None
    stall: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tick(self) -> str:
        self.clock += 1
        return f"2024-05-01T10:{self.clock // 60:02d}:{self.clock % 60:02d}Z"

    def seed(self, n: int) -> None:
        for i in range(1, n + 1):
            self.customers[f"c{i:03d}"] = {"id": f"c{i:03d}", "name": f"Customer {i}",
                                           "address": {"city": "Köln"}, "updated_at": self.tick()}

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [s for s in self.log if (method is None or s.method == method)
                and (path is None or s.path.startswith(path))]


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        st, got = self.server.state, self.headers
        if st.auth == "basic":
            want = base64.b64encode(f"kontor:{st.secret}".encode()).decode()
            return got.get("Authorization") == f"Basic {want}"
        if st.auth == "bearer":
            return got.get("Authorization") == f"Bearer {st.secret}"
        if st.auth == "api_key":
            return got.get("X-API-Key") == st.secret
        if st.auth == "oauth2":
            return got.get("Authorization", "").removeprefix("Bearer ") in st.tokens
        return True

    def _handle(self, method: str) -> None:
        st = self.server.state
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw and "json" in self.headers.get("Content-Type", "") \
            else raw.decode() or None
        with st.lock:
            st.log.append(Seen(method, url.path, query, dict(self.headers.items()), body))
            fault = st.faults.pop(0) if st.faults else None
        if fault:
            return self._send(fault[0], {"error": "try later"}, fault[1])
        if url.path == "/oauth/token":
            return self._token(body)
        if not self._authorised():
            return self._send(401, {"error": "bad credentials"},
                              {"WWW-Authenticate": 'Bearer realm="api"'})
        if url.path == "/moved":
            return self._send(301, None, {"Location": "/plain/customers"})
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        if len(parts) < 2 or parts[0] not in STYLES or parts[1] != "customers":
            return self._send(404, {"error": "no such resource"})
        answer: Answer = (405, {"error": "method not allowed"}, {})
        with st.lock:
            if len(parts) == 2 and method == "GET":
                answer = self._list(parts[0], query)
            elif len(parts) == 2 and method == "POST":
                answer = self._upsert(body.get("id") if isinstance(body, dict) else None, body)
            elif len(parts) == 3 and method in ("PUT", "PATCH"):
                answer = self._upsert(parts[2], body)
            elif len(parts) == 3 and method == "DELETE":
                found = st.customers.pop(parts[2], None)
                answer = (204 if found else 404, None, {})
        if answer[0] < 300 and st.stall.get(method):
            time.sleep(st.stall[method])  # committed, but the answer comes too late
        self._send(*answer)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _token(self, body: Any) -> None:
        st = self.server.state
        form = {k: v[-1] for k, v in parse_qs(body or "").items()}
        want = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if form.get("grant_type") != "client_credentials" or \
                self.headers.get("Authorization") != f"Basic {want}":
            return self._send(401, {"error": "invalid_client"})
        with st.lock:
            st.issued += 1
            token = f"tok-{st.issued}"
            st.tokens.add(token)
        self._send(200, {"access_token": token, "token_type": "Bearer",
                         "expires_in": st.token_lifetime})

    def _list(self, style: str, q: dict[str, str]) -> Answer:
        st = self.server.state
        rows = [row for _, row in sorted(st.customers.items())]
        if "updated_since" in q:
            rows = [r for r in rows if (r.get("updated_at") or "") > q["updated_since"]]
        if style == "plain":
            return 200, rows, {}
        if style == "page":
            size, page = self._capped(q["per_page"]), int(q["page"])
            return 200, {"data": {"items": rows[(page - 1) * size:page * size]}}, {}
        if style == "offset":
            start, size = int(q["offset"]), self._capped(q["limit"])
            return 200, {"results": rows[start:start + size], "total": len(rows)}, {}
        start, size = int(q.get("cursor", "0")), int(q.get("limit", "2"))
        chunk, end = rows[start:start + size], start + size
        if style == "cursor":
            nxt = str(end) if end < len(rows) else None
            return 200, {"data": chunk, "meta": {"next": nxt}}, {}
        links = {}
        if end < len(rows):
            host = "localhost" if q.get("evil") else "127.0.0.1"
            port = self.server.server_address[1]
            where = q.get("escape", "/link/customers")
            links["Link"] = (f'<http://{host}:{port}{where}?cursor={end}&limit={size}>; '
                             'rel="next", </link/customers>; rel="first"')
        return 200, chunk, links

    def _upsert(self, key: str | None, body: Any) -> Answer:
        st = self.server.state
        if not isinstance(body, dict) or not key or not body.get("name"):
            return 422, {"error": "name is required"}, {}
        if "@" not in str(body.get("email") or "@"):
            # A real API's habit the connector must not copy: the value in the error.
            return 422, {"error": f"invalid email {body['email']!r}"}, {}
        old = st.customers.get(key, {})
        new = {**old, **body, "id": key}
        new.pop("updated_at", None)
        if {k: v for k, v in old.items() if k != "updated_at"} != new:
            new["updated_at"] = st.tick()
            st.customers[key] = new
        return 201 if not old else 200, st.customers[key], {}

    def _capped(self, asked: str) -> int:
        cap = self.server.state.page_cap
        return int(asked) if cap is None else min(int(asked), cap)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = State()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client gave up waiting (a stalled answer): expected here
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def running() -> Iterator[Server]:
    """A fresh server on a free loopback port, stopped afterwards."""
    server = Server()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
