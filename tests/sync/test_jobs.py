"""Scheduled jobs: validated in kontor.yaml, kept in the master database, and run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from hub import config
from hub.context import open_hub
from hub.errors import ConfigError
from hub.jobs import run_job, start_scheduler
from hub.store import bulk
from hub.store.tables import SyncRun

JOBS = """
jobs:
  every-second:
    systems: [shop, mailing]
    interval: 1s
  nightly:
    cron: "0 2 * * *"
"""


def test_jobs_are_validated_all_at_once(starter: Path) -> None:
    starter.write_text(starter.read_text(encoding="utf-8") + """
jobs:
  broken:
    systems: [shop, nosuch]
    cron: "61 * * * *"
  both:
    cron: "0 2 * * *"
    interval: 1h
""", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config.load(starter)
    paths = {p.path for p in info.value.problems}
    assert {"jobs.broken.cron", "jobs.both"} <= paths


def test_the_scheduler_runs_a_job_and_keeps_it_in_the_database(starter: Path) -> None:
    starter.write_text(starter.read_text(encoding="utf-8") + JOBS, encoding="utf-8")
    hub = open_hub(starter)
    scheduler = start_scheduler(str(starter), hub.deployment.database_url,
                                hub.deployment.config.jobs)
    try:
        names = sorted(j.name for j in scheduler.get_jobs())
        assert names == ["audit checkpoint", "every-second", "nightly"]
        runs = bulk.table_of(SyncRun)
        deadline = time.monotonic() + 15
        triggers: list[str] = []
        while time.monotonic() < deadline and not triggers:
            time.sleep(0.5)
            with hub.engine.connect() as conn:
                triggers = [r.trigger for r in conn.execute(
                    select(runs.c.trigger).where(runs.c.status != "running"))]
        assert "scheduler:every-second" in triggers
    finally:
        scheduler.shutdown(wait=True)
    # a restart finds the jobs in the database and drops the ones no longer configured
    starter.write_text(starter.read_text(encoding="utf-8").replace(JOBS, """
jobs:
  nightly:
    cron: "0 2 * * *"
"""), encoding="utf-8")
    again = start_scheduler(str(starter), hub.deployment.database_url,
                            config.load(starter).config.jobs)
    try:
        assert sorted(j.name for j in again.get_jobs()) == ["audit checkpoint", "nightly"]
    finally:
        again.shutdown(wait=False)
    hub.close()


def test_a_job_run_by_hand_records_its_trigger(starter: Path) -> None:
    starter.write_text(starter.read_text(encoding="utf-8") + JOBS, encoding="utf-8")
    run_job(str(starter), "nightly")
    hub = open_hub(starter)
    runs = bulk.table_of(SyncRun)
    with hub.engine.connect() as conn:
        rows = conn.execute(select(runs.c.trigger, runs.c.status)).all()
    assert [(r.trigger, r.status) for r in rows] == [("scheduler:nightly", "success")]
    hub.close()
