"""Two hub instances on one PostgreSQL: never the same system twice at once, and a killed
instance's job is taken over."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests import kontor_process
from tests.services import fresh_postgres_database


def start(config: Path, url: str, fault: str | None = None) -> kontor_process.KontorProcess:
    """`kontor sync` of one instance, as its own process (tests/kontor_process.py)."""
    env = {**os.environ, "KONTOR_DATABASE_URL": url}
    env.pop("KONTOR_FAULT", None)
    if fault:
        env["KONTOR_FAULT"] = fault
    return kontor_process.KontorProcess(["--config", str(config), "sync"], env=env)


@pytest.fixture
def shared(starter: Path):  # type: ignore[no-untyped-def]
    source = starter.parent / "data" / "source" / "customers.csv"
    header = source.read_text(encoding="utf-8").splitlines()[0]
    rows = [f"{5000 + i},Name{i:05d},Family{i:05d},p{i}@example.org,1970-01-01,de,yes,,"
            f"2026-01-01T00:00:00" for i in range(6000)]
    source.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    starter.write_text(starter.read_text(encoding="utf-8").replace("batch_size: 5000",
                                                                   "batch_size: 100"),
                       encoding="utf-8")
    with fresh_postgres_database() as url:
        yield starter, url


def test_no_overlap_and_takeover_after_a_kill(shared, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, url = shared
    other = tmp_path / "instance-b"  # a second instance: its own folder, the same database
    shutil.copytree(config.parent, other)

    engine = create_engine(url)
    first = start(config, url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the first instance holds its leases
        time.sleep(0.2)
        try:
            with engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM job_lease")).scalar():
                    break
        except Exception:  # noqa: BLE001, S112 - its migrations may not have run yet
            continue
    second = start(other / "kontor.yaml", url)  # while the first syncs 6,000 records
    out, err = second.communicate(timeout=120)
    first.communicate(timeout=300)
    assert first.returncode == 0
    assert second.returncode == 1 and "is being synced by" in err + out
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT id, started_at, finished_at FROM sync_run "
                                 "ORDER BY id")).all()
    for a, b in itertools.pairwise(runs):  # no two runs ever overlapped
        assert a.finished_at is not None and a.finished_at <= b.started_at

    source = config.parent / "data" / "source" / "customers.csv"
    source.write_text(source.read_text(encoding="utf-8").replace("Name00001", "Renamed"),
                      encoding="utf-8")
    shutil.copy(source, other / "data" / "source" / "customers.csv")
    killed = start(config, url, fault="inbound.before_commit@3")
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    takeover = start(other / "kontor.yaml", url)  # the lease of the dead instance is no bar
    out, err = takeover.communicate(timeout=300)
    assert takeover.returncode == 0, err
    with engine.connect() as conn:
        statuses = [r.status for r in conn.execute(text("SELECT status FROM sync_run "
                                                        "ORDER BY id"))]
        renamed = conn.execute(text("SELECT count(*) FROM golden_customer "
                                    "WHERE first_name = 'Renamed'")).scalar()
    assert statuses[-2:] == ["interrupted", "success"] and renamed == 1
    engine.dispose()
