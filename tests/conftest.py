"""Fixtures shared by the whole suite."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from hub.golden.writer import writing
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


_GOLDEN_WRITE = re.compile(
    r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?golden_(customer|employee)\b",
    re.IGNORECASE)


def _only_the_write_path(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
    """Any statement changing a golden table outside ``GoldenWriter`` fails the test: one
    write path, so every change gets history, match keys, outbox entries and audit."""
    if _GOLDEN_WRITE.match(statement) and not writing.get():
        raise AssertionError("golden table written outside hub.golden.writer.GoldenWriter: "
                             + statement[:80])


@pytest.fixture(autouse=True, scope="session")
def _single_write_path() -> Iterator[None]:
    event.listen(Engine, "before_cursor_execute", _only_the_write_path)
    yield
    event.remove(Engine, "before_cursor_execute", _only_the_write_path)
