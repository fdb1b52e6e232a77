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
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
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
BATCH = 250  # records matched again per transaction: merges are slow, locks stay short


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
