"""Outbound: deliver golden records from the outbox through the privacy gate and the
mapping to a target.

Inbound changes put golden ids into the outbox in their own transaction; this stream takes
them out only in the transaction that records the target's acknowledgement. A record is
written when what the target would receive differs from what it last acknowledged, so a
second run sends nothing; targets upsert by key, so a crash between write and
acknowledgement costs one harmless re-send. A new target, or a changed policy or mapping,
puts every golden record back into the outbox for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from connectors.base import Connector
from hub import faults
from hub.audit.record import AuditLog
from hub.config import Deployment, Stream
from hub.errors import ConnectorError, RecordProblem
from hub.records import content_hash
from hub.store import bulk, goldens
from hub.store.sealing import Sealer
from hub.store.tables import Delivery, Outbox, StreamState
from hub.sync import outbox, quarantine
from hub.sync.counts import StreamCounts
from hub.sync.delivery import Delivered, deliver
from policies.gate import Destination, FieldDecision, PrivacyGate

Progress = Callable[[int], None]
Prepared = tuple[dict[str, Any], str, str]  # (target record, target key, payload hash)


class OutboundSync:
    """Runs one outbound stream for one run."""

    def __init__(self, deployment: Deployment, stream: Stream, engine: Engine, run_id: int,
                 gate: PrivacyGate, sealer: Sealer, audit: AuditLog | None = None):
        self.deployment = deployment
        self.stream = stream
        self.engine = engine
        self.run_id = run_id
        self.gate = gate
        self.sealer = sealer
        self.audit = audit
        self.entity = stream.entity
        self.batch_size = deployment.config.batch_size
        self.custom = {n for n, s in deployment.fields[self.entity].items() if s.custom}
        self.destination = Destination(stream.label, "system", stream.config.purpose)
        self.fields = stream.mapping.canonical_fields
        self.builtin = [n for n, s in deployment.fields[self.entity].items() if not s.custom]
        self.counts = StreamCounts(stream.system, stream.name, "outbound", self.entity)
        self._decisions: dict[str, list[FieldDecision]] = {}  # this batch's, for the trail

    # -- what is due ------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """Everything that decides what this target receives: when it changes, every golden
        record is due again."""
        system = self.deployment.systems[self.stream.system].config
        parts = [self.gate.version, self.stream.config.model_dump_json(),
                 json.dumps(system.settings, sort_keys=True, default=str),
                 Path(self.stream.mapping.source).read_text(encoding="utf-8", errors="replace")]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]

    def prepare_outbox(self) -> int:
        """Enqueue everything when the target or its rules are new; return what is due."""
        state, fp = bulk.table_of(StreamState), self.fingerprint()
        key = {"system": self.stream.system, "stream": self.stream.name}
        with self.engine.begin() as conn:
            row = conn.execute(select(state.c.cursor).where(
                state.c.system == key["system"], state.c.stream == key["stream"])).first()
            if row is None or (row.cursor or {}).get("fingerprint") != fp:
                outbox.enqueue_all(conn, self.entity, key["system"], key["stream"])
                bulk.upsert(conn, state, [{**key, "cursor": {"fingerprint": fp},
                                           "run_id": self.run_id,
                                           "updated_at": dt.datetime.now(dt.UTC)}],
                            ["system", "stream"])
            o = bulk.table_of(Outbox)
            return int(conn.execute(select(func.count()).select_from(o).where(
                o.c.system == key["system"], o.c.stream == key["stream"],
                o.c.status == "pending")).scalar_one())

    # -- the run ----------------------------------------------------------------------------

    def run(self, connector: Connector, progress: Progress | None = None) -> StreamCounts:
        after = ""
        while True:
            with self.engine.connect() as conn:
                ids = outbox.due(conn, self.stream.system, self.stream.name, after,
                                 self.batch_size)
                rows = goldens.read(conn, self.sealer, self.entity, ids) if ids else {}
            if not ids:
                return self.counts
            after = ids[-1]
            pending, finished = self._prepare_batch(ids, rows)
            open_circuit = self._deliver(connector, pending, finished)
            if progress:
                progress(len(ids))
            if open_circuit:  # the target is down: the rest waits in the outbox
                return self.counts

    def _prepare_batch(self, ids: list[str], rows: dict[str, dict[str, Any]]
                       ) -> tuple[dict[str, Prepared], list[str]]:
        pending: dict[str, Prepared] = {}
        finished: list[str] = []  # nothing to send: leave the outbox
        batch_keys: set[str] = set()
        key_columns = self.stream.spec.key
        for gid in ids:
            self.counts.read += 1
            row = rows.get(gid)
            if row is None or not self._eligible(row):
                self.counts.skipped += 1
                finished.append(gid)
                continue
            record = self._prepare(row)
            if record is None:  # quarantined; its outbox row is dead-lettered
                continue
            key_values = [record.get(k) for k in key_columns]
            target_key = "|".join(str(v) for v in key_values)
            if any(v is None or v == "" for v in key_values) or target_key in batch_keys:
                # No key (a customer without email is no subscriber), or two golden records
                # claiming one target row: sending both would flip it on every run.
                self.counts.skipped += 1
                finished.append(gid)
                continue
            batch_keys.add(target_key)
            pending[gid] = (record, target_key, content_hash(record))
        return pending, finished

    def _eligible(self, row: dict[str, Any]) -> bool:
        for field, wanted in self.stream.config.only_if.items():
            value = row["custom"].get(field) if field in self.custom else row.get(field)
            if value != wanted:
                return False
        return True

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
            reason = f"could not prepare the record for this target ({type(exc).__name__})"
            self.counts.failed += 1
            problem = RecordProblem(reason, self.stream.system, self.stream.name,
                                    location=f"golden {row['id']}")
            with self.engine.begin() as conn:
                quarantine.save(conn, quarantine.quarantine_rows(
                    [(problem, None)], run_id=self.run_id, system=self.stream.system,
                    stream=self.stream.name, entity=self.entity, direction="outbound",
                    now=dt.datetime.now(dt.UTC), sealer=self.sealer))
                outbox.failed(conn, self.stream.system, self.stream.name, [row["id"]],
                              reason, dead=True)
            return None

    # -- delivery ---------------------------------------------------------------------------

    def _deliver(self, connector: Connector, pending: dict[str, Prepared],
                 finished: list[str]) -> bool:
        """Write what changed; record acknowledgements, refusals and the trail together.
        Returns True when the target failed (open the circuit for this run)."""
        system, stream = self.stream.system, self.stream.name
        with self.engine.connect() as conn:
            acked = bulk.fetch_deliveries(conn, system, stream, list(pending))
        to_send = {gid: p for gid, p in pending.items() if acked.get(gid) != p[2]}
        self.counts.unchanged += len(pending) - len(to_send)
        finished += [gid for gid in pending if gid not in to_send]
        faults.point("outbound.before_write")
        try:
            result: Delivered | None = deliver(connector, self.stream.spec, to_send) \
                if to_send else None
        except ConnectorError as exc:
            with self.engine.begin() as conn:
                outbox.done(conn, system, stream, finished)
                dead = outbox.failed(conn, system, stream, list(to_send), str(exc))
            self.counts.error = (f"{exc} — {len(to_send)} records wait in the outbox"
                                 + (f", {dead} dead-lettered" if dead else ""))
            self._decisions.clear()
            return True
        faults.point("outbound.after_write")
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            outbox.done(conn, system, stream, finished)
            if result is not None:
                self._record(conn, result, acked, now)
            faults.point("outbound.before_ack_commit")
        self._decisions.clear()
        return False

    def _record(self, conn: Any, result: Delivered, acked: dict[str, str],
                now: dt.datetime) -> None:
        system, stream = self.stream.system, self.stream.name
        for gid in result.written:
            if gid in acked:
                self.counts.updated += 1
            else:
                self.counts.created += 1
        bulk.upsert(conn, bulk.table_of(Delivery), [
            {"system": system, "stream": stream, "golden_id": gid,
             "target_key": result.sent[gid][1], "payload_hash": result.sent[gid][2],
             "run_id": self.run_id, "delivered_at": now} for gid in result.written],
            ["system", "stream", "golden_id"])
        outbox.done(conn, system, stream, result.written)
        self.counts.failed += len(result.rejected)
        for gid, problem in result.rejected.items():
            problem.system, problem.stream = system, stream
            problem.location = problem.location or f"golden {gid}"
        quarantine.save(conn, quarantine.quarantine_rows(
            [(p, None) for p in result.rejected.values()], run_id=self.run_id,
            system=system, stream=stream, entity=self.entity, direction="outbound", now=now,
            sealer=self.sealer))
        if result.rejected:
            outbox.failed(conn, system, stream, list(result.rejected),
                          "refused by the target", dead=True)
        self._audit(conn, result, now)

    def _audit(self, conn: Any, result: Delivered, now: dt.datetime) -> None:
        """One trail entry per record sent or refused, with every field's decision."""
        if self.audit is None:
            return
        log = self.audit
        for gid, (record, _key, _hash) in result.sent.items():
            decisions = self._decisions.get(gid, [])
            log.add("transfer.out", "rejected" if gid in result.rejected else "sent",
                    at=now, run_id=self.run_id, source="hub", destination=self.stream.label,
                    entity=self.entity, golden_id=gid, purpose=self.stream.config.purpose,
                    decisions=log.decisions(decisions), policy_version=self.gate.version,
                    value_hash=log.value_hash(record),
                    detail={"legal_bases": sorted({d.legal_basis for d in decisions
                                                   if d.legal_basis})})
        log.flush(conn)

