"""Inbound: read a system's stream, map, match, merge, and store, one transaction a batch.

Each batch commits its golden records, history, xrefs, quarantined records and the
stream's cursor together, so a crash between batches loses nothing and re-running
converges (already-stored records hash equal and are skipped).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from connectors.base import Connector, ReadBatch
from hub import match, merge
from hub.canonical import MODELS
from hub.config import Deployment, Stream
from hub.errors import MappingError, RecordProblem
from hub.records import Incoming, content_hash
from hub.store import bulk
from hub.store.tables import RecordHistory, StreamState, Xref
from hub.sync import quarantine
from hub.sync.counts import StreamCounts

Progress = Callable[[int], None]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class InboundSync:
    """Runs one inbound stream for one run."""

    def __init__(self, deployment: Deployment, stream: Stream, engine: Engine, run_id: int,
                 started: dt.datetime):
        self.stream = stream
        self.engine = engine
        self.run_id = run_id
        self.started = started
        self.entity = stream.entity
        specs = deployment.fields[self.entity]
        self.builtin = [n for n, s in specs.items() if not s.custom]
        self.custom = [n for n, s in specs.items() if s.custom]
        self.batch_size = deployment.config.batch_size
        self.settle = False
        self.counts = StreamCounts(stream.system, stream.name, "inbound", self.entity)

    # -- public ---------------------------------------------------------------------------

    def run(self, connector: Connector, progress: Progress | None = None) -> StreamCounts:
        since = self._load_cursor()
        with self.engine.connect() as conn:
            # Only pay for settling old quarantine entries when there are any.
            self.settle = quarantine.has_open(conn, self.stream.system, self.stream.name)
        for batch in connector.read(self.stream.spec, since=since,
                                    batch_size=self.batch_size):
            self._process(batch)
            if progress:
                progress(len(batch.records) + len(batch.problems))
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
        fallback_time = self.started.replace(tzinfo=None).isoformat(timespec="seconds")
        for rec in batch.records:
            if not self.counts.unknown_columns and rec.data:
                ignored = set(spec.key) | ({spec.cursor_field} if spec.cursor_field else set())
                self.counts.unknown_columns = sorted(mapping.unknown_columns(rec.data) - ignored)
            problem = RecordProblem("", self.stream.system, self.stream.name,
                                    location=rec.location)
            key_parts = [rec.data.get(k) for k in spec.key]
            if any(v is None or str(v).strip() == "" for v in key_parts):
                missing = [k for k, v in zip(spec.key, key_parts)
                           if v is None or str(v).strip() == ""]
                problem.reason, problem.field = "empty key column", missing[0]
                problems.append((problem, rec.data))
                continue
            key = "|".join(str(v).strip() for v in key_parts)
            problem.source_key = key
            if key in seen:
                problem.reason = f"duplicate key in the source (first at {seen[key]})"
                problems.append((problem, rec.data))
                continue
            seen[key] = rec.location
            try:
                values, updated = mapping.inbound(rec.data)
            except MappingError as exc:
                problem.reason, problem.field = exc.reason, exc.field
                problems.append((problem, rec.data))
                continue
            observed = updated.replace(tzinfo=None).isoformat(timespec="seconds") \
                if updated else fallback_time
            # The business time is part of the hash: a source re-asserting a value at a
            # newer time can win against another source's value.
            items.append(Incoming(key, values, observed, content_hash([values, observed]),
                                  rec.location))
        return items, problems

    def _process(self, batch: ReadBatch) -> None:
        items, problems = self._prepare(batch)
        self.counts.read += len(batch.records) + len(batch.problems)
        self.counts.failed += len(problems)
        now = _utcnow()
        with self.engine.begin() as conn:
            if self.settle:
                quarantine.settle(conn, system=self.stream.system, stream=self.stream.name,
                                  passed_keys=[i.source_key for i in items],
                                  failed=[p for p, _ in problems])
            if items:
                self._store(conn, items, now)
            quarantine.save(conn, quarantine.quarantine_rows(
                problems, run_id=self.run_id, system=self.stream.system,
                stream=self.stream.name, entity=self.entity, direction="inbound", now=now))
            if batch.cursor is not None:
                bulk.upsert(conn, bulk.table_of(StreamState), [{
                    "system": self.stream.system, "stream": self.stream.name,
                    "cursor": batch.cursor, "run_id": self.run_id, "updated_at": now}],
                    ["system", "stream"])

    def _store(self, conn: Any, items: list[Incoming], now: dt.datetime) -> None:
        new_count = match.match_batch(conn, self.stream.system, self.entity, items)
        changed = [i for i in items if not (i.linked and i.previous_hash == i.source_hash)]
        self.counts.unchanged += len(items) - len(changed)
        new_ids = bulk.claim_ids(conn, self.entity, new_count)
        for item in changed:
            if item.golden_id is None:
                item.golden_id = new_ids[item.extra["group"]]
        fresh = set(new_ids)
        existing = bulk.fetch_goldens(conn, self.entity, sorted(
            {i.golden_id for i in changed if i.golden_id not in fresh}))  # type: ignore[misc]
        working: dict[str, dict[str, Any]] = {}
        for item in changed:
            gid: str = item.golden_id  # type: ignore[assignment]
            row = working.get(gid) or existing.get(gid)
            created = row is None
            if row is None:
                row = {"id": gid, "version": 0, "created_at": now, "custom": {},
                       "provenance": {}, **{f: None for f in self.builtin}}
            current = {**{f: row.get(f) for f in self.builtin}, **(row["custom"] or {})}
            source = {"system": self.stream.system, "key": item.source_key, "run": self.run_id}
            values, prov, did_change = merge.merge(
                current, row["provenance"] or {}, item.values, observed_at=item.observed_at,
                source=source, fields=self.builtin + self.custom)
            working[gid] = {**row, **{f: values[f] for f in self.builtin},
                            "custom": {f: values[f] for f in self.custom if values[f] is not None},
                            "provenance": prov, "_changed": row.get("_changed") or did_change}
            if created:
                self.counts.created += 1
            elif did_change:
                self.counts.updated += 1
            else:
                self.counts.unchanged += 1
        self._write(conn, items, changed, working, existing, now)

    def _write(self, conn: Any, items: list[Incoming], changed: list[Incoming],
               working: dict[str, dict[str, Any]], existing: dict[str, dict[str, Any]],
               now: dt.datetime) -> None:
        table = bulk.table_of(MODELS[self.entity])
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
                data = {f: row[f] for f in self.builtin} | {"custom": row["custom"]}
                history.append({"entity": self.entity, "golden_id": gid,
                                "version": row["version"], "data": data,
                                "system": self.stream.system, "run_id": self.run_id,
                                "changed_at": now})
        bulk.insert_rows(conn, table, inserts)
        bulk.update_goldens(conn, self.entity, updates)
        bulk.insert_rows(conn, bulk.table_of(RecordHistory), history)
        new_xrefs = [{"system": self.stream.system, "entity": self.entity,
                      "source_key": i.source_key, "golden_id": i.golden_id,
                      "source_hash": i.source_hash, "first_run": self.run_id,
                      "last_run": self.run_id, "updated_at": now}
                     for i in changed if not i.linked]
        bulk.insert_rows(conn, bulk.table_of(Xref), new_xrefs)
        bulk.update_xref_hashes(conn, [
            {"system": self.stream.system, "entity": self.entity, "source_key": i.source_key,
             "source_hash": i.source_hash, "last_run": self.run_id, "updated_at": now,
             "golden_id": i.golden_id} for i in changed if i.linked])
