"""The REST connector passes the conformance kit against the real HTTP server of
tests/connectors/rest_server.py (page-numbered pagination, bearer auth)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Record, StreamSpec
from connectors.rest import RestConnector
from hub.testing import ConnectorConformance, Harness
from tests.connectors.rest_server import Server, running

RESOURCE = "/page/customers"


class RestHarness(Harness):
    """The server's collection, seeded and inspected through its in-memory state."""

    connector_class = RestConnector
    can_reject = True  # the server answers 422 to an email without "@"

    def __init__(self, server: Server, base_dir: Path):
        super().__init__(base_dir)
        self.server = server
        server.state.auth, server.state.secret = "bearer", "kit-token"

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.server.url, "auth": "bearer", "token": "kit-token",
                "retry": {"attempts": 2, "backoff": 0.01},
                "resources": {RESOURCE: {"records_path": "data.items",
                                         "since_param": "updated_since",
                                         "pagination": {"style": "page", "page_size": 2}}}}

    def bad_settings(self) -> dict[str, Any]:
        return {**self.settings(), "token": "not-the-token"}

    def invalid_settings(self) -> list[dict[str, Any]]:
        return [{**self.settings(), "base_url": "ftp://example.org"},
                {**self.settings(), "token": None}]  # bearer without a token

    def stream(self, *, incremental: bool = False) -> StreamSpec:
        return StreamSpec(RESOURCE, ("id",), cursor_field="updated_at" if incremental else None)

    def cursor_value(self, step: int) -> Any:
        return f"2024-01-01T00:{step:02d}:00Z"

    def seed(self, records: list[Record]) -> None:
        state = self.server.state
        with state.lock:  # an API stamps what it stores; given stamps are kept
            state.customers = {str(r["id"]): {**r, "updated_at": r.get("updated_at")
                                              or state.tick()} for r in records}

    def contents(self) -> list[Record]:
        with self.server.state.lock:
            return [dict(r) for r in self.server.state.customers.values()]

    def rejected_record(self, key: str) -> Record:
        return {**self.record(key, "kontor-private-name", "kontor-private-note"),
                "email": "kontor-private-no-at-sign"}


class TestRestConformance(ConnectorConformance):
    harness = RestHarness

    @pytest.fixture
    def kontor_harness(self, tmp_path: Path) -> Iterator[RestHarness]:
        with running() as server:
            yield RestHarness(server, tmp_path)
