"""Fixtures for the dashboard tests: a synced demo hub with one token per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.kit import Served, demo_hub, serve


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    hub = demo_hub(tmp_path_factory.mktemp("hub"))
    yield serve(hub)
    hub.close()
