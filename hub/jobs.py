"""Scheduled sync jobs: declared in kontor.yaml, run by APScheduler inside `kontor serve`.

```yaml
jobs:
  nightly:
    cron: "0 2 * * *"          # crontab syntax, in the hub's local time zone
  crm-to-newsletter:
    systems: [crm, newsletter]
    interval: 15m              # or a fixed interval: 30s, 15m, 2h, 1d
    misfire_grace_time: 600    # a run missed by less than this still happens
```
The job store lives in the master database, so schedules survive restarts; missed runs
coalesce into one; and the lease of each system keeps two instances from running the same
job at once.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

log = logging.getLogger(__name__)
_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class JobConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    systems: list[str] = Field(default_factory=list)  # empty: every system
    cron: str | None = None
    interval: str | None = None
    misfire_grace_time: int = Field(default=3600, ge=1)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None and not _INTERVAL.match(value):
            raise ValueError("interval must look like 30s, 15m, 2h or 1d")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(f"not a crontab expression ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> JobConfig:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("a job needs exactly one of cron or interval")
        return self

    def trigger(self) -> Any:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if self.cron:
            return CronTrigger.from_crontab(self.cron)
        m = _INTERVAL.match(self.interval or "")
        assert m is not None
        return IntervalTrigger(**{_UNITS[m.group(2)]: int(m.group(1))})


def run_job(config_file: str, name: str) -> None:
    """What the scheduler calls (a module-level function, so the job store can keep it)."""
    from hub.context import open_hub
    from hub.errors import HubError
    from hub.sync.lease import Busy
    from hub.sync.runner import run_sync

    try:
        hub = open_hub(config_file)
    except HubError as exc:
        log.error("job %s cannot start: %s", name, exc)
        return
    job = hub.deployment.config.jobs.get(name)
    if job is None:
        log.warning("job %s is no longer configured", name)
        return
    try:
        result = run_sync(hub.deployment, hub.engine, systems=job.systems or None,
                          trigger=f"scheduler:{name}", actor=f"scheduler:{name}")
        log.info("job %s: run %s %s", name, result.run_id, result.status)
    except Busy as exc:
        log.info("job %s skipped: %s", name, exc)
    finally:
        hub.close()


def checkpoint_job(config_file: str) -> None:
    """Sign the audit trail's tip every hour, also when nothing happened: gaps then show."""
    from hub.audit import signing
    from hub.context import open_hub

    hub = open_hub(config_file)
    try:
        with hub.engine.begin() as conn:
            signing.checkpoint(conn, hub.deployment.keyring())
    finally:
        hub.close()


def start_scheduler(config_file: str, database_url: str, jobs: dict[str, JobConfig]) -> Any:
    """A started BackgroundScheduler with every configured job (and no stale ones)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from hub.store.db import normalise_url

    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=normalise_url(database_url),
                                                 tablename="scheduler_job")},
        job_defaults={"coalesce": True, "max_instances": 1})
    scheduler.start(paused=True)
    wanted = {f"kontor:{name}" for name in jobs} | {"kontor:audit-checkpoint"}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            job.remove()
    for name, job_config in jobs.items():
        scheduler.add_job(run_job, job_config.trigger(), args=[config_file, name],
                          id=f"kontor:{name}", name=name, replace_existing=True,
                          misfire_grace_time=job_config.misfire_grace_time)
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler.add_job(checkpoint_job, IntervalTrigger(hours=1), args=[config_file],
                      id="kontor:audit-checkpoint", name="audit checkpoint",
                      replace_existing=True, misfire_grace_time=3600)
    scheduler.resume()
    return scheduler
