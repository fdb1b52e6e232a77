"""Match & merge inside an inbound stream: what ``InboundSync`` asks of issue 4's parts.

Per batch: match (situations counted), overrides and survivorship for the merge, echo
suppression, then keeping match keys, review pairs and xref state up to date. Per stream:
the change threshold as batches commit, and delete detection once a full snapshot has
been read completely.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update

from hub.config import Deployment, Stream
from hub.errors import HubError, RecordProblem
from hub.golden.writer import GoldenWriter, fetch_overrides, matcher_for
from hub.matching import settings as mm
from hub.records import Incoming
from hub.store import bulk
from hub.store import matching_store as ms
from hub.store.tables import StreamState, Xref
from hub.survivorship import sources as survivorship_sources
from hub.survivorship.rules import Sources, Survivorship
from hub.sync.counts import StreamCounts
from hub.sync.echo import EchoCheck

log = logging.getLogger(__name__)

SITUATIONS = ("linked", "unlinked", "unmatched", "disputed", "deleted")


class ThresholdExceeded(HubError):
    """A run would change or delete more of a stream than the delete policy allows."""


class MatchMerge:
    """Match & merge for one inbound stream in one run."""

    def __init__(self, deployment: Deployment, stream: Stream, run_id: int,
                 counts: StreamCounts, fields: list[str]):
        cfg, entity = deployment.config, stream.entity
        self.entity, self.system, self.run_id, self.counts = entity, stream.system, run_id, counts
        self.stream = stream.name
        self.settings = mm.matching_for(cfg, entity)
        self.matcher = matcher_for(deployment, entity)
        self.survivorship = Survivorship(mm.survivorship_for(cfg, entity),
                                         {f: deployment.fields[entity][f] for f in fields})
        self.policy = cfg.deletes
        same = [s for s in deployment.streams("inbound", [stream.system]) if s.entity == entity]
        # Only a full read of the one stream carrying this system's records shows deletes.
        full = stream.config.full_snapshot
        if full is None:
            full = stream.config.cursor_field is None and not any(
                c in stream.config.resource for c in "*?[")
        self.snapshot = self.policy.detect and full and len(same) == 1
        self.read_any = False  # an unchanged source may return no batch at all
        #: Records this read refused without a key that could be read: any record missing
        #: from the snapshot may be one of them, so no delete is inferred from it.
        self.keyless_refusals = 0
        specs = deployment.fields[entity]
        self.unrestricted = [f for f in fields if not specs[f].restricted]
        self.types = {f: specs[f].type for f in fields}
        self.echo = EchoCheck(deployment, stream)
        self.writer: GoldenWriter  # set by InboundSync: retirements go through it
        self.baseline = 0
        for s in SITUATIONS:
            counts.situations.setdefault(s, 0)

    # -- per stream ------------------------------------------------------------------------

    def start(self, engine: Engine) -> None:
        t = bulk.table_of(Xref)
        with engine.connect() as conn:
            self.baseline = int(conn.execute(select(func.count()).select_from(t).where(
                t.c.system == self.system, t.c.entity == self.entity,
                t.c.deleted_at.is_(None))).scalar_one())

    def check_changes(self) -> None:
        """Raise before a batch commits that takes the run over ``max_change_percent``."""
        limit = self.policy.max_change_percent
        if limit is None or not self.baseline:
            return
        if self.counts.updated > self.baseline * limit / 100:
            raise ThresholdExceeded(
                f"stopped: this run would change more than {limit:g}% of the "
                f"{self.baseline} records known from {self.system} (deletes.max_change_"
                "percent); earlier batches are kept, nothing after them is applied")

    # -- per batch ---------------------------------------------------------------------------

    def match(self, conn: Connection, items: list[Incoming]
              ) -> tuple[int, list[tuple[RecordProblem, Any]]]:
        """Match ``items``; return (new golden records needed, records refused)."""
        new_count = self.matcher.match(conn, self.system, items)
        refused: list[tuple[RecordProblem, Any]] = []
        for item in items:
            situation = item.extra.get("situation", "unmatched")
            self.counts.situations[situation] += 1
            if situation == "unmatched" and \
                    self.settings.unmatched_reaction(self.system) == "quarantine":
                item.extra["refused"] = True
                refused.append((RecordProblem(
                    "unmatched: no golden record to link to (matching.on_unmatched: "
                    "quarantine)", self.system, "", source_key=item.source_key,
                    location=item.location), item.extra.get("raw")))
        self._merge(conn, items)
        return new_count, refused

    def _merge(self, conn: Connection, items: list[Incoming]) -> None:
        """Golden records this batch's records link (new evidence) merge, through the
        write path, before the batch's values go in; the trail says why."""
        now = dt.datetime.now(dt.UTC)
        event = {"kind": "record.merge", "source": self.system, "destination": "hub",
                 "run_id": self.run_id}
        for item in items:
            for merged, score, why in item.extra.get("merge", []):
                self.writer.merge(conn, str(item.golden_id), merged, actor="auto",
                                  run_id=self.run_id, now=now, event=event,
                                  why={"score": round(score, 4), **why,
                                       "record": item.source_key})

    def overrides(self, conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
        return fetch_overrides(conn, self.entity, ids, self.types)

    def sources(self, conn: Connection, ids: list[str]) -> dict[str, Sources]:
        """Every live source record of these golden records: what survivorship counts."""
        return survivorship_sources.load(conn, self.entity, ids, self.types)

    def echoes(self, conn: Connection, items: list[Incoming],
               goldens: Mapping[str, Mapping[str, Any]]) -> set[str]:
        if not self.echo.active:
            return set()
        found = self.echo.echoes(conn, items, goldens)
        self.counts.echoes += len(found)
        return found

    def xref_state(self, item: Incoming) -> dict[str, Any]:
        """Columns of the xref row that match & merge keeps per source record."""
        data = {f: item.values.get(f) for f in self.unrestricted
                if item.values.get(f) is not None}
        return {"data": {**data, "_at": item.observed_at}, "seen_run": self.run_id,
                "deleted_at": None}

    def after_write(self, conn: Connection, writer: GoldenWriter,
                    working: Mapping[str, Mapping[str, Any]], items: list[Incoming],
                    now: dt.datetime) -> None:
        """Review pairs queued; retired records that a source sends again revived."""
        reviews = [{"golden_a": item.golden_id, "golden_b": other, "score": round(s, 4),
                    "evidence": evidence, "system": self.system,
                    "source_key": item.source_key, "run_id": self.run_id}
                   for item in items for other, s, evidence in item.extra.get("review", [])
                   if isinstance(other, str)]
        if reviews:
            ms.queue_reviews(conn, self.entity, reviews, now)
        self.matcher.save_source_keys(conn, self.system, items)
        if self.policy.on_delete == "retire":  # a source sends it again: it lives again
            writer.revive(conn, sorted(working))

    def mark_seen(self, conn: Connection, keys: list[str]) -> None:
        self.read_any = True
        if self.snapshot and keys:
            ms.mark_seen(conn, self.system, self.entity, keys, self.run_id)

    # -- end of stream -----------------------------------------------------------------------

    def finish(self, engine: Engine, now: dt.datetime) -> None:
        """Deletes from a complete full snapshot, within ``max_delete_percent``.

        A read that ended early (``counts.incomplete``) is no snapshot: what it did not
        reach is not deleted, and nothing is retired."""
        if not self.snapshot or not self.read_any or self.counts.error \
                or self.counts.incomplete:
            return
        t = bulk.table_of(Xref)
        scope = (t.c.system == self.system, t.c.entity == self.entity, t.c.deleted_at.is_(None))
        with engine.begin() as conn:
            self.writer.lock(conn)
            gone = [(r.source_key, r.golden_id) for r in conn.execute(
                select(t.c.source_key, t.c.golden_id).where(
                    *scope, (t.c.seen_run.is_(None)) | (t.c.seen_run != self.run_id)))]
            if not gone:
                return
            if self.keyless_refusals:
                self.counts.held_deletes = len(gone)
                log.warning("%s.%s: %d record(s) missing from this read were not deleted: %d "
                            "refused record(s) had no key that could be read and may be "
                            "them (see the quarantine)", self.system, self.stream, len(gone),
                            self.keyless_refusals)
                return
            limit = self.policy.max_delete_percent
            if self.baseline and limit is not None and len(gone) > self.baseline * limit / 100:
                self.counts.held_deletes = len(gone)
                # forget the cursor: the next run reads the source in full and decides again
                st = bulk.table_of(StreamState)
                conn.execute(delete(st).where(st.c.system == self.system,
                                              st.c.stream == self.stream))
                self.counts.error = (
                    f"stopped before deleting: {len(gone)} of {self.baseline} records known "
                    f"from {self.system} are missing from this read (more than "
                    f"deletes.max_delete_percent {limit:g}%); nothing was deleted. Check the "
                    "source; if the deletes are real, raise the limit for one run")
                return
            self.counts.situations["deleted"] += len(gone)
            if self.policy.on_delete == "ignore":
                return
            keys = [k for k, _ in gone]
            for part in bulk.chunks(keys):
                conn.execute(update(t).where(*scope, t.c.source_key.in_(part))
                             .values(deleted_at=now))
            self.counts.deleted += len(gone)
            if self.policy.on_delete == "retire":
                self._retire(conn, sorted({g for _, g in gone}), now)

    def _retire(self, conn: Connection, ids: list[str], now: dt.datetime) -> None:
        """Retire golden records no live xref of any system points to any more."""
        t = bulk.table_of(Xref)
        alive: set[str] = set()
        for part in bulk.chunks(ids):
            alive.update(conn.execute(select(t.c.golden_id).where(
                t.c.entity == self.entity, t.c.golden_id.in_(part),
                t.c.deleted_at.is_(None))).scalars())
        retired = self.writer.retire(
            conn, [g for g in ids if g not in alive], reason=f"deleted in {self.system}",
            run_id=self.run_id, now=now,
            event={"kind": "record.retire", "outcome": "retired", "run_id": self.run_id,
                   "source": self.system, "destination": "hub"})
        self.counts.retired += len(retired)
