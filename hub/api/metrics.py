"""Prometheus metrics: runs by status, records by outcome, durations, outbox depth, and the
last run's status and last successful run per job — read from the master store at scrape
time, so every hub instance reports the same numbers.

Run statuses are the ones `kontor sync` reports (hub/sync/runner.py): ``success``,
``pending`` (deliveries wait in the outbox), ``partial``, ``failed``, plus ``running`` and
``interrupted``. A pending run is not a success: it never moves
``kontor_last_success_timestamp_seconds``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, func, select

from hub.api.openapi import AUTHENTICATED
from hub.api.security import OperationsReader
from hub.store import bulk
from hub.store.tables import Outbox, Quarantine, SyncRun

router = APIRouter(responses=AUTHENTICATED)
OUTCOMES = ("read", "created", "updated", "unchanged", "skipped", "failed")
STATUSES = ("success", "pending", "partial", "failed", "interrupted", "running")


class StoreCollector:
    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Any:
        runs, o, q = bulk.table_of(SyncRun), bulk.table_of(Outbox), bulk.table_of(Quarantine)
        by_status = GaugeMetricFamily("kontor_runs", "Sync runs by status", labels=["status"])
        records = GaugeMetricFamily("kontor_records", "Records handled by all runs, by stream "
                                    "and outcome", labels=["stream", "outcome"])
        duration = GaugeMetricFamily("kontor_last_run_seconds", "Duration of the last run "
                                     "per trigger", labels=["trigger"])
        success = GaugeMetricFamily("kontor_last_success_timestamp_seconds", "When each "
                                    "trigger (job) last succeeded", labels=["trigger"])
        last_status = GaugeMetricFamily("kontor_last_run_status", "The status of each "
                                        "trigger's (job's) last finished run (1)",
                                        labels=["trigger", "status"])
        depth = GaugeMetricFamily("kontor_outbox_depth", "Records waiting per target",
                                  labels=["target", "status"])
        quarantined = GaugeMetricFamily("kontor_quarantine_open", "Open quarantine entries",
                                        labels=["system"])
        totals: dict[tuple[str, str], int] = {}
        with self.engine.connect() as conn:
            seen: dict[str, int] = {status: n for status, n in conn.execute(
                select(runs.c.status, func.count()).group_by(runs.c.status))}
            for status in (*STATUSES, *sorted(set(seen) - set(STATUSES))):
                by_status.add_metric([status], seen.get(status, 0))
            last: dict[str, Any] = {}
            for r in conn.execute(select(runs).order_by(runs.c.id)):
                for stream, counts in (r.counts or {}).items():
                    for outcome in OUTCOMES:
                        totals[(stream, outcome)] = totals.get((stream, outcome), 0) + \
                            int(counts.get(outcome, 0))
                if r.finished_at is not None:
                    last.setdefault(r.trigger, {})["seconds"] = \
                        (r.finished_at - r.started_at).total_seconds()
                    last[r.trigger]["status"] = r.status
                    if r.status == "success":
                        last[r.trigger]["success"] = r.finished_at.timestamp()
            for system, stream, status, n in conn.execute(
                    select(o.c.system, o.c.stream, o.c.status, func.count())
                    .group_by(o.c.system, o.c.stream, o.c.status)).all():
                depth.add_metric([f"{system}.{stream}", status], n)
            for system, n in conn.execute(select(q.c.system, func.count())
                                          .where(q.c.status == "open").group_by(q.c.system)):
                quarantined.add_metric([system], n)
        for (stream, outcome), n in sorted(totals.items()):
            records.add_metric([stream, outcome], n)
        for trigger, facts in sorted(last.items()):
            duration.add_metric([trigger], facts["seconds"])
            last_status.add_metric([trigger, facts["status"]], 1)
            if "success" in facts:
                success.add_metric([trigger], facts["success"])
        yield from (by_status, records, duration, last_status, success, depth, quarantined)


@router.get("/metrics", tags=["operations"],
            summary="Prometheus metrics (scrape with an operator token as bearer)",
            response_class=PlainTextResponse)  # the text exposition format
def metrics(request: Request, _caller: OperationsReader) -> Response:
    registry = CollectorRegistry()
    registry.register(StoreCollector(request.app.state.hub.engine))  # type: ignore[arg-type]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
