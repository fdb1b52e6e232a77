"""Under `kontor serve`, a change made through the API reaches its targets within seconds,
without any sync: in one instance (the in-process wake-up), and across two instances on one
PostgreSQL (the API on one, the delivery worker on the other: LISTEN/NOTIFY)."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from hub.demo import write_demo
from tests.services import fresh_postgres_database, stop_process

KONTOR = [str(Path(sys.executable).parent / "kontor")]
DEADLINE = 5.0  # seconds, the promise of DESIGN.md


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kontor(folder: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KONTOR, *args], check=False, cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


@contextmanager
def _serving(folder: Path, env: dict[str, str], *extra: str) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen([*KONTOR, "serve", "--port", str(port), "--no-scheduler",
                                *extra], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode() if process.stderr
                                     else "serve exited")
            time.sleep(0.1)
        yield url
    finally:
        stop_process(process)


def _subscribers(folder: Path) -> dict[str, str]:
    path = folder / "data" / "newsletter" / "subscribers.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["email"]: r["first_name"] for r in csv.DictReader(fh)}


def _setup(tmp_path: Path, database_url: str | None) -> tuple[Path, dict[str, str], str]:
    folder = write_demo(tmp_path / "demo", customers=30, employees=5, seed=3).config.parent
    env = {**os.environ, "KONTOR_CONFIG": str(folder / "kontor.yaml")}
    if database_url:
        env["KONTOR_DATABASE_URL"] = database_url
    _kontor(folder, "sync", env=env)  # quarantines the demo's dirty records on purpose
    made = _kontor(folder, "tokens", "create", "--role", "admin", "--name", "t", "--json",
                   env=env)
    return folder, env, json.loads(made.stdout)["token"]


def _patch_and_wait(api: str, token: str, folder: Path) -> float:
    """PATCH a subscriber's first name through the API; seconds until the CSV has it."""
    email = next(iter(_subscribers(folder)))
    auth = {"Authorization": f"Bearer {token}"}
    [record] = requests.get(f"{api}/api/v1/customers", params={"email": email},
                            headers=auth, timeout=10).json()["items"]
    started = time.monotonic()
    done = requests.patch(f"{api}/api/v1/customers/{record['id']}",
                          json={"first_name": "Servedname"}, timeout=10,
                          headers={**auth, "If-Match": f'"{record["version"]}"'})
    assert done.status_code == 200, done.text
    while time.monotonic() - started < DEADLINE:
        if _subscribers(folder).get(email) == "Servedname":
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"the change did not reach the newsletter within {DEADLINE} s")


def test_an_api_change_reaches_the_target_within_seconds(tmp_path: Path) -> None:
    folder, env, token = _setup(tmp_path, None)
    with _serving(folder, env) as api:
        assert _patch_and_wait(api, token, folder) < DEADLINE


@pytest.mark.postgres
def test_another_instance_delivers_what_this_one_wrote(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        folder, env, token = _setup(tmp_path, url)
        # The API instance does not deliver; the other one hears of the change by NOTIFY.
        with _serving(folder, env, "--no-deliver") as api, _serving(folder, env):
            assert _patch_and_wait(api, token, folder) < DEADLINE
