"""Retry quarantined inbound records: map the stored raw record again, store it if it passes.

A retry is a small run of its own (trigger ``quarantine-retry``): the raw records go
through the very ``InboundSync`` a sync uses (mapping, matching, survivorship, history,
audit), fed by a replay connector instead of the system. An entry that passes is closed as
``retried``; one that fails again is superseded by a new entry with today's reason.
No cursor moves and no deletes are inferred: a replay is not a snapshot of the source.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from connectors.base import Connector, ReadBatch, SourceRecord, StreamSpec
from hub.audit.record import AuditLog
from hub.context import Hub
from hub.store import bulk
from hub.store.quarantine_kinds import dropped_clause, is_dropped
from hub.store.tables import Quarantine
from hub.sync.counts import StreamCounts
from hub.sync.inbound import InboundSync
from hub.sync.runner import RunResult, _finish_run, _start_run, _status


class _Replay(Connector):
    """A connector that reads back what the quarantine kept."""

    kind = "quarantine-replay"

    def __init__(self, records: list[SourceRecord]):  # no settings, no system to reach
        self.records = records
        self.system = "quarantine"

    def check(self) -> None:
        """Nothing to connect to."""

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[ReadBatch]:
        for i in range(0, len(self.records), batch_size):
            yield ReadBatch(records=self.records[i:i + batch_size])


@dataclass
class RetryResult:
    run_id: int | None = None
    retried: list[int] = field(default_factory=list)  # passed and stored
    failed: list[int] = field(default_factory=list)  # refused again (a new entry each)
    skipped: dict[int, str] = field(default_factory=dict)  # id -> why it cannot be retried
    streams: list[StreamCounts] = field(default_factory=list)


def retry(hub: Hub, ids: list[int] | None = None, *, system: str | None = None,
          actor: str = "cli") -> RetryResult:
    """Retry open inbound entries (``ids``, or all of ``system``, or all)."""
    q = bulk.table_of(Quarantine)
    stmt = select(q).where(q.c.status == "open")
    if ids:
        stmt = stmt.where(q.c.id.in_(ids))
    if system:
        stmt = stmt.where(q.c.system == system)
    with hub.engine.connect() as conn:
        entries = [dict(r._mapping) for r in conn.execute(stmt.order_by(q.c.id))]
    result = RetryResult()
    streams = {(s.system, s.name): s for s in hub.deployment.streams("inbound")}
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in entries:
        raw = hub.sealer.open_payload(e["payload"])
        if e["direction"] != "inbound":
            result.skipped[e["id"]] = "outbound: the next sync sends the record again"
        elif is_dropped(e["reason"]):
            result.skipped[e["id"]] = ("the record is stored without this field: fix the "
                                       "value at the source and sync again, or discard this "
                                       "entry")
        elif (e["system"], e["stream"]) not in streams:
            result.skipped[e["id"]] = f"stream {e['system']}.{e['stream']} is not configured"
        elif raw is None:
            result.skipped[e["id"]] = "no readable record was kept (fix the source, sync again)"
        else:
            groups.setdefault((e["system"], e["stream"]), []).append({**e, "raw": raw})
    if not groups:
        return result
    keyring = hub.deployment.keyring()
    run_id = _start_run(hub.engine, "quarantine-retry")
    run = RunResult(run_id, "running")
    audit = AuditLog(keyring, actor)
    started = dt.datetime.now(dt.UTC)
    for key, group in groups.items():
        inbound = InboundSync(hub.deployment, streams[key], hub.engine, run_id, started,
                              hub.sealer, audit)
        inbound.settle = True  # close the entries this replay decides
        inbound.mm.snapshot = False
        records = [SourceRecord(e["raw"], e["location"] or f"quarantine #{e['id']}")
                   for e in group]
        run.streams.append(inbound.run(_Replay(records)))
    run.status = _status(run.streams)
    _finish_run(hub.engine, run_id, run)
    with hub.engine.begin() as conn:
        audit.add("run", run.status, run_id=run_id, detail={"trigger": "quarantine-retry"})
        audit.flush(conn)
        tried = [e["id"] for g in groups.values() for e in g]
        statuses = dict(conn.execute(select(q.c.id, q.c.status).where(q.c.id.in_(tried))).all())
        passed = [i for i in tried if statuses.get(i) == "resolved"]
        passed += _stored_without_fields(conn, run_id, [
            e for g in groups.values() for e in g if statuses.get(e["id"]) == "superseded"])
        conn.execute(update(q).where(q.c.id.in_(passed or [-1])).values(status="retried"))
    result.run_id, result.streams = run_id, run.streams
    result.retried = passed
    result.failed = [i for i in tried if i not in passed]
    return result


def _stored_without_fields(conn: Any, run_id: int, entries: list[dict[str, Any]]) -> list[int]:
    """Entries whose record this retry stored, only without a field it dropped: every new
    entry of the record in this run is a dropped field's."""
    q = bulk.table_of(Quarantine)
    stored = []
    for e in entries:
        new = conn.execute(select(dropped_clause(q.c.reason)).where(
            q.c.run_id == run_id, q.c.system == e["system"], q.c.stream == e["stream"],
            q.c.source_key == e["source_key"])).scalars().all()
        if e["source_key"] and new and all(new):
            stored.append(e["id"])
    return stored


def discard(hub: Hub, ids: list[int] | None = None, *, system: str | None = None) -> list[int]:
    """Close open entries without retrying them (the record is given up); their ids."""
    q = bulk.table_of(Quarantine)
    scope = [q.c.status == "open"]
    if ids:
        scope.append(q.c.id.in_(ids))
    if system:
        scope.append(q.c.system == system)
    with hub.engine.begin() as conn:
        found = list(conn.execute(select(q.c.id).where(*scope)).scalars())
        if found:
            conn.execute(update(q).where(q.c.id.in_(found)).values(status="discarded"))
    return found
