"""Benchmark: each connector's read and write records/s and peak memory, beside its bare
library in the same run (csv.reader, plain slicing, raw lxml iterparse, raw DB cursors).

Every measurement runs in a fresh process (``bench/measure.py``), so each peak memory
(VmHWM) is its own. Writes are timed per batch of 5,000 records, the way the hub sends
them; SQL writes are upserts, the baselines plain INSERTs.

    python bench/connectors_bench.py                      # 1,000,000 rows, everything
    python bench/connectors_bench.py --rows 5000000 --only csv-read   # memory stays flat
    python bench/connectors_bench.py --only xml-parsers   # why lxml (connectors/xml_records)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Imported after the line above makes the repo importable when run as a script.
from bench import connector_cases as cases
from bench.measure import in_fresh_process, medians, report, table_header, table_row

GROUPS = ["csv-read", "csv-write", "fixedwidth-read", "fixedwidth-write", "xml-read",
          "xml-parsers", "sqlite-read", "sqlite-write", "postgresql-read", "postgresql-write"]
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _case_names(group: str) -> list[str]:
    prefix = group.replace("sqlite", "sql").replace("postgresql", "sql")
    return [name for name in cases.CASES if name.split("/")[0] == prefix]


def _run_group(group: str, folder: Path, rows: int, repeat: int, postgres: str) -> None:
    opts: dict[str, str] = {}
    if group.startswith(("sqlite", "postgresql")):
        url = f"sqlite:///{folder / 'bench.db'}" if group.startswith("sqlite") else postgres
        table = f"bench_{uuid.uuid4().hex[:8]}"
        cases.create_table(url, table)
        if group.endswith("read"):
            cases.fill_table(url, table, rows)
        opts = {"url": url, "table": table}
    print(f"\n{group} ({rows:,} rows, median of {repeat})")
    print(table_header("measurement"))
    try:
        names = _case_names(group)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        for _ in range(repeat):  # interleaved, so a busy moment hits every case alike
            for name in names:
                if opts and group.endswith("write"):  # every write starts on an empty table
                    cases.drop_table(opts["url"], opts["table"])
                    cases.create_table(opts["url"], opts["table"])
                for stale in ("out.csv", "OUT.TXT"):
                    (folder / stale).unlink(missing_ok=True)
                args = ["--rows", str(rows), "--folder", str(folder)]
                for key, value in opts.items():
                    args += [f"--{key}", value]
                runs[name].append(in_fresh_process(__file__, name, args))
        rates: dict[str, float] = {}
        for name in names:
            rates[name], peak = medians(runs[name])
            print(table_row(name.split("/")[1], rates[name], peak), flush=True)
        base = next((r for n, r in rates.items() if n.endswith("/baseline")), None)
        mine = next((r for n, r in rates.items() if "kontor" in n), None)
        if base and mine:
            print(f"kontor / baseline: {mine / base:.2f}x")
    finally:
        if opts:
            cases.drop_table(opts["url"], opts["table"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", default=",".join(GROUPS),
                        help=f"comma-separated groups: {', '.join(GROUPS)}")
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL URL for its groups")
    parser.add_argument("--child", choices=sorted(cases.CASES))
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--url")
    parser.add_argument("--table")
    args = parser.parse_args()

    if args.child:
        opts = {"url": args.url or "", "table": args.table or ""}
        report(cases.CASES[args.child](args.folder, args.rows, opts))
        return
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s): {', '.join(unknown)}")
    with tempfile.TemporaryDirectory(prefix="kontor-bench-") as tmp:
        folder = Path(tmp)
        cases.prepare_files(folder, args.rows, {g.split("-")[0] for g in groups})
        for group in groups:
            _run_group(group, folder, args.rows, args.repeat, args.postgres)


if __name__ == "__main__":
    main()
