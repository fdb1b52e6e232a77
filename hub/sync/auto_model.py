"""Out of the box, a model learned from the data: the sync trains one by itself.

With no matching settings, the first syncs score pairs with fixed weights, which link only
near-identical records. Once the store holds ``matching.<entity>.model.auto_train`` source
records (1,000 by default) and the deployment has no model file, the sync trains the
Fellegi-Sunter model on them without labels (as `kontor matching train` does), writes it
to matching/<entity>.model.json with its report, re-makes the stored match keys for the
model's blocking, and matches again the source records that the model links to another
golden record: golden records it links merge through the write path, doubtful pairs go to
the steward. From then on every sync scores with that model; `kontor matching train`
trains it again, a deleted model file makes the sync train anew.

A long first read (a directory of millions) does not wait for its end: once the store
holds ``DURING_READ`` source records, among them records of every source of the entity,
the sync trains there, in the middle of the read, and matches the rest with the model.
Training holds the records it learns from in memory, so this keeps a 10M-row first sync's
memory where a 100k-row one's is.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from hub import faults
from hub.audit.record import AuditLog
from hub.config import Deployment
from hub.errors import HubError
from hub.golden import rekey
from hub.golden.writer import GoldenWriter, matcher_for
from hub.matching import fs_model, training
from hub.matching.settings import matching_for
from hub.records import Incoming
from hub.store import matching_store as ms
from hub.store.sealing import Sealer

if TYPE_CHECKING:
    from hub.sync.inbound import InboundSync

log = logging.getLogger(__name__)
BATCH = 250  # records matched again per transaction: merges are slow, locks stay short
#: Source records the store holds when a first read still going on trains the model.
DURING_READ = 100_000
#: Records a stream writes between two counts of the store (one COUNT per two batches).
CHECK_EVERY = 10_000
TRAINING_FAILURES = (HubError, SQLAlchemyError, ArithmeticError, ValueError, OSError)


@dataclass
class Trained:
    entity: str
    version: str
    records: int
    merged: int = 0
    reviews: int = 0


class AutoTrainer:
    """A run's own training, per entity at most once: in the middle of a long first read
    (``after_batch``, InboundSync's hook), else after the inbound streams
    (``after_inbound``). A failure costs the model, never the run: the sync goes on with
    the scoring it had."""

    def __init__(self, deployment: Deployment, engine: Engine, sealer: Sealer,
                 audit: AuditLog, run_id: int):
        self.deployment, self.engine, self.sealer = deployment, engine, sealer
        self.audit, self.run_id = audit, run_id
        self.trained: list[Trained] = []
        self._settled: set[str] = set()  # entities trained, tried, or with nothing to do
        self._counted: dict[str, int] = {}  # stream -> records written at its last count

    def after_batch(self, pull: InboundSync) -> None:
        entity, counts = pull.entity, pull.counts
        written = counts.created + counts.updated
        if entity in self._settled or \
                written - self._counted.get(pull.stream.label, 0) < CHECK_EVERY:
            return
        self._counted[pull.stream.label] = written
        settings = matching_for(self.deployment.config, entity)
        if not settings.model.auto_train or not settings.fuzzy.enabled or \
                fs_model.model_path(self.deployment.base_dir, entity).exists():
            self._settled.add(entity)
            return
        sources = {s.system for s in self.deployment.streams("inbound") if s.entity == entity}
        with self.engine.connect() as conn:
            due = ms.count_live_xrefs(conn, entity) >= max(settings.model.auto_train,
                                                           DURING_READ)
            # A model learned before every source has sent records would know one source's
            # records only: with no duplicates among them, nothing to learn a match from
            # (seen: it matched the second source worse than the fixed scoring).
            due = due and ms.systems_holding(conn, entity, sources) == sources
        if due and self._train(entity):
            # the rest of this read is matched with the model, under its blocking keys
            pull.mm.matcher = pull.writer.matcher = matcher_for(
                self.deployment, entity, self.sealer.keyring)

    def after_inbound(self, entities: set[str]) -> None:
        for entity in sorted(entities - self._settled):
            self._train(entity)

    def _train(self, entity: str) -> bool:
        self._settled.add(entity)
        try:
            done = maybe_train(self.deployment, self.engine, self.sealer, self.audit,
                               self.run_id, entity)
        except TRAINING_FAILURES as exc:
            log.warning("no matching model trained for %s (%s); the fixed scoring goes on: "
                        "try kontor matching train", entity, type(exc).__name__)
            return False
        if done is None:
            return False
        self.trained.append(done)
        log.info("matching model %s trained for %s on %s records: %s merges, %s reviews",
                 done.version, entity, done.records, done.merged, done.reviews)
        return True


def maybe_train(deployment: Deployment, engine: Engine, sealer: Sealer, audit: AuditLog,
                run_id: int, entity: str) -> Trained | None:
    """Train, re-key and match again if the time has come; None when it has not."""
    settings = matching_for(deployment.config, entity)
    minimum = settings.model.auto_train
    path = fs_model.model_path(deployment.base_dir, entity)
    if not minimum or not settings.fuzzy.enabled or path.exists():
        return None
    with engine.connect() as conn:
        if ms.count_live_xrefs(conn, entity) < minimum:
            return None
        found = training.stored_records(conn, entity)
    model = fs_model.train(found.keys, found.values, entity=entity,
                           **training.model_settings(deployment, entity))
    done = Trained(entity, model.version, len(found.keys))
    faults.point("auto_model.trained")
    matcher = matcher_for(deployment, entity, sealer.keyring, model=model)
    rekey.ensure(engine, sealer, matcher)
    writer = GoldenWriter(deployment, sealer, entity, audit=audit, matcher=matcher)
    for system, batch in _linked_elsewhere(model, found, entity):
        _match_again(engine, writer, system, batch, run_id, done)
    with engine.begin() as conn:
        audit.add("matching.train", "trained", entity=entity, run_id=run_id,
                  detail={"version": done.version, "records": done.records,
                          "merged": done.merged, "reviews": done.reviews})
        audit.flush(conn)
    # Last: a run killed before this point leaves no model file, so the next run trains
    # and matches the store again (its merges so far stand; they were the model's).
    faults.point("auto_model.before_save")
    training.save(model, path)
    return done


def _linked_elsewhere(model: fs_model.Model, found: training.StoredRecords, entity: str
                      ) -> list[tuple[str, list[tuple[str, dict[str, object]]]]]:
    """Source records the model links (at auto-merge) with a record of another golden
    record, as (system, [(source key, values)]) batches: the only ones whose golden record
    can change; every other link is inside one golden record already. (Matched again,
    stored records are linked, so a pair below auto-merge would not go to review.)"""
    links = fs_model.link(model, found.values, entity=entity, threshold=model.auto_merge)
    golden = np.array(found.golden_ids, dtype=object)
    across = (links.probability >= model.auto_merge) & (golden[links.i] != golden[links.j])
    chosen = sorted(set(links.i[across].tolist()) | set(links.j[across].tolist()))
    by_system: dict[str, list[tuple[str, dict[str, object]]]] = defaultdict(list)
    for n in chosen:
        system, _, key = found.keys[n].partition("\x1f")
        by_system[system].append((key, found.values[n]))
    return [(system, records[start:start + BATCH]) for system, records in
            sorted(by_system.items()) for start in range(0, len(records), BATCH)]


def _match_again(engine: Engine, writer: GoldenWriter, system: str,
                 batch: list[tuple[str, dict[str, object]]], run_id: int, done: Trained
                 ) -> None:
    entity, now = writer.entity, dt.datetime.now(dt.UTC)
    event = {"kind": "record.merge", "source": system, "destination": "hub",
             "run_id": run_id}
    with engine.begin() as conn:
        writer.lock(conn)
        # golden ids as they are now: an earlier batch may have merged some
        state = ms.fetch_xref_state(conn, system, entity, [k for k, _ in batch])
        items = [Incoming(key, dict(values), str(values.get("_at") or ""), "", "",
                          golden_id=state[key][0]) for key, values in batch if key in state]
        writer.matcher.relink(conn, system, items)
        for item in items:
            for merged, score, why in item.extra.get("merge", []):
                writer.merge(conn, str(item.golden_id), merged, actor="auto", run_id=run_id,
                             now=now, event=event, why={"score": round(score, 4), **why,
                                                        "record": item.source_key})
                done.merged += 1
        reviews = [{"golden_a": item.golden_id, "golden_b": other, "score": round(s, 4),
                    "evidence": evidence, "system": system, "source_key": item.source_key,
                    "run_id": run_id}
                   for item in items for other, s, evidence in item.extra.get("review", [])
                   if isinstance(other, str) and other != item.golden_id]
        if reviews:
            done.reviews += ms.queue_reviews(conn, entity, reviews, now)
        if writer.audit is not None:
            writer.audit.flush(conn)
