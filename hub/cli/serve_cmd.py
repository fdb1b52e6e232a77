"""``kontor serve``: the API, the dashboard and the scheduled jobs; the API in one process,
or in several (``--workers``) under this one, which runs the jobs and deliveries."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from hub.cli.output import console, err_console, fail


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    scheduler: Annotated[bool, typer.Option(
        help="Run the jobs of kontor.yaml on their schedules.")] = True,
    deliver: Annotated[bool, typer.Option(
        help="Deliver every change (API, SCIM, steward, syncs) to its targets within "
             "seconds, without waiting for a scheduled job.")] = True,
    workers: Annotated[int, typer.Option(
        min=1, max=64,
        help="Processes serving the API (one per CPU core uses them all; the scheduled "
             "jobs and the delivery worker still run once, in this process).")] = 1,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs), run the scheduled sync jobs, and
    deliver changes to their targets as they happen."""
    os.umask(0o077)  # the store, its WAL and every file the server writes: owner-only
    with err_console.status("opening the master store, loading the API…"):
        from hub.api import server
        from hub.api.app import create_app
        from hub.context import open_hub
        from hub.errors import HubError
        from hub.jobs import start_scheduler
        from hub.sync.worker import DeliveryWorker

        try:
            hub = open_hub(ctx.obj["config"])  # validate and migrate before any request
        except HubError as exc:
            fail(exc)
    os.environ["KONTOR_CONFIG"] = str(hub.deployment.path)
    jobs = hub.deployment.config.jobs
    running = start_scheduler(str(hub.deployment.path), hub.deployment.database_url, jobs) \
        if scheduler else None
    base = (hub.deployment.config.public_url or f"http://{host}:{port}").rstrip("/")
    console.print(f"Kontor API on http://{host}:{port} — docs at {base}/docs, "
                  f"dashboard at {base}/ui/", highlight=False)
    if running is not None:
        for job in running.get_jobs():
            console.print(f"  job {job.name}: next run {job.next_run_time:%Y-%m-%d %H:%M %Z}",
                          highlight=False)
    worker = DeliveryWorker(hub.deployment, hub.engine).start() if deliver else None
    try:
        # With workers, each is a fresh process that opens the deployment of KONTOR_CONFIG
        # (set above) without migrating it again; this process only supervises them, so
        # the scheduler and the delivery worker above never start twice.
        server.serve(create_app(hub) if workers == 1 else None, host=host, port=port,
                     workers=workers)
    finally:
        if worker is not None:
            worker.stop()
        if running is not None:
            running.shutdown(wait=False)
