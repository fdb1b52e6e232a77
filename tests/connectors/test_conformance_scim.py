"""The SCIM connector passes the conformance kit against the real scim2-server of
tests/scim_server.py, incremental checks included.

``meta.lastModified`` is stamped by the server, so the harness seeds the way an identity
provider changes things: it writes records in the order of the kit's cursor values and,
on a re-seed, touches only the records whose kit cursor value moved (a record whose
cursor stays put is one the source did not change) or, without cursors, whose content
changed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.base import Record, StreamSpec
from connectors.scim import ScimConnector
from hub.testing import ConnectorConformance, Harness
from tests.scim_server import ScimServer, scim_server_fixture  # noqa: F401 - session fixture

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
FIELDS = ("externalId", "userName", "displayName", "title")
CURSOR = "meta.lastModified"


class ScimHarness(Harness):
    """This check's users (userName prefix), seeded and inspected over plain HTTP."""

    connector_class = ScimConnector
    key_field = "externalId"
    text_fields = ("displayName", "title")
    can_reject = True  # "active" must be a boolean

    def __init__(self, server: ScimServer, base_dir: Path):
        super().__init__(base_dir)
        self.server = server
        self.tag = f"kit{uuid.uuid4().hex[:8]}-"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {server.token}"
        self.cursors: dict[str, Any] = {}  # the kit's cursor value per key, last seeded

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.server.url, "token": self.server.token, "page_size": 2,
                "filter": f'userName sw "{self.tag}"',
                "attributes": ["userName", "displayName", "title"]}

    def bad_settings(self) -> dict[str, Any]:
        return {**self.settings(), "token": "not-the-token"}

    def invalid_settings(self) -> list[dict[str, Any]]:
        return [{**self.settings(), "base_url": "ftp://example.org"},
                {**self.settings(), "write_mode": "merge"}]

    def stream(self, *, incremental: bool = False) -> StreamSpec:
        return StreamSpec("Users", ("externalId",), cursor_field=CURSOR if incremental else None)

    def record(self, key: str, name: str | None, note: str | None,
               cursor: Any = None) -> Record:
        return {**super().record(key, name, note, cursor), "userName": f"{self.tag}{key}"}

    def cursor_value(self, step: int) -> Any:
        return step  # only orders the seeding: the server stamps the real value

    def cursor_order(self, cursor: Any) -> Any:
        return dt.datetime.fromisoformat(cursor)

    def _users(self) -> dict[str, dict[str, Any]]:
        body = self.http.get(f"{self.server.url}/Users", timeout=10, params={
            "filter": f'userName sw "{self.tag}"', "count": 1000}).json()
        return {u["externalId"]: u for u in body.get("Resources") or []}

    def seed(self, records: list[Record]) -> None:
        held = self._users()
        wanted = {str(r["externalId"]): r for r in records}
        for key, user in held.items():
            if key not in wanted:
                self.cursors.pop(key, None)
                self.http.delete(f"{self.server.url}/Users/{user['id']}", timeout=10)
        for key, r in sorted(wanted.items(), key=lambda kv: kv[1].get(CURSOR) or 0):
            body = {"schemas": [CORE], **{f: r[f] for f in FIELDS if r.get(f) is not None}}
            old = held.get(key)
            if old is not None and r.get(CURSOR) is not None and \
                    self.cursors.get(key) == r[CURSOR]:
                continue  # its cursor did not move: the source did not change it
            self.cursors[key] = r.get(CURSOR)
            if old is None:
                answer = self.http.post(f"{self.server.url}/Users", json=body, timeout=10)
            elif {f: old.get(f) for f in FIELDS} != {f: body.get(f) for f in FIELDS}:
                answer = self.http.put(f"{self.server.url}/Users/{old['id']}", json=body,
                                       timeout=10)
            else:
                continue  # unchanged: its lastModified must stay
            assert answer.status_code in (200, 201), answer.text

    def contents(self) -> list[Record]:
        return [{f: u.get(f) for f in FIELDS} for u in self._users().values()]

    def rejected_record(self, key: str) -> Record:
        return {**self.record(key, "kontor-private-name", "kontor-private-note"),
                "active": "kontor-not-a-boolean"}

    def close(self) -> None:
        self.seed([])
        self.http.close()


class TestScimConformance(ConnectorConformance):
    harness = ScimHarness

    @pytest.fixture
    def kontor_harness(self, scim_server: ScimServer, tmp_path: Path) -> Iterator[ScimHarness]:
        harness = ScimHarness(scim_server, tmp_path)
        try:
            yield harness
        finally:
            harness.close()
