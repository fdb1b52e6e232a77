"""Check the trail: sequence, links, content hashes, signed checkpoints, and the tail.

Reports the first entry that was changed, deleted, inserted or reordered, a truncated
tail, and a chain rewritten without the signing key (it no longer matches a checkpoint).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, select

from hub.audit.chain import GENESIS, HASHED, entry_hash
from hub.audit.signing import verify_signature
from hub.audit.tables import AuditCheckpoint, AuditEntry, AuditHead
from hub.store import bulk

_BATCH = 20_000


@dataclass
class Report:
    ok: bool = True
    entries: int = 0
    checkpoints: int = 0
    problem: str | None = None
    seq: int | None = None  # the first bad entry, when there is one
    notes: list[str] = field(default_factory=list)

    def fail(self, seq: int | None, problem: str) -> Report:
        self.ok, self.seq, self.problem = False, seq, problem
        return self


def _entries(engine: Engine) -> Iterator[dict[str, Any]]:
    t = bulk.table_of(AuditEntry)
    columns = [t.c[c] for c in (*HASHED, "hash")]
    last = 0
    while True:  # keyset pages: bounded memory over millions of entries
        with engine.connect() as conn:
            rows = conn.execute(select(*columns).where(t.c.seq > last).order_by(t.c.seq)
                                .limit(_BATCH)).all()
        if not rows:
            return
        for r in rows:
            yield dict(r._mapping)
        last = rows[-1].seq


def verify(engine: Engine, keys: Mapping[str, Ed25519PublicKey],
           external: list[dict[str, Any]] | None = None) -> Report:
    """Verify the whole trail; ``external`` are checkpoints kept outside the database."""
    report = Report()
    with engine.connect() as conn:
        stored = [dict(r._mapping) for r in conn.execute(
            select(bulk.table_of(AuditCheckpoint)).order_by(bulk.table_of(AuditCheckpoint).c.id))]
        head = conn.execute(select(bulk.table_of(AuditHead))).first()
    checkpoints = stored + [c for c in external or []
                            if (c["seq"], c["hash"]) not in {(s["seq"], s["hash"]) for s in stored}]
    for i, c in enumerate(stored):
        if c["id"] != (stored[0]["id"] + i):
            return report.fail(None, f"checkpoint {stored[0]['id'] + i} was deleted")
    signed: dict[int, str] = {}
    for c in checkpoints:
        if not verify_signature(c, keys):
            return report.fail(c["seq"], f"checkpoint at entry {c['seq']} has no valid "
                                         "signature (forged, or signed by an unknown key)")
        if signed.get(c["seq"], c["hash"]) != c["hash"]:
            return report.fail(c["seq"], f"two signed checkpoints disagree at entry {c['seq']}")
        signed[c["seq"]] = c["hash"]
    report.checkpoints = len(checkpoints)
    if external and any((c["seq"], c["hash"]) not in {(s["seq"], s["hash"]) for s in stored}
                        for c in external):
        report.notes.append("some exported checkpoints are missing from the database")

    expected, prev = 1, GENESIS
    for entry in _entries(engine):
        seq = entry["seq"]
        if seq != expected:
            what = "deleted" if seq > expected else "duplicated or out of order"
            return report.fail(expected, f"entry {expected} is missing ({what})")
        if entry["prev_hash"] != prev:
            return report.fail(seq, f"entry {seq} does not follow entry {seq - 1} "
                                    "(an entry was inserted, deleted or reordered)")
        if entry_hash(entry) != entry["hash"]:
            return report.fail(seq, f"entry {seq} was altered (its content no longer "
                                    "matches its hash)")
        if seq in signed and signed[seq] != entry["hash"]:
            return report.fail(seq, f"the chain up to entry {seq} was rewritten after it "
                                    "was signed (it no longer matches its checkpoint)")
        prev, expected = entry["hash"], expected + 1
        report.entries += 1
    last = expected - 1
    beyond = [s for s in signed if s > last]
    if beyond:
        return report.fail(last + 1, f"the trail was truncated: a checkpoint covers entry "
                                     f"{max(beyond)} but the trail ends at {last}")
    if head is not None and (head.seq != last or head.hash != prev):
        return report.fail(last + 1, f"the trail was truncated or its tip altered: the head "
                                     f"records entry {head.seq}, the trail ends at {last}")
    if not checkpoints:
        report.notes.append("no signed checkpoint yet: run `kontor audit checkpoint`")
    else:
        latest = max(c["at"] for c in checkpoints)
        latest = latest if latest.tzinfo else latest.replace(tzinfo=dt.UTC)
        age = dt.datetime.now(dt.UTC) - latest
        if age > dt.timedelta(hours=25):  # `kontor serve` signs one every hour
            report.notes.append(f"the newest checkpoint is {age.days} day(s) "
                                f"{age.seconds // 3600} h old: a gap in the trail's signing")
    return report
