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
The schedule itself is configuration (``hub.config.JobConfig``, validated with the rest of
kontor.yaml); this module runs it. The job store lives in the master database, so schedules
survive restarts; missed runs coalesce into one; and the lease of each system keeps two
instances from running the same job at once.
"""

from __future__ import annotations

import logging
from typing import Any

from hub.config import JobConfig

log = logging.getLogger(__name__)


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
        # The same status and exit code `kontor sync` gives: a job whose deliveries wait is
        # "pending" (a warning), never a success.
        level = {"success": logging.INFO, "failed": logging.ERROR}.get(result.status,
                                                                       logging.WARNING)
        waiting = (f"; {result.pending} records wait for delivery, {result.dead} dead "
                   "letters" if result.pending or result.dead else "")
        log.log(level, "job %s: run %s %s (exit code %s%s)", name, result.run_id,
                result.status, result.exit_code, waiting)
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
