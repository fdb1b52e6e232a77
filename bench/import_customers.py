"""Benchmark: full import of N customers from CSV into the master store (SQLite).

Prints records/s and peak memory (VmHWM of a fresh process per measurement) for Kontor's
full pipeline (read, map, match, merge, history, xref) beside the bare baseline of
``csv.reader`` + one ``executemany`` into SQLite, in the same run. Medians of --repeat runs.

    python bench/import_customers.py --rows 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Imported after the line above makes the repo importable when run as a script.
from bench.measure import (
    in_fresh_process,
    medians,
    report,
    result,
    table_header,
    table_row,
)


def run_baseline(folder: Path) -> dict[str, float]:
    import csv
    import sqlite3

    from bench.datagen import HEADER

    db = sqlite3.connect(folder / "baseline.db")
    db.execute(f"CREATE TABLE customers ({', '.join(f'c{i} TEXT' for i in range(len(HEADER)))})")
    start = time.perf_counter()
    with open(folder / "data" / "kunden.csv", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        with db:
            db.executemany(f"INSERT INTO customers VALUES ({', '.join('?' * len(HEADER))})",
                           reader)
    elapsed = time.perf_counter() - start
    return result(db.execute("SELECT count(*) FROM customers").fetchone()[0], elapsed)


def run_kontor(folder: Path) -> dict[str, float]:
    from hub.context import open_hub
    from hub.sync.runner import run_sync

    hub = open_hub(folder / "kontor.yaml")
    start = time.perf_counter()
    outcome = run_sync(hub.deployment, hub.engine)
    elapsed = time.perf_counter() - start
    created = outcome.streams[0].created
    if outcome.status != "success":
        raise SystemExit(f"benchmark run failed: {outcome.status}")
    return result(created, elapsed)


def measure(kind: str, rows: int) -> dict[str, float]:
    """One measurement in a fresh process and folder, so peak memory is its own."""
    with tempfile.TemporaryDirectory(prefix="kontor-bench-") as tmp:
        return in_fresh_process(__file__, kind, ["--rows", str(rows), "--folder", tmp])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=["baseline", "kontor"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()

    if args.child:
        from bench.datagen import write_deployment

        write_deployment(args.folder, args.rows)
        runner = run_baseline if args.child == "baseline" else run_kontor
        report(runner(args.folder))
        return

    results: dict[str, list[dict[str, float]]] = {"baseline": [], "kontor": []}
    for _ in range(args.repeat):
        for kind, runs in results.items():
            runs.append(measure(kind, args.rows))
    print(f"full import of {args.rows:,} customers from CSV into SQLite "
          f"(median of {args.repeat} runs)")
    print(table_header("pipeline", 42))
    rates = {}
    for kind, label in (("baseline", "baseline: csv.reader + executemany"),
                        ("kontor", "kontor: read, map, match, merge, store")):
        rates[kind], peak = medians(results[kind])
        print(table_row(label, rates[kind], peak, 42))
    print(f"kontor / baseline: {rates['kontor'] / rates['baseline']:.2f}x")


if __name__ == "__main__":
    main()
