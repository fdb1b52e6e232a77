"""Fixtures for the API tests: a shared read-mostly hub, and a fresh one per writing test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.kit import Served, demo_hub, serve


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One synced demo hub for a test module; tests here must not change its records."""
    hub = demo_hub(tmp_path_factory.mktemp("hub"))
    yield serve(hub)
    hub.close()


@pytest.fixture
def fresh(tmp_path: Path, database_url: str) -> Iterator[Served]:
    """A hub of its own, on SQLite and on PostgreSQL, for tests that write."""
    hub = demo_hub(tmp_path / "hub", database_url)
    yield serve(hub)
    hub.close()
