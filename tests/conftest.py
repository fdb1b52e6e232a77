"""Fixtures shared by the whole suite."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies import keys
from tests.services import fresh_postgres_database

TEMPLATE = Path(__file__).resolve().parent.parent / "hub" / "init_template"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The master store on each supported database: an SQLite file and real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture
def starter(tmp_path: Path) -> Path:
    """A copy of the `kontor init` starter deployment; returns its kontor.yaml."""
    target = tmp_path / "deploy"
    shutil.copytree(TEMPLATE, target)
    (target / "data" / "target").mkdir(parents=True, exist_ok=True)
    keys.create(target / ".kontor" / "keyring.json")
    return target / "kontor.yaml"


@pytest.fixture(autouse=True)
def _no_master_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests use their deployment's keyring file, never a developer's KONTOR_MASTER_KEY."""
    monkeypatch.delenv("KONTOR_MASTER_KEY", raising=False)
