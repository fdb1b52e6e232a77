"""Check the trail: sequence, links, content hashes, signed checkpoints, and the tail.

Reports the first entry that was changed, deleted, inserted or reordered (saying which,
where it can tell), a truncated tail, a chain rewritten without the signing key (it no
longer matches a checkpoint), a deleted or replaced checkpoint (checkpoints form their
own signed chain, and the trail records each one), and an unsigned tail — entries past
the last checkpoint — longer than the allowance.

What a writer of the database without the signing key can still do, and what catches it:

- Roll the whole store back to a state it really had: delete the newest checkpoint together
  with every entry from the one recording it on, and reset the head. Nothing inside the
  database tells that from the real past; a copy of the checkpoints kept elsewhere
  (``external``) does, and the newest checkpoint's age shows in a note.
- Rewrite or drop entries past the last checkpoint (they are signed by nothing yet): bounded
  by the unsigned-tail allowance, and caught by any later checkpoint kept elsewhere.
- Replace the trail wholesale with a never-signed one: an unsigned tail of its full length,
  and caught by an exported copy.
- Delete legacy checkpoints (signed before the chain existed) other than the last one:
  only a gap in their row ids shows, or an exported copy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, select

from hub.audit.chain import GENESIS, HASHED, entry_hash
from hub.audit.signing import RECORD_KIND, digest, verify_signature
from hub.audit.tables import AuditCheckpoint, AuditEntry, AuditHead
from hub.store import bulk

_BATCH = 20_000
_WINDOW = 4096  # recent hashes kept to name inserted entries (bounded memory)
_SHIFT = 64  # how far a renumbered entry is looked for

#: `kontor audit verify` exit codes (documented in docs/privacy.md).
EXIT_OK, EXIT_TAMPERED, EXIT_UNSIGNED_TAIL = 0, 1, 3


@dataclass
class Report:
    ok: bool = True
    entries: int = 0
    checkpoints: int = 0
    problem: str | None = None
    seq: int | None = None  # the first bad entry, when there is one
    checkpoint: int | None = None  # the checkpoint concerned, when the problem is one
    status: str = "intact"  # intact | tampered | unsigned_tail
    unsigned_tail: int = 0  # entries past the last checkpoint (and its own record)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return {"intact": EXIT_OK, "unsigned_tail": EXIT_UNSIGNED_TAIL}.get(self.status,
                                                                           EXIT_TAMPERED)

    def fail(self, seq: int | None, problem: str, *, checkpoint: int | None = None) -> Report:
        self.ok, self.seq, self.problem, self.status = False, seq, problem, "tampered"
        self.checkpoint = checkpoint
        return self

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status, "exit_code": self.exit_code,
                "entries": self.entries, "checkpoints": self.checkpoints,
                "problem": self.problem, "seq": self.seq, "checkpoint": self.checkpoint,
                "unsigned_tail": self.unsigned_tail, "notes": self.notes}


def _entries(engine: Engine) -> Iterator[dict[str, Any]]:
    t = bulk.table_of(AuditEntry)
    columns = [t.c[c] for c in (*HASHED, "hash")]
    last: int | None = None  # no lower bound at first: entries numbered 0 or below show too
    while True:  # keyset pages: bounded memory over millions of entries
        stmt = select(*columns).order_by(t.c.seq).limit(_BATCH)
        if last is not None:
            stmt = stmt.where(t.c.seq > last)
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            return
        for r in rows:
            yield dict(r._mapping)
        last = rows[-1].seq


def _entries_text(n: int) -> str:
    return "1 entry" if n == 1 else f"{n} entries"


def _check_checkpoints(report: Report, stored: list[dict[str, Any]],
                       external: list[dict[str, Any]]) -> dict[int, dict[str, Any]] | None:
    """The checkpoints' own chain; returns the chained ones by number (None: failed)."""
    legacy = sorted((c for c in stored if c.get("n") is None), key=lambda c: c["id"])
    for i, c in enumerate(legacy):
        if c["id"] != legacy[0]["id"] + i:
            report.fail(None, f"legacy checkpoint {legacy[0]['id'] + i} was deleted")
            return None
    chained: dict[int, dict[str, Any]] = {}
    for c in stored:
        if c.get("n") is not None:
            chained[c["n"]] = c
    prev = digest(legacy[-1]) if legacy else GENESIS
    for i, n in enumerate(sorted(chained), start=1):
        c = chained[n]
        if n != i:
            missing = f"{i}" if n == i + 1 else f"{i} to {n - 1}"
            report.fail(None, f"checkpoint {missing} was deleted (checkpoint {n} follows "
                              f"checkpoint {i - 1 or 'none'})", checkpoint=i)
            return None
        if c["prev"] != prev:
            before = (f"checkpoint {n - 1}" if n > 1 else
                      "the last legacy checkpoint" if legacy and c["prev"] != GENESIS
                      else "no checkpoint")
            report.fail(None, f"checkpoint {n} does not follow {before}: a checkpoint before "
                              "it was deleted or replaced", checkpoint=max(1, n))
            return None
        if n > 1 and c["seq"] < chained[n - 1]["seq"]:
            report.fail(None, f"checkpoint {n} covers fewer entries than checkpoint {n - 1}",
                        checkpoint=n)
            return None
        prev = digest(c)
    # every checkpoint kept elsewhere must still be in the database
    signatures = {c["signature"] for c in stored}
    for c in external:
        if c["signature"] not in signatures:
            name = f"checkpoint {c['n']}" if c.get("n") is not None else \
                f"the legacy checkpoint at entry {c['seq']}"
            report.fail(None, f"{name} from the exported copy is missing from the database "
                              "(deleted)", checkpoint=c.get("n"))
            return None
    return chained


def _misplaced(entry: dict[str, Any], seq: int) -> int:
    """How far this entry was renumbered (+d: it was entry seq + d; 0: not found)."""
    for d in range(1, _SHIFT + 1):
        for shift in (d, -d):
            if seq + shift >= 1 and entry_hash({**entry, "seq": seq + shift}) == entry["hash"]:
                return shift
    return 0


def _broken_link(report: Report, entry: dict[str, Any], recent: Mapping[str, int]) -> Report:
    """Entry ``seq`` does not link to entry seq - 1: say what happened, where one can tell."""
    seq = entry["seq"]
    follows = recent.get(entry["prev_hash"])
    if follows is not None and follows < seq - 1:
        first, last = follows + 1, seq - 1
        what = f"entry {first} was" if first == last else f"entries {first} to {last} were"
        return report.fail(first, f"{what} inserted (entry {seq} follows entry {follows})")
    own = entry_hash(entry) == entry["hash"]
    if own:
        return report.fail(seq - 1, f"entry {seq - 1} was changed or replaced (entry {seq} "
                                    "no longer links to it)")
    shift = _misplaced(entry, seq)
    if shift > 0:
        return report.fail(seq, f"entry {seq} was deleted or moved: the entry now numbered "
                                f"{seq} is entry {seq + shift}, renumbered (deleted, or "
                                "reordered)")
    if shift < 0:
        return report.fail(seq + shift, f"{_entries_text(-shift)} inserted before entry "
                                        f"{seq}: the entry now numbered {seq} is entry "
                                        f"{seq + shift}, renumbered")
    return report.fail(seq, f"entry {seq} does not follow entry {seq - 1} and was altered "
                            "(an entry was inserted, deleted or reordered)")


def verify(engine: Engine, keys: Mapping[str, Ed25519PublicKey],
           external: list[dict[str, Any]] | None = None, *,
           unsigned_tail_allowance: int | None = None) -> Report:
    """Verify the whole trail; ``external`` are checkpoints kept outside the database.

    ``unsigned_tail_allowance``: how many entries may follow the last checkpoint before the
    trail fails with status ``unsigned_tail`` (None: any number, with a note).
    """
    report = Report()
    t = bulk.table_of(AuditCheckpoint)
    with engine.connect() as conn:
        stored = [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.id))]
        head = conn.execute(select(bulk.table_of(AuditHead))).first()
    external = external or []
    signatures = {c["signature"] for c in stored}
    checkpoints = stored + [c for c in external if c["signature"] not in signatures]
    signed: dict[int, str] = {}
    for c in checkpoints:
        if not verify_signature(c, keys):
            name = f"checkpoint {c['n']}" if c.get("n") is not None else "checkpoint"
            return report.fail(c["seq"], f"{name} at entry {c['seq']} has no valid signature "
                                         "(forged, or signed by an unknown key)",
                               checkpoint=c.get("n"))
        if signed.get(c["seq"], c["hash"]) != c["hash"]:
            return report.fail(c["seq"], f"two signed checkpoints disagree at entry {c['seq']}")
        signed[c["seq"]] = c["hash"]
    report.checkpoints = len(checkpoints)
    chained = _check_checkpoints(report, stored, external)
    if chained is None:
        return report

    expected, prev = 1, GENESIS
    recent: dict[str, int] = {GENESIS: 0}
    older: dict[str, int] = {}
    recorded: dict[int, int] = {}  # checkpoint n -> the entry that records it
    end = head.seq if head is not None else None
    for entry in _entries(engine):
        seq = entry["seq"]
        if seq < 1:
            return report.fail(seq, f"entry {seq} lies before the start of the trail (entries "
                                    "are numbered from 1): it was inserted")
        if seq != expected:
            if end is not None and expected - 1 == end and seq > end:
                return report.fail(seq, f"entry {seq} lies beyond the end of the trail (the "
                                        f"head records entry {end}): it was inserted")
            gap = (f"entry {expected} is" if seq == expected + 1 else
                   f"entries {expected} to {seq - 1} are")
            return report.fail(expected, f"{gap} missing (deleted)")
        if entry["prev_hash"] != prev:
            return _broken_link(report, entry, {**older, **recent})
        if entry_hash(entry) != entry["hash"]:
            return report.fail(seq, f"entry {seq} was altered (its content no longer "
                                    "matches its hash)")
        if seq in signed and signed[seq] != entry["hash"]:
            return report.fail(seq, f"the chain up to entry {seq} was rewritten after it "
                                    "was signed (it no longer matches its checkpoint)")
        if entry["kind"] == RECORD_KIND:
            n = (entry["detail"] or {}).get("checkpoint")
            c = chained.get(n) if isinstance(n, int) else None
            if c is None:
                return report.fail(None, f"checkpoint {n} was deleted (entry {seq} records "
                                         "that it was signed)",
                                   checkpoint=n if isinstance(n, int) else None)
            if digest(c) != entry["detail"].get("digest") or c["seq"] >= seq:
                return report.fail(None, f"checkpoint {n} was replaced (entry {seq} records "
                                         "another one)", checkpoint=n)
            recorded[c["n"]] = seq
        prev, expected = entry["hash"], expected + 1
        recent[prev] = seq
        if len(recent) >= _WINDOW:  # two generations: the last _WINDOW or more, bounded
            older, recent = recent, {}
        report.entries += 1
    last = expected - 1
    beyond = [s for s in signed if s > last]
    if beyond:
        return report.fail(last + 1, f"the trail was truncated: a checkpoint covers entry "
                                     f"{max(beyond)} but the trail ends at {last}")
    unrecorded = sorted(set(chained) - set(recorded))
    if unrecorded:
        n = unrecorded[0]
        return report.fail(chained[n]["seq"] + 1, f"the entry recording checkpoint {n} is "
                                                   "missing: the trail was truncated after "
                                                   f"entry {chained[n]['seq']}", checkpoint=n)
    if head is not None and last > head.seq:
        first = head.seq + 1
        what = f"entry {first} was" if first == last else f"entries {first} to {last} were"
        return report.fail(first, f"{what} inserted after the end of the trail (the head "
                                  f"records entry {head.seq})")
    if head is not None and (head.seq != last or head.hash != prev):
        return report.fail(last + 1, f"the trail was truncated or its tip altered: the head "
                                     f"records entry {head.seq}, the trail ends at {last}")

    covered = max([*signed, *recorded.values(), 0])
    report.unsigned_tail = last - covered
    if not checkpoints:
        report.notes.append("no signed checkpoint yet: run `kontor audit checkpoint`")
    else:
        latest = max(c["at"] for c in checkpoints)
        latest = latest if latest.tzinfo else latest.replace(tzinfo=dt.UTC)
        age = dt.datetime.now(dt.UTC) - latest
        if age > dt.timedelta(hours=25):  # `kontor serve` signs one every hour
            report.notes.append(f"the newest checkpoint is {age.days} day(s) "
                                f"{age.seconds // 3600} h old: a gap in the trail's signing")
    if report.unsigned_tail:
        tail = (f"{_entries_text(report.unsigned_tail)} past the last checkpoint "
                f"(entries {covered + 1} to {last}) are signed by nothing yet")
        if unsigned_tail_allowance is not None and report.unsigned_tail > unsigned_tail_allowance:
            report.ok, report.status, report.seq = False, "unsigned_tail", covered + 1
            report.problem = (f"{tail}: more than the {unsigned_tail_allowance} allowed "
                              "(audit_unsigned_tail); they could have been rewritten without "
                              "the key. Sign them with `kontor audit checkpoint` if you trust "
                              "them, or pass --allow-unsigned-tail")
        else:
            report.notes.append(tail)
    return report
