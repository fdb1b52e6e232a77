"""Out of the box, a model learned from the data: the sync trains one by itself.

With no matching settings, the first syncs score pairs with fixed weights, which link only
near-identical records. Once the store holds ``matching.<entity>.model.auto_train`` source
records (1,000 by default) and the deployment has no model file, the sync trains the
Fellegi-Sunter model on them without labels (as `kontor matching train` does; on an even
sample of at most 200,000), re-makes the stored match keys for the model's blocking, and
matches every source record again, a batch at a time, as a sync matches records whose
values changed: golden records the model links merge through the write path, doubtful
pairs go to the steward. Memory stays bounded by the sample and the batch. Then it writes
matching/<entity>.model.json with its report; from then on every sync scores with that
model; `kontor matching train` trains it again, a deleted model file makes the sync
train anew.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from hub import faults
from hub.audit.record import AuditLog
from hub.config import Deployment
from hub.golden import rekey
from hub.golden.writer import GoldenWriter, matcher_for
from hub.matching import fs_model, training
from hub.matching.settings import matching_for
from hub.records import Incoming
from hub.store import matching_store as ms
from hub.store.sealing import Sealer

log = logging.getLogger(__name__)
BATCH = 500  # records matched again per transaction: locks stay short
#: records the model learns from, at most (an even sample): memory stays bounded
TRAIN_RECORDS = 200_000


@dataclass
class Trained:
    entity: str
    version: str
    records: int
    merged: int = 0
    reviews: int = 0


def maybe_train(deployment: Deployment, engine: Engine, sealer: Sealer, audit: AuditLog,
                run_id: int, entity: str) -> Trained | None:
    """Train, re-key and match again if the time has come; None when it has not."""
    settings = matching_for(deployment.config, entity)
    minimum = settings.model.auto_train
    path = fs_model.model_path(deployment.base_dir, entity)
    if not minimum or not settings.fuzzy.enabled or path.exists():
        return None
    with engine.connect() as conn:
        records = ms.count_live_xrefs(conn, entity)
        if records < minimum:
            return None
        sample = training.stored_records(conn, entity, limit=TRAIN_RECORDS)
    model = fs_model.train(sample.keys, sample.values, entity=entity,
                           **training.model_settings(deployment, entity))
    del sample
    done = Trained(entity, model.version, records)
    faults.point("auto_model.trained")
    matcher = matcher_for(deployment, entity, sealer.keyring, model=model)
    rekey.ensure(engine, sealer, matcher)
    writer = GoldenWriter(deployment, sealer, entity, audit=audit, matcher=matcher)
    for system in _systems(engine, entity):
        after = 0
        while (after := _match_again(engine, writer, system, after, run_id, done)) >= 0:
            pass
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


def _systems(engine: Engine, entity: str) -> list[str]:
    with engine.connect() as conn:
        return ms.systems_with_records(conn, entity)


def _match_again(engine: Engine, writer: GoldenWriter, system: str, after: int,
                 run_id: int, done: Trained) -> int:
    """Match the next ``BATCH`` live source records of ``system`` (by xref id, after
    ``after``) again, as a sync matches records whose values changed: each meets every
    stored record sharing a key with it, so what the model links merges and what it
    doubts goes to review. Returns the last xref id done, -1 when there were none."""
    entity, now = writer.entity, dt.datetime.now(dt.UTC)
    event = {"kind": "record.merge", "source": system, "destination": "hub",
             "run_id": run_id}
    with engine.begin() as conn:
        writer.lock(conn)  # golden ids read under the lock: earlier batches merged some
        rows = ms.live_sources_of_system(conn, system, entity, after, BATCH)
        if not rows:
            return -1
        items = [Incoming(key, dict(values), str(values.get("_at") or ""), "", "",
                          golden_id=golden) for _, key, golden, values in rows]
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
    return int(rows[-1][0])
