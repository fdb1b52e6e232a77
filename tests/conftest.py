"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from hub.golden.writer import writing
from tests.prepared import write_starter
from tests.services import fresh_postgres_database

#: Temporary files in RAM when there is room: tests write and fsync thousands of small
#: stores and files, and on this machine's disk one fsync takes ~8 ms.
RAM_DISK, RAM_NEEDED = Path("/dev/shm"), 4 << 30


#: The longest modules, started first: the test workers (`make test`, one per core, a
#: module at a time) then fill the end of the run with short tests instead of waiting
#: for one long one. Measured with `--durations`; order does not change what is tested.
LONGEST_FIRST = ("tests/api/test_schemathesis.py", "tests/sync/test_concurrent_sources.py",
                 "tests/sync/test_two_instances.py", "tests/sync/test_crash_safety.py",
                 "tests/sync/test_serve_delivers.py", "tests/web/test_browser.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = {name: rank for rank, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: first.get(item.nodeid.split("::")[0], len(first)))


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("TMPDIR") or config.option.basetemp or not RAM_DISK.is_dir():
        return  # the user chose a place (xdist's workers inherit the choice made here)
    if shutil.disk_usage(RAM_DISK).free >= RAM_NEEDED and os.access(RAM_DISK, os.W_OK):
        os.environ["TMPDIR"] = str(RAM_DISK)  # kontor processes the tests start, too
        tempfile.tempdir = None  # recomputed from TMPDIR


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
    return write_starter(tmp_path / "deploy")


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
