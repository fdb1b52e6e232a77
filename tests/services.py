"""Real services for integration tests: skip with a reason on a developer's machine that
lacks one, but never skip in CI (CI=true), where a missing service is a failure."""

from __future__ import annotations

import atexit
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import pytest
from sqlalchemy import create_engine, make_url, text

POSTGRES_ADMIN_URL = os.environ.get(
    "KONTOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: services must run in CI, see .ci/run)")
    pytest.skip(reason)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"kontor_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            # A test never survives a server crash, so its commits need not wait for the
            # disk (one flush of the write-ahead log is ~8 ms here); a SIGKILLed client
            # loses nothing it committed either way.
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not here"
        admin.dispose()
        unavailable(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {type(exc).__name__}")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Stoppable(Protocol):
    """A process a test started: ``subprocess.Popen`` or ``tests.kontor_process.KontorProcess``."""

    def terminate(self) -> None: ...
    def kill(self) -> None: ...
    def wait(self, timeout: float | None = None) -> int: ...


def template_postgres_database() -> tuple[str, str]:
    """A PostgreSQL database that lives until this test process ends, to be filled once and
    copied with ``clone_postgres_database``; returns its URL and name."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"kontor_template_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    atexit.register(drop)
    return admin.url.set(database=name).render_as_string(hide_password=False), name


def clone_postgres_database(template: str, url: str) -> None:
    """Make the (empty, fresh) database of ``url`` a copy of database ``template``: a file
    copy inside the server, milliseconds instead of seconds of migrating and syncing."""
    name = make_url(url).database
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    finally:
        admin.dispose()


def stop_process(process: Stoppable) -> None:
    """Stop a server a test started: terminate, then kill if it lingers."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
