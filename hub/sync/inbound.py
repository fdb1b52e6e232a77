"""Inbound: read a system's stream, map, match, merge, and store, one transaction a batch.

Each batch commits its golden records, history, xrefs, quarantined records and the
stream's cursor together, so a crash between batches loses nothing and re-running
converges (already-stored records hash equal and are skipped).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from connectors.base import Connector, ReadBatch
from hub import faults
from hub.audit.record import AuditLog
from hub.config import Deployment, Stream
from hub.errors import HubError, MappingError, RecordProblem
from hub.golden.rows import history_row, merge_into, new_golden, new_merged
from hub.golden.writer import GoldenWriter
from hub.records import Incoming, content_hash
from hub.store import bulk, goldens
from hub.store.sealing import Sealer
from hub.store.tables import StreamState, Xref
from hub.survivorship.sources import Sources
from hub.sync import field_drops, quarantine
from hub.sync.counts import StreamCounts
from hub.sync.match_merge import MatchMerge
from mappings.engine import DroppedField

Progress = Callable[[int], None]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class InboundSync:
    """Runs one inbound stream for one run."""

    def __init__(self, deployment: Deployment, stream: Stream, engine: Engine, run_id: int,
                 started: dt.datetime, sealer: Sealer, audit: AuditLog | None = None):
        self.stream = stream
        self.engine = engine
        self.run_id = run_id
        self.started = started
        self.sealer = sealer
        self.entity = stream.entity
        specs = self.specs = deployment.fields[self.entity]
        self.builtin = [n for n, s in specs.items() if not s.custom]
        self.custom = [n for n, s in specs.items() if s.custom]
        self.batch_size = deployment.config.batch_size
        self.settle = False
        self.audit = audit
        self._received_fields = audit.field_set(
            [{"field": f, "category": deployment.fields[self.entity][f].category.key,
              "action": "received"} for f in stream.mapping.canonical_fields
             if f in deployment.fields[self.entity]]) if audit else None
        self.counts = StreamCounts(stream.system, stream.name, "inbound", self.entity)
        self.mm = MatchMerge(deployment, stream, run_id, self.counts, self.builtin + self.custom)
        self.writer = GoldenWriter(deployment, sealer, self.entity, audit=audit,
                                   matcher=self.mm.matcher)
        self.mm.writer = self.writer
        #: Called after each committed batch (the run's model training, when its time has
        #: come in the middle of a long first read: hub/sync/auto_model.py).
        self.after_batch: Callable[[InboundSync], None] | None = None

    # -- public ---------------------------------------------------------------------------

    def run(self, connector: Connector, progress: Progress | None = None) -> StreamCounts:
        since = self._load_cursor()
        with self.engine.connect() as conn:
            # Only pay for settling old quarantine entries when there are any.
            self.settle = quarantine.has_open(conn, self.stream.system, self.stream.name)
        self.mm.start(self.engine)
        for batch in connector.read(self.stream.spec, since=since,
                                    batch_size=self.batch_size):
            faults.point("inbound.batch_read")
            if batch.incomplete:  # the read ended early: no snapshot, and the run says why
                self.counts.incomplete = batch.incomplete if not self.counts.incomplete \
                    else f"{self.counts.incomplete}; {batch.incomplete}"
            self._process(batch)
            if self.after_batch is not None:
                self.after_batch(self)
            if progress:
                progress(len(batch.records) + len(batch.problems))
        self.mm.finish(self.engine, _utcnow())  # deletes, once a full read is complete
        return self.counts

    # -- steps ----------------------------------------------------------------------------

    def _load_cursor(self) -> Any:
        t = bulk.table_of(StreamState)
        with self.engine.connect() as conn:
            row = conn.execute(t.select().where(t.c.system == self.stream.system,
                                                t.c.stream == self.stream.name)).first()
        return row.cursor if row is not None else None

    def _prepare(self, batch: ReadBatch) -> tuple[list[Incoming], list[tuple[RecordProblem, Any]]]:
        """Map each raw record; collect the refused ones with their reason."""
        spec, mapping = self.stream.spec, self.stream.mapping
        problems: list[tuple[RecordProblem, Any]] = []
        for p in batch.problems:
            p.system, p.stream = p.system or self.stream.system, p.stream or self.stream.name
            problems.append((p, None))
        items: list[Incoming] = []
        seen: dict[str, str] = {}
        dropped: list[DroppedField] = []  # on_invalid: drop_field, per record
        fallback_time = self.started.replace(tzinfo=None).isoformat(timespec="seconds")
        checked: set[tuple[str, ...]] = set()  # column sets looked at for unknown columns
        ignored = set(spec.key) | ({spec.cursor_field} if spec.cursor_field else set())
        system, stream = self.stream.system, self.stream.name
        key_of = list(spec.key)
        last_updated: Any = None
        last_observed = fallback_time

        def refuse(rec: Any, reason: str, field: str | None = None, key: str | None = None
                   ) -> None:
            problems.append((RecordProblem(reason, system, stream, source_key=key,
                                           location=rec.location, field=field), rec.data))

        for rec in batch.records:
            if not self.counts.unknown_columns and rec.data:
                columns = tuple(rec.data)
                if columns not in checked:
                    checked.add(columns)
                    self.counts.unknown_columns = sorted(mapping.unknown_columns(columns) -
                                                         ignored)
            key_parts = ["" if v is None else str(v).strip() for v in map(rec.data.get, key_of)]
            if not all(key_parts):
                missing = [k for k, v in zip(key_of, key_parts) if not v]
                refuse(rec, "empty key column", missing[0])
                continue
            key = "|".join(key_parts)
            if key in seen:
                refuse(rec, f"duplicate key in the source (first at {seen[key]})", key=key)
                continue
            seen[key] = rec.location
            dropped.clear()
            try:
                values, updated = mapping.inbound(rec.data, dropped=dropped)
            except MappingError as exc:
                refuse(rec, exc.reason, exc.field, key)
                continue
            if not updated:
                observed = fallback_time
            elif updated is not last_updated:  # a source stamps many records alike (and the
                # mapping hands back the same parsed object for the same text)
                last_updated = updated
                last_observed = observed = updated.replace(tzinfo=None).isoformat(
                    timespec="seconds")
            else:
                observed = last_observed
            # The business time is part of the hash: a source re-asserting a value at a
            # newer time can win against another source's value.
            # A dropped field is absent from the values, so from the hash too: the same
            # bad value read again hashes equal and changes nothing.
            items.append(Incoming(key, values, observed, content_hash([values, observed]),
                                  rec.location, extra={"raw": rec.data, "dropped": list(dropped)}
                                  if dropped else {"raw": rec.data}))
        return items, problems

    def _process(self, batch: ReadBatch) -> None:
        items, problems = self._prepare(batch)
        self.counts.read += len(batch.records) + len(batch.problems)
        self.counts.failed += len(problems)
        self.mm.keyless_refusals += sum(1 for p, _ in problems if not p.source_key)
        now = _utcnow()
        before = dataclasses.replace(self.counts, situations=dict(self.counts.situations))
        with self.engine.begin() as conn:
            # First: no other writer of this entity may commit between our matching reads
            # and our writes (two syncs at once would split one person in two).
            self.writer.lock(conn)
            faults.point("inbound.before_store")
            if items:
                refused = self._store(conn, items, now)
                problems += refused
                self.counts.failed += len(refused)
                items = [i for i in items if not i.extra.get("refused")]
            # stored without a field: an entry each (a refused record's entry says it all)
            drops = field_drops.entries(items, system=self.stream.system,
                                        stream=self.stream.name, mapping=self.stream.mapping,
                                        specs=self.specs)
            self.counts.dropped_fields += len(drops)
            try:
                self.mm.check_changes()
            except HubError:
                self.counts.__dict__.update(before.__dict__)  # this batch was not applied
                raise
            # stored records carry this run already; the unchanged and the refused do not
            self.mm.mark_seen(conn, [i.source_key for i in items
                                     if i.linked and i.previous_hash == i.source_hash] +
                              [p.source_key for p, _ in problems if p.source_key])
            if self.settle:  # a record still dropping a field has not passed: superseded
                quarantine.settle(conn, system=self.stream.system, stream=self.stream.name,
                                  passed_keys=[i.source_key for i in items
                                               if not field_drops.has_drops(i)],
                                  failed=[p for p, _ in problems + drops])
            quarantine.save(conn, quarantine.quarantine_rows(
                problems + drops, run_id=self.run_id, system=self.stream.system,
                stream=self.stream.name, entity=self.entity, direction="inbound", now=now,
                sealer=self.sealer))
            self._audit(conn, items, problems, now)
            faults.point("inbound.before_commit")
            # A read that ended early keeps the old cursor: the next run reads the source
            # again (and says again why it is incomplete) instead of skipping it as seen.
            if batch.cursor is not None and batch.incomplete is None:
                bulk.upsert(conn, bulk.table_of(StreamState), [{
                    "system": self.stream.system, "stream": self.stream.name,
                    "cursor": batch.cursor, "run_id": self.run_id, "updated_at": now}],
                    ["system", "stream"])

    def _store(self, conn: Any, items: list[Incoming], now: dt.datetime
               ) -> list[tuple[RecordProblem, Any]]:
        """Match, merge and write ``items``; return those the matching reaction refused."""
        new_count, refused = self.mm.match(conn, items)
        items = [i for i in items if not i.extra.get("refused")]
        field_drops.carry_forward(conn, items, system=self.stream.system, entity=self.entity,
                                  specs=self.specs)  # a dropped field is no news
        changed = [i for i in items if not (i.linked and i.previous_hash == i.source_hash)]
        self.counts.unchanged += len(items) - len(changed)
        new_ids = bulk.claim_ids(conn, self.entity, new_count)
        for item in items:
            if item.golden_id is None:
                item.golden_id = new_ids[item.extra["group"]]
            for n, (other, s, e) in enumerate(item.extra.get("review", [])):
                if isinstance(other, tuple):  # a partner of this batch: its new id
                    item.extra["review"][n] = (new_ids[other[1]], s, e)
        fresh = set(new_ids)
        existing = goldens.read(conn, self.sealer, self.entity, sorted(
            {i.golden_id for i in changed if i.golden_id not in fresh}))  # type: ignore[misc]
        overrides = self.mm.overrides(conn, list(existing))
        sources = self.mm.sources(conn, list(existing))  # survivorship counts them all
        echoes = self.mm.echoes(conn, changed, existing)
        working: dict[str, dict[str, Any]] = {}
        # golden ids more than one record of this batch goes to (one cluster's records)
        shared = {gid for gid, n in Counter(i.golden_id for i in changed).items() if n > 1}
        for item in changed:
            gid: str = item.golden_id  # type: ignore[assignment]
            if item.source_key in echoes:
                self.counts.unchanged += 1  # Kontor's own write read back: no news
                continue
            row = working.get(gid) or existing.get(gid)
            created = row is None
            source = {"system": self.stream.system, "key": item.source_key, "run": self.run_id}
            if row is None and gid not in overrides and gid not in sources:
                # a new record of one source: it all wins, no rule to weigh (the common case);
                # its source record is kept for survivorship only when another record of
                # this batch joins it
                merged, did_change = new_merged(
                    gid, now, item.values, observed_at=item.observed_at, source=source,
                    builtin=self.builtin, custom=self.custom, rules=self.mm.survivorship,
                    sources=sources.setdefault(gid, Sources()) if gid in shared else None)
                merged["_changed"] = did_change
                working[gid] = merged
            else:
                if row is None:
                    row = new_golden(gid, now, self.builtin)
                merged, did_change = merge_into(
                    row, item.values, observed_at=item.observed_at, source=source,
                    builtin=self.builtin, custom=self.custom, rules=self.mm.survivorship,
                    overrides=overrides.get(gid), sources=sources.setdefault(gid, Sources()))
                working[gid] = {**merged, "_changed": row.get("_changed") or did_change}
            if created:
                self.counts.created += 1
            elif did_change:
                self.counts.updated += 1
            else:
                self.counts.unchanged += 1
        self._write(conn, items, changed, working, existing, now)
        return refused

    def _write(self, conn: Any, items: list[Incoming], changed: list[Incoming],
               working: dict[str, dict[str, Any]], existing: dict[str, dict[str, Any]],
               now: dt.datetime) -> None:
        inserts, updates, history = [], [], []
        for gid, row in working.items():
            values_changed = row.pop("_changed")
            if gid not in existing:
                row.update(version=1, updated_at=now)
                inserts.append(row)
            elif values_changed or row["provenance"] != existing[gid]["provenance"]:
                if values_changed:
                    row.update(version=existing[gid]["version"] + 1, updated_at=now)
                updates.append(row)
            else:
                continue
            if values_changed or gid not in existing:
                history.append(history_row(self.entity, row, self.builtin,
                                           system=self.stream.system, run_id=self.run_id,
                                           now=now))
        self.writer.save(conn, inserts=inserts, updates=updates, history=history,
                         before=existing, keys=self._own_keys(items, working, existing))
        new_xrefs = [{"system": self.stream.system, "entity": self.entity,
                      "source_key": i.source_key, "golden_id": i.golden_id,
                      "source_hash": i.source_hash, "first_run": self.run_id,
                      "last_run": self.run_id, "updated_at": now, **self.mm.xref_state(i)}
                     for i in changed if not i.linked]
        bulk.insert_rows(conn, bulk.table_of(Xref), new_xrefs)
        bulk.update_xref_hashes(conn, [
            {"system": self.stream.system, "entity": self.entity, "source_key": i.source_key,
             "source_hash": i.source_hash, "last_run": self.run_id, "updated_at": now,
             "golden_id": i.golden_id, **self.mm.xref_state(i)} for i in changed if i.linked])
        self.mm.after_write(conn, self.writer, working, items, now)

    def _own_keys(self, items: list[Incoming], working: dict[str, dict[str, Any]],
                  existing: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
        """Match keys the matcher computed already: a new record of one source item."""
        if not self.mm.matcher.fuzzy.enabled:
            return {}
        sources: dict[str, list[Incoming]] = {}
        for item in items:
            sources.setdefault(item.golden_id or "", []).append(item)
        return {gid: alone[0].extra["keys"] for gid in working if gid not in existing
                for alone in [sources.get(gid, [])]
                if len(alone) == 1 and "keys" in alone[0].extra}

    def _audit(self, conn: Any, items: list[Incoming],
               problems: list[tuple[RecordProblem, Any]], now: dt.datetime) -> None:
        """One trail entry per record received or refused, in the batch's transaction."""
        if self.audit is None:
            return
        log, fields = self.audit, self._received_fields
        common: dict[str, Any] = {"run_id": self.run_id, "source": self.stream.label,
                                  "destination": "hub", "entity": self.entity}
        for item in items:
            # a fuzzy link: its score, comparison levels and model version (never values);
            # text only, so the hashed detail reads back the same from every database
            match, drops = item.extra.get("matched_by"), item.extra.get("dropped")
            detail: dict[str, Any] = {}
            if match:
                detail["matched_by"] = {k: str(v) for k, v in match.items()}
            if drops:  # fields left out for an invalid value: names and reasons only
                detail["dropped"] = {d.field: d.reason for d in drops}
            extra = {"detail": detail} if detail else {}
            log.add("transfer.in", "received", at=now, golden_id=item.golden_id,
                    source_key=item.source_key, decisions=fields,
                    value_hash=log.value_hash(item.extra.get("received", item.values)),
                    **extra, **common)
        for problem, _ in problems:
            log.add("transfer.in", "rejected", at=now, source_key=problem.source_key,
                    detail={"location": problem.location, "field": problem.field,
                            "reason": problem.reason}, **common)
        log.flush(conn)
