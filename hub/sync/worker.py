"""Delivery without waiting: under `kontor serve`, changes reach their targets in seconds.

A change made through the API, SCIM, the dashboard or a steward enters the outbox in its
own transaction (``hub.golden.writer``). The outbox wakes this worker: in this process
through ``outbox.CHANGED``; from other hub instances on one PostgreSQL through
``LISTEN kontor_outbox`` (``enqueue`` sends ``pg_notify`` in the writing transaction, so it
arrives only once that commits). The worker then runs an outbound-only sync of the targets
with deliveries due, under the same leases as any sync, so a scheduled job or another
instance syncing the same target makes it skip that round, never deliver twice. A slow
poll catches retries whose backoff ran out and any wake-up that was missed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from sqlalchemy import Engine, select

from hub.config import Deployment
from hub.errors import HubError
from hub.store import bulk, outbox
from hub.store.db import normalise_url
from hub.store.tables import Outbox
from hub.sync.lease import Busy
from hub.sync.runner import RunResult, run_sync

log = logging.getLogger(__name__)

#: A woken worker waits this long first: the wake-up may come just before the commit.
SETTLE = 0.05
#: At most this many delivery rounds a second: each round is a run with its own audit
#: entries and checkpoint, and a burst of API writes is better delivered as one batch.
MIN_GAP = 0.25


def due_systems(engine: Engine, deployment: Deployment) -> list[str]:
    """Systems with at least one delivery due now, among the configured outbound ones."""
    t = bulk.table_of(Outbox)
    now = dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        found = set(conn.execute(select(t.c.system).distinct().where(
            t.c.status == "pending",
            (t.c.next_attempt_at.is_(None)) | (t.c.next_attempt_at <= now))).scalars())
    configured = {s.system for s in deployment.streams("outbound")}
    return sorted(found & configured)


def deliver_due(deployment: Deployment, engine: Engine, *, trigger: str = "deliver"
                ) -> RunResult | None:
    """One outbound-only run over the targets with deliveries due; None when none is."""
    systems = due_systems(engine, deployment)
    if not systems:
        return None
    return run_sync(deployment, engine, systems=systems, inbound=False, trigger=trigger,
                    actor="delivery-worker")


class DeliveryWorker:
    """A background thread delivering outbox entries as soon as they are written."""

    def __init__(self, deployment: Deployment, engine: Engine, *, poll: float = 2.0):
        self.deployment, self.engine, self.poll = deployment, engine, poll
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.runs = 0

    def start(self) -> DeliveryWorker:
        self._threads = [threading.Thread(target=self._loop, name="kontor-delivery",
                                          daemon=True)]
        if self.engine.dialect.name == "postgresql":
            self._threads.append(threading.Thread(target=self._listen, daemon=True,
                                                  name="kontor-outbox-listen"))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        outbox.CHANGED.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _loop(self) -> None:
        last = 0.0
        while not self._stop.is_set():
            outbox.CHANGED.wait(self.poll)
            if self._stop.is_set():
                return
            self._stop.wait(max(SETTLE, last + MIN_GAP - time.monotonic()))
            outbox.CHANGED.clear()
            last = time.monotonic()
            try:
                result = deliver_due(self.deployment, self.engine)
            except Busy as exc:  # a sync of that target runs now: it delivers
                log.info("delivery skipped: %s", exc)
                continue
            except (HubError, OSError) as exc:
                log.error("delivery failed: %s", exc)
                continue
            except Exception:
                log.exception("delivery failed")
                continue
            if result is not None:
                self.runs += 1
                log.info("delivery run %s: %s", result.run_id, result.status)

    def _listen(self) -> None:
        """PostgreSQL: other instances' commits wake this one too."""
        import psycopg

        url = normalise_url(self.deployment.database_url).replace(
            "postgresql+psycopg://", "postgresql://")
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("LISTEN kontor_outbox")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            outbox.CHANGED.set()
            except psycopg.Error as exc:
                log.warning("outbox LISTEN lost (%s); retrying", type(exc).__name__)
                self._stop.wait(5)
