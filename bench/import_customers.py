"""Benchmark: full import of N customers from CSV into the master store (SQLite).

Prints records/s and peak memory (VmHWM of a fresh process per measurement) for Kontor's
full pipeline (read, map, match, merge, history, xref) beside the bare baseline of
``csv.reader`` + one ``executemany`` into SQLite, in the same run. Medians of --repeat runs.

    python bench/import_customers.py --rows 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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
    rows = db.execute("SELECT count(*) FROM customers").fetchone()[0]
    return {"rows": rows, "seconds": elapsed, "peak_mib": _peak_rss_mib()}


def run_kontor(folder: Path) -> dict[str, float]:
    from hub.context import open_hub
    from hub.sync.runner import run_sync

    hub = open_hub(folder / "kontor.yaml")
    start = time.perf_counter()
    result = run_sync(hub.deployment, hub.engine)
    elapsed = time.perf_counter() - start
    created = result.streams[0].created
    if result.status != "success":
        raise SystemExit(f"benchmark run failed: {result.status}")
    return {"rows": created, "seconds": elapsed, "peak_mib": _peak_rss_mib()}


def measure(kind: str, rows: int) -> dict[str, float]:
    """One measurement in a fresh process and folder, so peak memory is its own."""
    with tempfile.TemporaryDirectory(prefix="kontor-bench-") as tmp:
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, "--rows", str(rows), "--folder", tmp],
            check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=["baseline", "kontor"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    if args.child:
        from bench.datagen import write_deployment

        write_deployment(args.folder, args.rows)
        runner = run_baseline if args.child == "baseline" else run_kontor
        print(json.dumps(runner(args.folder)))
        return

    results: dict[str, list[dict[str, float]]] = {"baseline": [], "kontor": []}
    for _ in range(args.repeat):
        for kind, runs in results.items():
            runs.append(measure(kind, args.rows))
    print(f"full import of {args.rows:,} customers from CSV into SQLite "
          f"(median of {args.repeat} runs)")
    print(f"{'pipeline':<42}{'records/s':>12}{'peak MiB':>10}")
    medians = {}
    for kind, label in (("baseline", "baseline: csv.reader + executemany"),
                        ("kontor", "kontor: read, map, match, merge, store")):
        rate = statistics.median(r["rows"] / r["seconds"] for r in results[kind])
        peak = statistics.median(r["peak_mib"] for r in results[kind])
        medians[kind] = rate
        print(f"{label:<42}{rate:>12,.0f}{peak:>10.0f}")
    print(f"kontor / baseline: {medians['kontor'] / medians['baseline']:.2f}x")


if __name__ == "__main__":
    main()
