"""Benchmark: writing the audit trail and verifying it.

Appends N transfer entries in batches (as a sync does: keyed value hash, shared decision
set, hash chain) beside the bare baseline of inserting the same rows without any of that,
then times `verify` over the whole chain. SQLite, one process, median of --repeat runs.

    python bench/audit_bench.py --entries 1000000 --repeat 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH = 5000


def _engine(folder: Path):  # type: ignore[no-untyped-def]
    from hub.store.db import make_engine
    from hub.store.migrate import upgrade

    engine = make_engine(f"sqlite:///{folder / 'trail.db'}")
    upgrade(engine)
    return engine


def _decisions() -> list:  # type: ignore[type-arg]
    from hub.taxonomy import lookup
    from policies.engine import FieldDecision
    from policies.spec import Action

    return [FieldDecision(f, lookup(c).key, Action.ALLOW, "rule-" + f, None, "sha256:bench")
            for f, c in (("first_name", "user.name.first"), ("last_name", "user.name.last"),
                         ("email", "user.contact.email"), ("iban", "user.financial.bank_account"),
                         ("salary", "user.financial.salary"))]


def write_trail(folder: Path, entries: int) -> float:
    from hub.audit.record import AuditLog
    from policies.keys import Keyring

    engine = _engine(folder)
    log = AuditLog(Keyring("k1", {"k1": b"\x02" * 32}, "bench"), "bench")
    decisions = _decisions()
    start = time.perf_counter()
    for first in range(0, entries, BATCH):
        now = dt.datetime.now(dt.UTC)
        with engine.begin() as conn:
            for i in range(first, min(first + BATCH, entries)):
                log.add("transfer.out", "sent", at=now, run_id=1, source="hub",
                        destination="payroll.employees", entity="employee",
                        golden_id=f"E-{i}", purpose="employment",
                        decisions=log.decisions(decisions), policy_version="sha256:bench",
                        value_hash=log.value_hash({"n": i, "iban": "DE89..."}))
            log.flush(conn)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def write_baseline(folder: Path, entries: int) -> float:
    import sqlite3

    db = sqlite3.connect(folder / "baseline.db")
    db.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, at TEXT, kind TEXT, golden_id TEXT, "
               "destination TEXT, outcome TEXT)")
    start = time.perf_counter()
    for first in range(0, entries, BATCH):
        now = dt.datetime.now(dt.UTC).isoformat()
        with db:
            db.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)",
                           [(i + 1, now, "transfer.out", f"E-{i}", "payroll.employees", "sent")
                            for i in range(first, min(first + BATCH, entries))])
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def verify_trail(folder: Path) -> tuple[float, int]:
    from hub.audit import signing, verify
    from policies.keys import Keyring

    engine = _engine(folder)
    keys = signing.public_keys(Keyring("k1", {"k1": b"\x02" * 32}, "bench"))
    start = time.perf_counter()
    report = verify.verify(engine, keys)
    elapsed = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"verify failed: {report.problem}")
    return elapsed, report.entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    writes, bases, verifies = [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="kontor-audit-") as tmp:
            folder = Path(tmp)
            bases.append(write_baseline(folder, args.entries))
            writes.append(write_trail(folder, args.entries))
            seconds, count = verify_trail(folder)
            assert count == args.entries
            verifies.append(seconds)
    n = args.entries
    print(f"audit trail, {n:,} transfer entries on SQLite (median of {args.repeat})")
    print(f"{'step':<46}{'seconds':>9}{'entries/s':>12}")
    for label, runs in (("baseline: plain executemany, no chain", bases),
                        ("kontor: write (keyed hash, chain, batches)", writes),
                        ("kontor: audit verify (whole chain)", verifies)):
        sec = statistics.median(runs)
        print(f"{label:<46}{sec:>9.1f}{n / sec:>12,.0f}")


if __name__ == "__main__":
    main()
