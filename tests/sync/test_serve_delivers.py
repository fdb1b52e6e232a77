"""Under `kontor serve`, a change made through the API reaches its targets within seconds,
without any sync: in one instance (the in-process wake-up), and across two instances on one
PostgreSQL (the API on one, the delivery worker on the other: LISTEN/NOTIFY)."""

from __future__ import annotations

import csv
import json
import os
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.demo import write_demo
from tests import kontor_process
from tests.services import fresh_postgres_database, stop_process

DEADLINE = 5.0  # seconds, the promise of DESIGN.md
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kontor(folder: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return kontor_process.run(args, cwd=folder, env=env)


@contextmanager
def _serving(folder: Path, env: dict[str, str], *extra: str) -> Iterator[str]:
    """`kontor serve` as its own process (tests/kontor_process.py) until the block ends."""
    port = _free_port()
    process = kontor_process.KontorProcess(["serve", "--port", str(port), "--no-scheduler",
                                            *extra], cwd=folder, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None:
                raise AssertionError(process.stderr or "serve exited")
            time.sleep(0.1)
        yield url
    finally:
        stop_process(process)
        process.close()


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


def _within_deadline(check: Callable[[], bool], what: str) -> float:
    """Seconds until ``check()`` holds; fails after DEADLINE."""
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{what} did not reach the target within {DEADLINE} s")


def _payroll(folder: Path) -> dict[str, str]:
    with sqlite3.connect(folder / "data" / "payroll" / "payroll.db") as db:
        return dict(db.execute("SELECT email, first_name FROM employees").fetchall())


class Client:
    def __init__(self, api: str, token: str):
        self.api, self.auth = api, {"Authorization": f"Bearer {token}"}

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        response = requests.request(method, f"{self.api}{path}", timeout=10,
                                    headers=headers, **kwargs)
        assert response.status_code < 300, response.text
        return response

    def customer(self, email: str) -> dict[str, Any]:
        [record] = self("GET", "/api/v1/customers", params={"email": email}).json()["items"]
        return dict(record)


def _patch_and_wait(api: str, token: str, folder: Path) -> float:
    """PATCH a subscriber's first name through the API; seconds until the CSV has it."""
    email = next(iter(_subscribers(folder)))
    client = Client(api, token)
    record = client.customer(email)
    client("PATCH", f"/api/v1/customers/{record['id']}", json={"first_name": "Servedname"},
           headers={"If-Match": f'"{record["version"]}"'})
    return _within_deadline(lambda: _subscribers(folder).get(email) == "Servedname",
                            "an API PATCH")


def test_every_kind_of_hub_change_reaches_the_targets_within_seconds(tmp_path: Path) -> None:
    """API PATCH/POST/DELETE, SCIM POST/PUT/PATCH/DELETE and a steward's override from the
    CLI (another process: the worker's poll finds it), each at its target in < 5 s."""
    folder, env, token = _setup(tmp_path, None)
    with _serving(folder, env) as api:
        client = Client(api, token)
        _patch_and_wait(api, token, folder)

        made = client("POST", "/api/v1/customers", json={
            "first_name": "Postedname", "last_name": "New", "email": "posted@example.org",
            "marketing_consent": True}).json()
        _within_deadline(lambda: "posted@example.org" in _subscribers(folder), "an API POST")
        client("DELETE", f"/api/v1/customers/{made['id']}",
               headers={"If-Match": f'"{made["version"]}"'})
        _within_deadline(lambda: "posted@example.org" not in _subscribers(folder),
                         "an API DELETE")

        scim = {"Content-Type": "application/scim+json"}
        body = {"schemas": [CORE, ENTERPRISE], "userName": "ada@example.org",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                ENTERPRISE: {"employeeNumber": "E-9001"}}
        user = client("POST", "/scim/v2/Users", json=body, headers=scim).json()
        _within_deadline(lambda: _payroll(folder).get("ada@example.org") == "Ada", "SCIM POST")
        client("PUT", f"/scim/v2/Users/{user['id']}", headers=scim, json={
            **body, "name": {"givenName": "Augusta", "familyName": "Lovelace"}})
        _within_deadline(lambda: _payroll(folder).get("ada@example.org") == "Augusta",
                         "SCIM PUT")
        client("PATCH", f"/scim/v2/Users/{user['id']}", headers=scim, json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "name.givenName", "value": "Ada A."}]})
        _within_deadline(lambda: _payroll(folder).get("ada@example.org") == "Ada A.",
                         "SCIM PATCH")
        client("DELETE", f"/scim/v2/Users/{user['id']}")
        _within_deadline(lambda: "ada@example.org" not in _payroll(folder), "SCIM DELETE")

        email = next(iter(_subscribers(folder)))
        gid = client.customer(email)["id"]
        fixed = _kontor(folder, "steward", "override", gid, "first_name", "Stewardname",
                        env=env)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        _within_deadline(lambda: _subscribers(folder).get(email) == "Stewardname",
                         "a steward's override")


@pytest.mark.postgres
def test_another_instance_delivers_what_this_one_wrote(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        folder, env, token = _setup(tmp_path, url)
        # The API instance does not deliver; the other one hears of the change by NOTIFY.
        with _serving(folder, env, "--no-deliver") as api, _serving(folder, env):
            assert _patch_and_wait(api, token, folder) < DEADLINE
