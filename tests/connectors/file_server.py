"""A real HTTP file server on 127.0.0.1 for the XML-over-HTTP tests (http.server, threads).

Serves the files of one folder by GET, optionally behind HTTP basic auth, and can be told
to misbehave: ``faults`` are status codes answered before the next normal answer,
``delay`` holds every answer back (to provoke timeouts), ``redirects`` answer a path with
a 302. Requests are counted, and ``seen`` notes each path and whether it came with
credentials.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_CHUNK = 1 << 16


@dataclass
class FileServer:
    folder: Path
    user: str | None = None
    password: str | None = None
    faults: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: int = 0
    url: str = ""
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location
    seen: list[tuple[str, bool]] = field(default_factory=list)  # (path, sent credentials)


def _handler(state: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def _authorised(self) -> bool:
            if state.user is None:
                return True
            token = base64.b64encode(f"{state.user}:{state.password}".encode()).decode()
            return self.headers.get("Authorization") == f"Basic {token}"

        def do_GET(self) -> None:
            state.requests += 1
            state.seen.append((self.path, "Authorization" in self.headers))
            time.sleep(state.delay)
            if self.path in state.redirects:
                self.send_response(302)
                self.send_header("Location", state.redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if state.faults:
                status = state.faults.pop(0)
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "30")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if not self._authorised():
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="export"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            name = unquote(urlsplit(self.path).path).lstrip("/")
            path = (state.folder / name).resolve()
            if not name:
                body = "\n".join(sorted(p.name for p in state.folder.iterdir())).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if not path.is_file() or not path.is_relative_to(state.folder.resolve()):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(path.stat().st_size))
            self.end_headers()
            with open(path, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    self.wfile.write(chunk)

    return Handler


@contextmanager
def serving(folder: Path, **options: object) -> Iterator[FileServer]:
    """Serve ``folder`` on a free loopback port until the block ends."""
    state = FileServer(folder, **options)  # type: ignore[arg-type]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
