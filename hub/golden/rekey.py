"""Re-key the store when the matching keys' configuration changes.

Match keys are stored as digests, made by the rules, the blocking kinds and a trained
model's blocking rules in force when each record arrived. Change any of them (say, `kontor
matching train` wrote a model with other blocking rules) and a new record's keys never
meet the keys stored before: duplicates of earlier records would go unseen, silently. So
the store remembers a fingerprint of the configuration its keys were made with
(``match_keyset``), and when it differs, every golden record's keys and every source
record's keys are made again, a batch per transaction, before the sync matches anything.
A crash part way leaves the old fingerprint, and the next run starts over: each batch
replaces keys, so doing one twice is harmless.

A source record's keys are made again from the values kept for it (``xref.data``: the
unrestricted fields). Keys a rule made from a restricted field (a tax id, say) are found
through its golden record's keys, which are made from the golden record's opened values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

from sqlalchemy import Engine, func, select

from hub.canonical import MODELS
from hub.matching import fs_blocking as fb
from hub.matching.matcher import Matcher
from hub.records import to_json_bytes
from hub.store import bulk, goldens
from hub.store import matching_store as ms
from hub.store.sealing import Sealer

#: Raise when the code that turns values into key texts changes: stored keys are then stale.
KEY_FORMAT = 1

Progress = Callable[[int], None]


def fingerprint(matcher: Matcher) -> str:
    """What the keys of ``matcher``'s entity are made with, as one digest."""
    model = matcher.model
    spec = {"format": KEY_FORMAT, "rules": matcher.rules,
            "fuzzy": matcher.fuzzy.enabled and list(matcher.fuzzy.blocking),
            "model": model and [fb.rule(r).to_json() for r in model.blocking]}
    return hashlib.sha256(to_json_bytes(spec)).hexdigest()


def needed(engine: Engine, matcher: Matcher) -> bool:
    """Whether the stored keys were made with another configuration. A store without keys
    takes the current fingerprint at once: nothing to re-make."""
    current = fingerprint(matcher)
    with engine.begin() as conn:
        stored = ms.keyset(conn, matcher.entity)
        if stored == current:
            return False
        if stored is None and not ms.holds_keys(conn, matcher.entity):
            ms.set_keyset(conn, matcher.entity, current, dt.datetime.now(dt.UTC))
            return False
    return True


def ensure(engine: Engine, sealer: Sealer, matcher: Matcher) -> tuple[int, int] | None:
    """Re-key if the stored keys were made with another configuration; what ``rekey``
    returns, or None when nothing needed doing."""
    return rekey(engine, sealer, matcher) if needed(engine, matcher) else None


def count(engine: Engine, entity: str) -> int:
    """Golden and live source records: the work ``rekey`` has to do, for a progress bar."""
    g = bulk.table_of(MODELS[entity])
    with engine.connect() as conn:
        goldens_n = conn.execute(select(func.count()).select_from(g)).scalar_one()
        return int(goldens_n) + ms.count_live_xrefs(conn, entity)


def rekey(engine: Engine, sealer: Sealer, matcher: Matcher, *, batch: int = 2000,
          progress: Progress | None = None) -> tuple[int, int]:
    """Make every stored key again with ``matcher``'s configuration; returns (golden
    records, source records) re-keyed."""
    entity = matcher.entity
    g = bulk.table_of(MODELS[entity])
    done_goldens = done_sources = 0
    last = ""
    while True:
        with engine.begin() as conn:
            bulk.lock_entity(conn, entity)  # no sync writes keys of this entity meanwhile
            ids = list(conn.execute(select(g.c.id).where(g.c.id > last)
                                    .order_by(g.c.id).limit(batch)).scalars())
            if not ids:
                break
            rows = goldens.read(conn, sealer, entity, ids)
            ms.replace_golden_keys(conn, entity, {gid: matcher.keys_of(rows[gid])
                                                  for gid in ids if gid in rows})
        last, done_goldens = ids[-1], done_goldens + len(ids)
        if progress:
            progress(len(ids))
    after = 0
    while True:
        with engine.begin() as conn:
            bulk.lock_entity(conn, entity)
            sources = ms.live_xrefs(conn, entity, after, batch)
            if not sources:
                break
            values = [data for _, data in sources]
            keys = matcher.source_digests(values, [matcher.keys_of(v) for v in values])
            ms.replace_source_keys(conn, entity, {xid: k for (xid, _), k in
                                                  zip(sources, keys)})
        after, done_sources = sources[-1][0], done_sources + len(sources)
        if progress:
            progress(len(sources))
    with engine.begin() as conn:
        ms.set_keyset(conn, entity, fingerprint(matcher), dt.datetime.now(dt.UTC))
    return done_goldens, done_sources
