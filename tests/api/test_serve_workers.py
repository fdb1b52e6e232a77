"""`kontor serve --workers 2`: the API in two processes under the serving one, answering at
once (each connection with TCP_NODELAY: without it every answer waited ~40 ms for the
client's delayed ACK, since uvicorn's own listening socket makes asyncio skip it)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from pathlib import Path

import pytest
import requests

from hub.auth import tokens
from hub.auth.roles import Role
from tests import kontor_process
from tests.api.kit import demo_hub
from tests.services import stop_process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[str]:
    """Command lines of the processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append((entry / "cmdline").read_text().replace("\0", " "))
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="counts processes through /proc")
def test_two_workers_serve_the_api_without_delay(tmp_path: Path) -> None:
    hub = demo_hub(tmp_path / "hub")
    token = tokens.create(hub.engine, role=Role.READER, expires_in=dt.timedelta(hours=1),
                          name="workers").token
    config = hub.deployment.path
    hub.close()
    port = _free_port()
    process = kontor_process.KontorProcess(
        ["--config", str(config), "serve", "--port", str(port), "--no-scheduler",
         "--no-deliver", "--workers", "2"], cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        with requests.Session() as session:  # one keep-alive connection
            for _ in range(300):
                try:
                    if session.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert process.poll() is None, process.stderr
                time.sleep(0.1)
            else:
                pytest.fail(f"the hub did not start: {process.stderr}")
            workers = [c for c in _children(process.pid) if "spawn_main" in c]
            assert len(workers) == 2, workers
            took = []
            for _ in range(20):
                start = time.perf_counter()
                answer = session.get(f"{base}/api/v1/customers", params={"limit": 5},
                                     headers={"Authorization": f"Bearer {token}"}, timeout=10)
                took.append(time.perf_counter() - start)
                assert answer.status_code == 200
                assert len(answer.json()["items"]) == 5
        # Noise only adds time; a delayed ACK costs at least 40 ms on every answer.
        assert min(took) < 0.030, took
    finally:
        stop_process(process)
