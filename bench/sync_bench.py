"""Benchmark: a full sync, then an incremental one with 1% of the records changed.

Source: an SQLite billing table with an `updated_at` cursor; target: a CSV file; master
store: SQLite. Each measurement runs in a fresh process (peak memory its own). Prints
records/s, seconds and peak memory, and the incremental sync's time as a share of the
full one.

    python bench/sync_bench.py --rows 100000
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import in_fresh_process, report, result

CONFIG = """database: kontor.db
batch_size: 5000
systems:
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


def setup(folder: Path, rows: int) -> None:
    from policies import keys

    (folder / "mappings").mkdir(parents=True)
    (folder / "policies").mkdir()
    (folder / "out").mkdir()
    (folder / "kontor.yaml").write_text(CONFIG, encoding="utf-8")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child", choices=["full", "incremental"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.child:
        child_sync(args.folder, args.child)
        return
    with tempfile.TemporaryDirectory(prefix="kontor-sync-") as tmp:
        folder = Path(tmp)
        setup(folder, args.rows)
        full = in_fresh_process(__file__, "full", ["--folder", str(folder)])
        changed = change_one_percent(folder, args.rows)
        incremental = in_fresh_process(__file__, "incremental", ["--folder", str(folder)])
    print(f"sync of {args.rows:,} customers, SQLite source -> store -> CSV target")
    print(f"{'run':<34}{'records':>10}{'seconds':>10}{'records/s':>12}{'peak MiB':>10}")
    for label, r in (("full (every record new)", full),
                     (f"incremental ({changed:,} changed, 1%)", incremental)):
        print(f"{label:<34}{int(r['rows']):>10,}{r['seconds']:>10.1f}"
              f"{r['rows'] / r['seconds']:>12,.0f}{r['peak_mib']:>10.0f}")
    print(f"incremental / full time: {incremental['seconds'] / full['seconds']:.1%}")


if __name__ == "__main__":
    main()
