"""Benchmark: full import of N customers from CSV into the master store (SQLite).

Prints records/s and peak memory (VmHWM of a fresh process per measurement) for Kontor's
full pipeline (read, map, match, merge, history, xref) beside the bare baseline of
``csv.reader`` + one ``executemany`` into an indexed SQLite table (``bare_insert``, which
bench/sync_bench.py shares), in the same run. Medians of --repeat runs.

    python bench/import_customers.py --rows 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

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


def bare_insert(rows: Iterable[Sequence[Any]], columns: Sequence[str], url: str,
                out_csv: Path | None = None) -> int:
    """The floor under any sync into a store: ``rows`` inserted in one transaction into a
    table with a primary key (the first column) and one more index (the second), each
    engine at its best (SQLite: WAL, synchronous=NORMAL, executemany; PostgreSQL: COPY),
    then, with ``out_csv``, read back and written to a CSV file. Returns the rows stored.

    ``url``: ``sqlite:///path`` or a PostgreSQL URL of an empty database."""
    import csv

    names = [f"c{i}" for i in range(len(columns))]
    ddl = (f"CREATE TABLE bare ({', '.join(f'{n} TEXT' for n in names)}, PRIMARY KEY (c0))",
           "CREATE INDEX ix_bare ON bare (c1)")
    if url.startswith("sqlite:///"):
        import sqlite3

        db: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        for statement in ddl:
            db.execute(statement)
        with db:
            db.executemany(f"INSERT INTO bare VALUES ({', '.join('?' * len(names))})", rows)
        cursor = db.execute("SELECT * FROM bare")
    else:
        import psycopg
        from sqlalchemy.engine import make_url

        u = make_url(url)
        db = psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                             dbname=u.database)
        for statement in ddl:
            db.execute(statement)
        with db.cursor() as cur, cur.copy(f"COPY bare ({', '.join(names)}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
        db.commit()
        cursor = db.execute("SELECT * FROM bare")
    count = 0
    if out_csv is None:
        count = db.execute("SELECT count(*) FROM bare").fetchone()[0]
    else:
        with open(out_csv, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for row in cursor:
                writer.writerow(row)
                count += 1
    db.close()
    return count  # type: ignore[no-any-return]


def run_baseline(folder: Path) -> dict[str, float]:
    import csv

    from bench.datagen import HEADER

    start = time.perf_counter()
    with open(folder / "data" / "kunden.csv", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        stored = bare_insert(reader, HEADER, f"sqlite:///{folder / 'baseline.db'}")
    return result(stored, time.perf_counter() - start)


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
    for kind, label in (("baseline", "baseline: csv.reader + indexed executemany"),
                        ("kontor", "kontor: read, map, match, merge, store")):
        rates[kind], peak = medians(results[kind])
        print(table_row(label, rates[kind], peak, 42))
    print(f"kontor / baseline: {rates['kontor'] / rates['baseline']:.3f}x")


if __name__ == "__main__":
    main()
