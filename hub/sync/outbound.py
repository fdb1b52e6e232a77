"""Outbound: send golden records through the privacy gate and the mapping to a target.

A golden record is sent when what the target would receive differs from what it last
acknowledged (a hash per target and record), so a second run sends nothing. The target
writes idempotently (upsert by key); the acknowledgement is stored after the write, so a
crash in between means one harmless re-send, never a lost record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from connectors.base import Connector
from hub.canonical import MODELS
from hub.config import Deployment, Stream
from hub.errors import RecordProblem
from hub.records import content_hash
from hub.store import bulk, goldens
from hub.audit.record import AuditLog
from hub.store.sealing import Sealer
from hub.store.tables import Delivery
from hub.sync import quarantine
from hub.sync.counts import StreamCounts
from policies.gate import Destination, FieldDecision, PrivacyGate

Progress = Callable[[int], None]


class OutboundSync:
    """Runs one outbound stream for one run."""

    def __init__(self, deployment: Deployment, stream: Stream, engine: Engine, run_id: int,
                 gate: PrivacyGate, sealer: Sealer, audit: AuditLog | None = None):
        self.stream = stream
        self.engine = engine
        self.run_id = run_id
        self.gate = gate
        self.sealer = sealer
        self.audit = audit
        self._decisions: dict[str, list[FieldDecision]] = {}  # this batch's, for the trail
        self.entity = stream.entity
        self.batch_size = deployment.config.batch_size
        self.custom = {n for n, s in deployment.fields[self.entity].items() if s.custom}
        self.destination = Destination(stream.label, "system", stream.config.purpose)
        self.fields = stream.mapping.canonical_fields
        self.builtin = [n for n, s in deployment.fields[self.entity].items() if not s.custom]
        self.counts = StreamCounts(stream.system, stream.name, "outbound", self.entity)

    def total(self) -> int:
        from sqlalchemy import func
        t = bulk.table_of(MODELS[self.entity])
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t)).scalar_one())

    def _eligible(self, row: dict[str, Any]) -> bool:
        for field, wanted in self.stream.config.only_if.items():
            value = row["custom"].get(field) if field in self.custom else row.get(field)
            if value != wanted:
                return False
        return True

    def run(self, connector: Connector, progress: Progress | None = None) -> StreamCounts:
        spec = self.stream.spec
        for rows in goldens.scan(self.engine, self.sealer, self.entity, self.batch_size):
            pending: dict[str, tuple[dict[str, Any], str, str]] = {}
            batch_keys: set[str] = set()
            for row in rows:
                self.counts.read += 1
                if not self._eligible(row):
                    self.counts.skipped += 1
                    continue
                record = self._prepare(row)
                if record is None:
                    continue
                key_values = [record.get(k) for k in spec.key]
                if any(v is None or v == "" for v in key_values):
                    self.counts.skipped += 1  # e.g. a customer without email: not a subscriber
                    continue
                target_key = "|".join(str(v) for v in key_values)
                if target_key in batch_keys:
                    # Two golden records claim one target row (e.g. a shared mailbox):
                    # sending both would make them overwrite each other on every run.
                    self.counts.skipped += 1
                    continue
                batch_keys.add(target_key)
                pending[row["id"]] = (record, target_key, content_hash(record))
            self._deliver(connector, pending)
            if progress:
                progress(len(rows))
        return self.counts

    def _prepare(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The target's record for one golden record: through the gate, then the mapping.

        A failure here (a transform that cannot handle a value, a mapping that cannot render
        it) quarantines this record with a reason that names the field but never the value.
        """
        golden = {**{f: row[f] for f in self.builtin}, **row["custom"]}
        try:
            released, decisions = self.gate.release(
                self.entity, {f: golden.get(f) for f in self.fields}, self.destination,
                record=golden, record_id=row["id"])
            self._decisions[row["id"]] = decisions
            return self.stream.mapping.outbound(released)
        except Exception as exc:  # noqa: BLE001 - one record must not stop the stream
            self.counts.failed += 1
            problem = RecordProblem(f"could not prepare the record for this target "
                                    f"({type(exc).__name__})", self.stream.system,
                                    self.stream.name, location=f"golden {row['id']}")
            with self.engine.begin() as conn:
                quarantine.save(conn, quarantine.quarantine_rows(
                    [(problem, None)], run_id=self.run_id, system=self.stream.system,
                    stream=self.stream.name, entity=self.entity, direction="outbound",
                    now=dt.datetime.now(dt.UTC), sealer=self.sealer))
            return None

    def _deliver(self, connector: Connector,
                 pending: dict[str, tuple[dict[str, Any], str, str]]) -> None:
        with self.engine.connect() as conn:
            acked = bulk.fetch_deliveries(conn, self.stream.system, self.stream.name,
                                          list(pending))
        to_send = {gid: p for gid, p in pending.items() if acked.get(gid) != p[2]}
        self.counts.unchanged += len(pending) - len(to_send)
        if not to_send:
            return
        ids = list(to_send)
        result = connector.write(self.stream.spec, [to_send[g][0] for g in ids])
        rejected_keys = {key for key, _ in result.rejected}
        now = dt.datetime.now(dt.UTC)
        deliveries: list[dict[str, Any]] = []
        problems: list[tuple[RecordProblem, dict[str, Any] | None]] = []
        by_key = {to_send[g][1]: g for g in ids}
        for key, problem in result.rejected:
            gid = by_key.get(key, key)
            problem.system, problem.stream = self.stream.system, self.stream.name
            problem.location = problem.location or f"golden {gid}"
            problems.append((problem, None))
        for gid in ids:
            _record, target_key, payload_hash = to_send[gid]
            if target_key in rejected_keys:
                continue
            if gid in acked:
                self.counts.updated += 1
            else:
                self.counts.created += 1
            deliveries.append({"system": self.stream.system, "stream": self.stream.name,
                               "golden_id": gid, "target_key": target_key,
                               "payload_hash": payload_hash, "run_id": self.run_id,
                               "delivered_at": now})
        self.counts.failed += len(problems)
        with self.engine.begin() as conn:
            bulk.upsert(conn, bulk.table_of(Delivery), deliveries,
                        ["system", "stream", "golden_id"])
            quarantine.save(conn, quarantine.quarantine_rows(
                problems, run_id=self.run_id, system=self.stream.system,
                stream=self.stream.name, entity=self.entity, direction="outbound", now=now,
                sealer=self.sealer))
            self._audit(conn, to_send, rejected_keys, now)
        self._decisions.clear()

    def _audit(self, conn: Any, sent: dict[str, tuple[dict[str, Any], str, str]],
               rejected_keys: set[str], now: dt.datetime) -> None:
        """One trail entry per record sent or refused, with every field's decision."""
        if self.audit is None:
            return
        log = self.audit
        for gid, (record, target_key, _hash) in sent.items():
            decisions = self._decisions.get(gid, [])
            log.add("transfer.out", "rejected" if target_key in rejected_keys else "sent",
                    at=now, run_id=self.run_id, source="hub", destination=self.stream.label,
                    entity=self.entity, golden_id=gid, purpose=self.stream.config.purpose,
                    decisions=log.decisions(decisions), policy_version=self.gate.version,
                    value_hash=log.value_hash(record),
                    detail={"legal_bases": sorted({d.legal_basis for d in decisions
                                                   if d.legal_basis})})
        log.flush(conn)

