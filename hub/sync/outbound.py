"""Outbound: deliver golden records from the outbox through the privacy gate and the
mapping to a target.

Inbound changes put golden ids into the outbox in their own transaction; this stream takes
them out only in the transaction that records the target's acknowledgement, and only the
version of the row it read (a record changed again meanwhile stays due). A record is
written when what the target would receive differs from what it last acknowledged, so a
second run sends nothing; targets upsert by key, so a crash between write and
acknowledgement costs one harmless re-send. A new target, or a changed policy or mapping,
puts every golden record back into the outbox for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from connectors.base import Capability, Connector, StreamSpec, WriteResult
from hub import faults
from hub.audit.record import AuditLog
from hub.config import Deployment, Stream
from hub.errors import ConnectorError, RecordProblem, RetriableConnectorError
from hub.records import content_hash
from hub.store import bulk, goldens, outbox
from hub.store import matching_store as ms
from hub.store.sealing import Sealer
from hub.store.tables import Delivery, Outbox, StreamState
from hub.sync import quarantine
from hub.sync.counts import StreamCounts
from hub.sync.delivery import ATTEMPTS, BASE_DELAY, Delivered, deliver
from policies.gate import Destination, FieldDecision, PrivacyGate

Progress = Callable[[int], None]
_NO_DECISIONS: list[FieldDecision] = []  # one list: the trail's cache holds it once
Prepared = tuple[dict[str, Any], str, str]  # (target record, target key, payload hash)


@dataclass
class Batch:
    """One batch of outbox ids, sorted by what happens to them."""

    held: dict[str, tuple[str, str]]  # golden id -> (target key, hash) the target holds
    pending: dict[str, Prepared] = field(default_factory=dict)  # to upsert (if changed)
    finished: list[str] = field(default_factory=list)  # nothing to do: leave the outbox
    gone: list[str] = field(default_factory=list)  # held at the target, gone from the hub
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # gone ones still stored


@dataclass
class Removed:
    """What a batch's removals did at the target."""

    deleted: dict[str, str] = field(default_factory=dict)  # golden id -> key deleted
    deactivated: dict[str, Prepared] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)  # its key is another's now
    stale: list[str] = field(default_factory=list)  # old keys of moved records, deleted
    rejected: dict[str, RecordProblem] = field(default_factory=dict)


def _delete(connector: Connector, spec: StreamSpec, keys: list[str]) -> WriteResult:
    """Delete ``keys`` at the target, retrying transient failures like a write."""
    for attempt in range(ATTEMPTS):
        try:
            return connector.delete(spec, keys)
        except RetriableConnectorError:
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, BASE_DELAY * 2 ** attempt))
    raise AssertionError("unreachable")


def _target_key(record: dict[str, Any], columns: tuple[str, ...]) -> str | None:
    """The record's key at the target (its key values joined by ``|``); None when one is
    missing or empty."""
    if len(columns) == 1:  # the common case, without building lists
        value = record.get(columns[0])
        return None if value is None or value == "" else str(value)
    values = [record.get(k) for k in columns]
    if any(v is None or v == "" for v in values):
        return None
    return "|".join(str(v) for v in values)


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
        # The gate compiled for this stream, and the only fields a delivery reads from a
        # golden record (and decrypts): the mapping's, those the policy's conditions and
        # the stream's ``only_if`` read. Nothing else is fetched, parsed or opened.
        self.releaser = gate.releaser(self.entity, self.fields, self.destination)
        self.reads = sorted({*self.fields, *self.releaser.condition_fields,
                             *stream.config.only_if})
        self._builtin_reads = [f for f in self.builtin if f in self.reads]
        self._row_is_record = set(self.reads) <= set(self.builtin)
        self._decisions: dict[str, list[FieldDecision]] = {}  # this batch's, for the trail
        self._tokens: outbox.Tokens = {}  # this batch's outbox row versions
        # This batch's records the gate or mapping could not prepare, quarantined at the ack.
        self._unprepared: list[tuple[str, RecordProblem]] = []
        # The releaser hands out one decision list per distinct decision set: the trail's
        # set id and legal bases, once per list (by identity; the value keeps the list
        # alive, so an id is never reused while cached).
        self._trail: dict[int, tuple[list[FieldDecision], str, list[str]]] = {}

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
        self.removal = self._removal(connector)
        while True:
            with self.engine.connect() as conn:
                self._tokens = outbox.due(conn, self.stream.system, self.stream.name, after,
                                          self.batch_size)
                ids = list(self._tokens)
                rows = goldens.read(conn, self.sealer, self.entity, ids,
                                    fields=self.reads) if ids else {}
                retired = ms.retired_ids(conn, self.entity, ids) if ids else set()
                held = bulk.fetch_delivery_rows(conn, self.stream.system, self.stream.name,
                                                ids) if ids else {}
            if not ids:
                return self.counts
            after = ids[-1]
            batch = self._prepare_batch(ids, rows, retired, held)
            open_circuit = self._deliver(connector, batch)
            if progress:
                progress(len(ids))
            if open_circuit:  # the target is down: the rest waits in the outbox
                return self.counts

    def _removal(self, connector: Connector) -> str:
        """What this target does with a record whose golden record is gone."""
        wanted = self.stream.config.on_golden_delete
        if wanted is None:
            return "delete" if Capability.DELETE in connector.capabilities else "keep"
        if wanted == "delete" and Capability.DELETE not in connector.capabilities:
            return "keep"  # `kontor check` says so; the copy at the target stays
        return wanted

    def _prepare_batch(self, ids: list[str], rows: dict[str, dict[str, Any]],
                       retired: set[str], held: dict[str, tuple[str, str]]) -> Batch:
        batch = Batch(held=held)
        batch_keys: set[str] = set()
        key_columns = self.stream.spec.key
        filtered = bool(self.stream.config.only_if)
        self.counts.read += len(ids)
        for gid in ids:
            row = rows.get(gid)
            if row is None or gid in retired or (filtered and not self._eligible(row)):
                # Gone (deleted, merged away, retired, erased) or no longer wanted here:
                # what the target holds of it is removed, deactivated or kept.
                (batch.gone if gid in held else batch.finished).append(gid)
                if gid not in held:
                    self.counts.skipped += 1
                if gid in held and row is not None:
                    batch.rows[gid] = row
                continue
            record = self._prepare(row)
            if record is None:  # quarantined; its outbox row is dead-lettered
                continue
            target_key = _target_key(record, key_columns)
            if target_key is None or target_key in batch_keys:
                # No key (a customer without email is no subscriber), or two golden records
                # claiming one target row: sending both would flip it on every run.
                (batch.gone if gid in held else batch.finished).append(gid)
                self.counts.skipped += gid not in held
                continue
            batch_keys.add(target_key)
            batch.pending[gid] = (record, target_key, content_hash(record))
        return batch

    def _eligible(self, row: dict[str, Any]) -> bool:
        for name, wanted in self.stream.config.only_if.items():
            value = row["custom"].get(name) if name in self.custom else row.get(name)
            if value != wanted:
                return False
        return True

    def _prepare(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The target's record for one golden record: through the gate, then the mapping.

        A failure here (a transform that cannot handle a value, a mapping that cannot render
        it) quarantines this record with a reason that names the field but never the value.
        """
        if self._row_is_record:  # only built-in fields read: the row holds them (and id)
            golden = row
        else:
            golden = {f: row.get(f) for f in self._builtin_reads}
            golden.update(row["custom"])
        try:
            released, decisions = self.releaser.release(golden, golden, row["id"])
            self._decisions[row["id"]] = decisions
            return self.stream.mapping.outbound(released)
        except Exception as exc:  # noqa: BLE001 - one record must not stop the stream
            reason = f"could not prepare the record for this target ({type(exc).__name__})"
            self.counts.failed += 1
            # Quarantined and dead-lettered with the batch's acknowledgement: a crash
            # before it leaves the record due, to be tried (and refused) again.
            self._unprepared.append((row["id"], RecordProblem(
                reason, self.stream.system, self.stream.name, location=f"golden {row['id']}")))
            return None

    def _settle_unprepared(self, conn: Any, now: dt.datetime) -> None:
        """Quarantine and dead-letter the batch's records the gate or mapping could not
        prepare (one statement each for the batch)."""
        problems, self._unprepared = self._unprepared, []
        if not problems:
            return
        quarantine.save(conn, quarantine.quarantine_rows(
            [(p, None) for _gid, p in problems], run_id=self.run_id, system=self.stream.system,
            stream=self.stream.name, entity=self.entity, direction="outbound", now=now,
            sealer=self.sealer))
        by_reason: dict[str, list[str]] = {}
        for gid, p in problems:
            by_reason.setdefault(p.reason, []).append(gid)
        for reason, gids in by_reason.items():
            outbox.failed(conn, self.stream.system, self.stream.name, gids, reason,
                          dead=True, tokens=self._tokens)

    # -- delivery ---------------------------------------------------------------------------

    def _deliver(self, connector: Connector, batch: Batch) -> bool:
        """Write what changed, remove what is gone; record acknowledgements, refusals and
        the trail together. Returns True when the target failed (open the circuit)."""
        system, stream = self.stream.system, self.stream.name
        pending, finished, held = batch.pending, batch.finished, batch.held
        acked = {gid: h for gid, (_k, h) in held.items()}
        to_send = {gid: p for gid, p in pending.items() if acked.get(gid) != p[2]}
        self.counts.unchanged += len(pending) - len(to_send)
        finished += [gid for gid in pending if gid not in to_send]
        # A record whose key at the target changed (a new email at the newsletter): its
        # row under the old key goes, or the target keeps a stale copy for ever.
        moved = {gid: held[gid][0] for gid in to_send
                 if gid in held and held[gid][0] != to_send[gid][1]}
        faults.point("outbound.before_write")
        try:
            result: Delivered | None = deliver(connector, self.stream.spec, to_send) \
                if to_send else None
            removed = self._remove(connector, batch, moved, to_send)
        except ConnectorError as exc:
            waiting = list(to_send) + batch.gone
            with self.engine.begin() as conn:
                self._settle_unprepared(conn, dt.datetime.now(dt.UTC))
                outbox.done(conn, system, stream, finished, self._tokens)
                dead = outbox.failed(conn, system, stream, waiting, str(exc),
                                     tokens=self._tokens)
            self.counts.error = (f"{exc} — {len(waiting)} records wait in the outbox"
                                 + (f", {dead} dead-lettered" if dead else ""))
            self._decisions.clear()
            return True
        faults.point("outbound.after_write")
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            self._settle_unprepared(conn, now)
            outbox.done(conn, system, stream, finished, self._tokens)
            if result is not None:
                self._record(conn, result, acked, now)
            self._record_removals(conn, removed, now)
            faults.point("outbound.before_ack_commit")
        self._decisions.clear()
        return False

    def _remove(self, connector: Connector, batch: Batch, moved: dict[str, str],
                sending: dict[str, Prepared]) -> Removed:
        """Delete or deactivate at the target what the hub no longer holds for it.

        A key another golden record holds there (a survivor that took over the merged
        record's email) is never deleted: only the gone record's delivery state goes.
        """
        out = Removed()
        if not batch.gone and not moved:
            return out
        gone_keys = {gid: batch.held[gid][0] for gid in batch.gone}
        keys = sorted(set(gone_keys.values()) | set(moved.values()))
        with self.engine.connect() as conn:
            holders = bulk.key_holders(conn, self.stream.system, self.stream.name, keys)
        live_keys = {p[1] for p in sending.values()}
        leaving = set(batch.gone) | set(moved)

        def shared(key: str) -> bool:
            return key in live_keys or bool(holders.get(key, set()) - leaving)

        if self.removal == "keep":
            out.kept = list(batch.gone)
            return out
        if self.removal == "deactivate":
            records = {}
            for gid in batch.gone:
                key = gone_keys[gid]
                if shared(key):
                    out.forgotten.append(gid)
                    continue
                records[gid] = self._deactivated(gid, key, batch.rows.get(gid))
            if records:
                result = deliver(connector, self.stream.spec, records)
                out.deactivated = {gid: records[gid] for gid in result.written}
                out.rejected.update(result.rejected)
            return out
        to_delete: dict[str, str] = {}
        for gid in batch.gone:
            key = gone_keys[gid]
            (out.forgotten.append(gid) if shared(key) else to_delete.__setitem__(gid, key))
        stale = {gid: key for gid, key in moved.items() if not shared(key)}
        keys_out = sorted(set(to_delete.values()) | set(stale.values()))
        if keys_out:
            outcome = _delete(connector, self.stream.spec, keys_out)
            refused = dict(outcome.rejected)
            for gid, key in to_delete.items():
                if key in refused:
                    out.rejected[gid] = refused[key]
                else:
                    out.deleted[gid] = key
            out.stale = [key for key in stale.values() if key not in refused]
        return out

    def _deactivated(self, gid: str, key: str, row: dict[str, Any] | None) -> Prepared:
        """The target's record marked inactive: the full record where the golden row is
        still here (retired), else its key columns; then the ``deactivate`` values."""
        record = self._prepare(row) if row is not None else None
        if record is None:
            columns = self.stream.spec.key
            parts = key.split("|") if len(columns) > 1 else [key]
            record = dict(zip(columns, parts))
        record = {**record, **self.stream.config.deactivate}
        return record, key, content_hash(record)

    def _record_removals(self, conn: Any, removed: Removed, now: dt.datetime) -> None:
        system, stream = self.stream.system, self.stream.name
        d = bulk.table_of(Delivery)
        gone = list(removed.deleted) + removed.forgotten
        for part in bulk.chunks(gone):
            conn.execute(d.delete().where(d.c.system == system, d.c.stream == stream,
                                          d.c.golden_id.in_(part)))
        outbox.acknowledge(conn, system, stream, self.run_id, now,
                           {gid: (p[1], p[2]) for gid, p in removed.deactivated.items()},
                           self._tokens)
        outbox.done(conn, system, stream, gone + removed.kept, self._tokens)
        self.counts.deleted += len(removed.deleted)
        self.counts.deactivated += len(removed.deactivated)
        self.counts.kept += len(removed.kept)
        if removed.rejected:
            problems: list[tuple[RecordProblem, dict[str, Any] | None]] = []
            for gid, problem in removed.rejected.items():
                problem.system, problem.stream = system, stream
                problem.location = problem.location or f"golden {gid}"
                problems.append((problem, None))
            self.counts.failed += len(problems)
            quarantine.save(conn, quarantine.quarantine_rows(
                problems, run_id=self.run_id, system=system, stream=stream,
                entity=self.entity, direction="outbound", now=now, sealer=self.sealer))
            outbox.failed(conn, system, stream, list(removed.rejected),
                          "removal refused by the target", dead=True, tokens=self._tokens)
        if self.audit is not None:
            for gid in removed.deleted:
                self.audit.add("transfer.out", "deleted", at=now, run_id=self.run_id,
                               source="hub", destination=self.stream.label,
                               entity=self.entity, golden_id=gid)
            for gid in removed.deactivated:
                self.audit.add("transfer.out", "deactivated", at=now, run_id=self.run_id,
                               source="hub", destination=self.stream.label,
                               entity=self.entity, golden_id=gid)
            self.audit.flush(conn)

    def _record(self, conn: Any, result: Delivered, acked: dict[str, str],
                now: dt.datetime) -> None:
        system, stream = self.stream.system, self.stream.name
        for gid in result.written:
            if gid in acked:
                self.counts.updated += 1
            else:
                self.counts.created += 1
        sent = result.sent
        outbox.acknowledge(conn, system, stream, self.run_id, now,
                           {gid: (sent[gid][1], sent[gid][2]) for gid in result.written},
                           self._tokens)
        self.counts.failed += len(result.rejected)
        if result.rejected:
            for gid, problem in result.rejected.items():
                problem.system, problem.stream = system, stream
                problem.location = problem.location or f"golden {gid}"
            quarantine.save(conn, quarantine.quarantine_rows(
                [(p, None) for p in result.rejected.values()], run_id=self.run_id,
                system=system, stream=stream, entity=self.entity, direction="outbound",
                now=now, sealer=self.sealer))
            outbox.failed(conn, system, stream, list(result.rejected),
                          "refused by the target", dead=True, tokens=self._tokens)
        self._audit(conn, result, now)

    def _audit(self, conn: Any, result: Delivered, now: dt.datetime) -> None:
        """One trail entry per record sent or refused, with every field's decision."""
        if self.audit is None:
            return
        log, rejected = self.audit, result.rejected
        common: dict[str, Any] = {
            "at": now, "run_id": self.run_id, "source": "hub", "destination": self.stream.label,
            "entity": self.entity, "purpose": self.stream.config.purpose,
            "policy_version": self.gate.version}
        decided, none = self._decisions, _NO_DECISIONS
        for gid, (record, _key, _hash) in result.sent.items():
            sid, bases = self._trail_of(decided.get(gid, none))
            log.add("transfer.out", "rejected" if gid in rejected else "sent", **common,
                    golden_id=gid, decisions=sid, value_hash=log.value_hash(record),
                    detail={"legal_bases": list(bases)})
        log.flush(conn)

    def _trail_of(self, decisions: list[FieldDecision]) -> tuple[str, list[str]]:
        """(decision set id, legal bases) of one record's decisions, cached per list."""
        assert self.audit is not None
        key = id(decisions)  # alive while cached (the entry holds it): never reused meanwhile
        hit = self._trail.get(key)
        if hit is None or hit[0] is not decisions:
            bases = sorted({d.legal_basis for d in decisions if d.legal_basis})
            hit = (decisions, self.audit.decisions(decisions), bases)
            if len(self._trail) < 10_000:
                self._trail[key] = hit
        return hit[1], hit[2]

