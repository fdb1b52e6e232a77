"""Fixtures for the dashboard tests: a synced demo hub with one token per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.kit import Served, demo_hub, raise_review_pair, serve


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The demo, plus one sign-up the matcher leaves to a steward (one open review pair)."""
    hub, _ = raise_review_pair(demo_hub(tmp_path_factory.mktemp("hub")))
    yield serve(hub)
    hub.close()
