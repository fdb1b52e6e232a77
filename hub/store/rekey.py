"""Re-wrap every stored data key with the active master key (``kontor keys rotate``).

Only the small wrapped keys change, never the sealed data, so rotation is quick and the hub
keeps running: each batch commits on its own, and readers unwrap old and new alike.
"""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from hub.store import bulk
from hub.store.tables import Quarantine, SubjectKey
from policies.envelope import Envelope


def rewrap_subject_keys(engine: Engine, envelope: Envelope, batch: int = 2000) -> int:
    t = bulk.table_of(SubjectKey)
    active, done = envelope.keyring.active, 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(select(t).where(t.c.key_id != active).limit(batch)).all()
            for r in rows:
                subject = f"{r.entity}|{r.golden_id}"
                dek = envelope.unwrap(r.wrapped, subject, r.key_id)
                conn.execute(update(t).where(t.c.entity == r.entity,
                                             t.c.golden_id == r.golden_id)
                             .values(wrapped=envelope.wrap(dek, subject), key_id=active))
        done += len(rows)
        if len(rows) < batch:
            return done


def rewrap_quarantine(engine: Engine, envelope: Envelope) -> int:
    q = bulk.table_of(Quarantine)
    active, done = envelope.keyring.active, 0
    with engine.begin() as conn:
        for r in conn.execute(select(q.c.id, q.c.payload).where(q.c.payload.is_not(None))).all():
            payload = dict(r.payload)
            if "sealed" not in payload or payload.get("key_id") == active:
                continue
            dek = envelope.unwrap(payload["key"], "quarantine", payload["key_id"])
            payload.update(key=envelope.wrap(dek, "quarantine"), key_id=active)
            conn.execute(update(q).where(q.c.id == r.id).values(payload=payload))
            done += 1
    return done
