"""Benchmark: a full sync, then an incremental one with 1% of the records changed.

Source: an SQLite billing table with an `updated_at` cursor; target: a CSV file; master
store: SQLite, or with ``--store postgresql`` a fresh database on the local PostgreSQL
(127.0.0.1:5432, user postgres; dropped afterwards). Beside it, in the same run, the bare
baseline on the same engine: the source rows read, inserted into an indexed table (SQLite
executemany / PostgreSQL COPY) and written to CSV (``bench.import_customers.bare_insert``).
Each measurement runs in a fresh process (peak memory its own). Prints records/s, seconds,
peak memory (medians of --repeat runs), the full sync's rate as a share of the baseline's
and the incremental sync's time as a share of the full one.

    python bench/sync_bench.py --rows 100000 --store postgresql
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import in_fresh_process, report, result

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

CONFIG = """database: {database}
batch_size: 5000
{matching}systems:
  billing:
    connector: sql
    settings: {url: "sqlite:///billing.db"}
    streams:
      customers: {entity: customer, direction: inbound, resource: customers, key: [id],
                  cursor_field: updated_at, mapping: mappings/in.yaml}
  export:
    connector: csv
    settings: {directory: out}
    streams:
      customers: {entity: customer, direction: outbound, resource: customers.csv,
                  key: [customer_number], mapping: mappings/out.yaml}
"""
IN = """entity: customer
updated_at: updated_at
fields:
  customer_number: id
  first_name: first_name
  last_name: last_name
  email: {column: email, normalise: [email]}
  city: city
  country: country
"""
OUT = """entity: customer
fields:
  customer_number: customer_number
  first_name: first_name
  last_name: last_name
  city: city
"""
POLICY = "rules:\n  - {id: all, to: [export], category: user, action: allow}\n"


def setup(folder: Path, rows: int, database: str = "kontor.db", train: bool = True,
          fuzzy: bool = True) -> None:
    """``train=False``: the sync does not train a matching model by itself (the first
    full sync of 1,000 records or more does, once: docs/matching.md); ``fuzzy=False``:
    no fuzzy matching at all (what the rest of the sync costs without it)."""
    from policies import keys

    (folder / "mappings").mkdir(parents=True)
    (folder / "policies").mkdir()
    (folder / "out").mkdir()
    matching = "" if train and fuzzy else \
        "matching: {customer: {model: {auto_train: 0}}}\n" if fuzzy else \
        "matching: {customer: {fuzzy: {enabled: false}, model: {auto_train: 0}}}\n"
    (folder / "kontor.yaml").write_text(
        CONFIG.replace("{database}", database).replace("{matching}", matching),
        encoding="utf-8")
    (folder / "mappings" / "in.yaml").write_text(IN, encoding="utf-8")
    (folder / "mappings" / "out.yaml").write_text(OUT, encoding="utf-8")
    (folder / "policies" / "p.yaml").write_text(POLICY, encoding="utf-8")
    keys.create(folder / ".kontor" / "keyring.json")
    db = sqlite3.connect(folder / "billing.db")
    db.execute("CREATE TABLE customers (id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, "
               "email TEXT, city TEXT, country TEXT, updated_at TEXT)")
    rng = random.Random(3)
    cities = ["Berlin", "Köln", "Leipzig", "München", "Hamburg", "Kiel"]
    with db:
        db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)",
                       ((f"B-{i:07d}", f"Vor{i}", f"Nach{i}", f"k{i}@example.org",
                         rng.choice(cities), "DE", "2026-01-01T00:00:00") for i in range(rows)))
    db.close()


def change_one_percent(folder: Path, rows: int) -> int:
    db = sqlite3.connect(folder / "billing.db")
    step = 100
    with db:
        db.execute("UPDATE customers SET city = 'Bonn', updated_at = '2026-06-01T00:00:00' "
                   "WHERE rowid % ? = 0", (step,))
    db.close()
    return rows // step


@contextmanager
def store_url(kind: str, folder: Path, name: str) -> Iterator[str]:
    """A fresh, empty store: an SQLite file in ``folder``, or a new PostgreSQL database
    (dropped on exit)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / (name + '.db')}"
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    database = f"kontor_bench_{name}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{database}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def child_baseline(folder: Path, url: str) -> None:
    from bench.import_customers import bare_insert

    start = time.perf_counter()
    source = sqlite3.connect(folder / "billing.db")
    cursor = source.execute("SELECT * FROM customers")
    columns = [d[0] for d in cursor.description]
    stored = bare_insert(cursor, columns, url, folder / "out" / "baseline.csv")
    source.close()
    report(result(stored, time.perf_counter() - start))


def child_sync(folder: Path, kind: str) -> None:
    from hub.context import open_hub
    from hub.sync.runner import run_sync

    hub = open_hub(folder / "kontor.yaml")
    start = time.perf_counter()
    outcome = run_sync(hub.deployment, hub.engine)
    seconds = time.perf_counter() - start
    hub.close()
    if outcome.status != "success":
        raise SystemExit(f"{kind} sync failed: {outcome.status}")
    changed = sum(s.created + s.updated for s in outcome.streams if s.direction == "inbound")
    report(result(changed, seconds))


def one_run(rows: int, store: str, train: bool = True, matching_share: bool = False
            ) -> dict[str, dict[str, float]]:
    """Baseline, full sync and incremental sync on fresh stores of one engine; with
    ``matching_share`` also a full sync without fuzzy matching."""
    found = _one_run(rows, store, train)
    if matching_share:
        with tempfile.TemporaryDirectory(prefix="kontor-sync-") as tmp:
            folder = Path(tmp)
            with store_url(store, folder, "kontor") as url:
                setup(folder, rows, url if store != "sqlite" else "kontor.db", False,
                      fuzzy=False)
                found["unmatched"] = in_fresh_process(__file__, "full",
                                                      ["--folder", str(folder)])
    return found


def _one_run(rows: int, store: str, train: bool) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="kontor-sync-") as tmp:
        folder = Path(tmp)
        with store_url(store, folder, "kontor") as url:
            setup(folder, rows, url if store != "sqlite" else "kontor.db", train)
            with store_url(store, folder, "baseline") as bare:
                baseline = in_fresh_process(__file__, "baseline",
                                            ["--folder", str(folder), "--url", bare])
            full = in_fresh_process(__file__, "full", ["--folder", str(folder)])
            change_one_percent(folder, rows)
            incremental = in_fresh_process(__file__, "incremental", ["--folder", str(folder)])
    return {"baseline": baseline, "full": full, "incremental": incremental}


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-train", action="store_true",
                        help="no model trained by the first full sync (the hot path alone)")
    parser.add_argument("--matching-share", action="store_true",
                        help="also a full sync without fuzzy matching: matching's share of "
                             "the full sync's time")
    parser.add_argument("--child", choices=["baseline", "full", "incremental"])
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child == "baseline":
        child_baseline(args.folder, args.url)
        return
    if args.child:
        child_sync(args.folder, args.child)
        return
    runs = [one_run(args.rows, args.store, not args.no_train, args.matching_share)
            for _ in range(args.repeat)]
    engine = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[args.store]
    changed = int(runs[0]["incremental"]["rows"])
    print(f"sync of {args.rows:,} customers, SQLite source -> {engine} store -> CSV target "
          f"(median of {args.repeat})")
    print(f"{'run':<40}{'records':>10}{'seconds':>10}{'records/s':>12}{'peak MiB':>10}")
    rates = {}
    kinds = [("baseline", "bare: read, indexed insert, CSV"),
             ("full", "kontor full (every record new)"),
             ("incremental", f"kontor incremental ({changed:,} changed, 1%)")]
    if args.matching_share:
        kinds.append(("unmatched", "kontor full, no fuzzy matching"))
    for kind, label in kinds:
        measured = [r[kind] for r in runs]
        seconds = _median(measured, "seconds")
        rates[kind] = statistics.median(r["rows"] / r["seconds"] for r in measured)
        print(f"{label:<40}{int(measured[0]['rows']):>10,}{seconds:>10.2f}"
              f"{rates[kind]:>12,.0f}{_median(measured, 'peak_mib'):>10.0f}")
    print(f"kontor full / bare baseline (records/s): {rates['full'] / rates['baseline']:.3f}x")
    print(f"incremental / full time: "
          f"{_median([r['incremental'] for r in runs], 'seconds') / _median([r['full'] for r in runs], 'seconds'):.1%}")
    if args.matching_share:
        full = _median([r["full"] for r in runs], "seconds")
        print(f"fuzzy matching's share of the full sync's time: "
              f"{1 - _median([r['unmatched'] for r in runs], 'seconds') / full:.1%}")


if __name__ == "__main__":
    main()
