"""A real SCIM 2.0 service provider for the SCIM tests: ``scim2-server`` (PyPI) in a
subprocess on a free loopback port, with a static bearer token and memory storage."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import pytest
import requests

from tests.services import stop_process, unavailable

TOKEN = "kontor-scim-test-token"


@dataclass(frozen=True)
class ScimServer:
    url: str  # the SCIM base URL, ending in /v2
    token: str = TOKEN

    def get(self, path: str, **params: object) -> requests.Response:
        return requests.get(f"{self.url}{path}", params=params, timeout=10,
                            headers={"Authorization": f"Bearer {self.token}"})

    def users(self) -> list[dict[str, object]]:
        body = self.get("/Users", count=1000).json()
        return list(body.get("Resources") or [])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(server: ScimServer, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            log.seek(0)
            unavailable(f"scim2-server exited: {log.read().decode(errors='replace')[-400:]}")
        try:
            if server.get("/ServiceProviderConfig").status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            unavailable("scim2-server did not answer within 20 s")
        time.sleep(0.1)


@pytest.fixture(scope="session", name="scim_server")
def scim_server_fixture() -> Iterator[ScimServer]:
    """scim2-server on 127.0.0.1, stopped at the end of the session."""
    if importlib.util.find_spec("scim2_server") is None:
        unavailable("scim2-server is not installed (pip install scim2-server; dev extra)")
    port = _free_port()
    code = "import sys; from scim2_server.testserver.cli import main; sys.exit(main())"
    # A file, not a pipe: the server logs every request, and a full pipe would block it.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-c", code, "--hostname", "127.0.0.1", "--port", str(port),
             "--bearer-token", TOKEN], stdout=log, stderr=subprocess.STDOUT)
        server = ScimServer(f"http://127.0.0.1:{port}/v2")
        try:
            _wait(server, process, log)
            yield server
        finally:
            stop_process(process)
