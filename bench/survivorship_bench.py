"""Benchmark: how many golden values equal the person behind them, newest-wins vs defaults?

Generated people with ground truth (``bench/person_data.py``) go through the real sync
(CSV -> map -> match -> merge, SQLite) twice, in one run: once with
``survivorship: {customer: {default: most_recent}}`` (newest wins, the former default) and
once with no survivorship settings (the defaults: most frequent value, the address as one).

For every golden record whose source records are all copies of one person (so matching
errors do not count), each of the eight fields is compared with that person's original
value, read through the same mapping (e-mail and phone normalised alike); an empty
original counts as equal to an empty golden value. Figures: all such golden records, and
those built from two or more records (the only ones where survivorship chooses anything).

The CSV files carry no business time: every record of a run is observed at the run's start,
so "newest" means "read last", as in any source without an updated-at column.

    python bench/survivorship_bench.py --rows 1000
    python bench/survivorship_bench.py --rows 10000 --shape linkage --trust sys_a
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NEWEST_WINS = "survivorship:\n  customer:\n    default: most_recent\n"


def _deployment(folder: Path, files: list[Path], extra: str) -> Path:
    from bench import person_data
    from policies import keys

    (folder / "mappings").mkdir(parents=True, exist_ok=True)
    systems = ""
    for path in files:
        name = f"sys_{path.stem.lower()}"
        (folder / "mappings" / f"{name}.yaml").write_text(person_data.MAPPING, encoding="utf-8")
        systems += (f"  {name}:\n    connector: csv\n    default_region: DE\n"
                    f"    settings: {{directory: {path.parent}}}\n    streams:\n"
                    f"      people: {{entity: customer, direction: inbound, "
                    f"resource: {path.name}, key: [id], mapping: mappings/{name}.yaml}}\n")
    config = folder / "kontor.yaml"
    config.write_text(f"database: kontor.db\n{extra}systems:\n{systems}", encoding="utf-8")
    keys.create(folder / ".kontor" / "keyring.json")
    return config


def _truth_row(person: Any) -> dict[str, str]:
    y, m, d = person.dob
    return {"id": "truth", "first_name": person.first, "last_name": person.last,
            "date_of_birth": f"{y:04d}-{m:02d}-{d:02d}",
            "street": f"{person.street} {person.number}", "postal_code": person.postal,
            "city": person.city, "phone": person.phone, "email": person.email}


def _mapped(mapping: Any, row: dict[str, str]) -> dict[str, Any]:
    """``row`` through the mapping; a field the mapping refuses is left out."""
    from hub.errors import MappingError

    refused: set[str] = set()
    while True:
        try:
            values = mapping.inbound({k: ("" if k in refused else v) for k, v in row.items()})[0]
        except MappingError as exc:
            if exc.field is None or exc.field in refused:
                raise
            refused.add(exc.field)
            continue
        return {k: v for k, v in values.items() if k not in refused}


def measure(config: Path, truth: dict[str, int], people: dict[int, Any]) -> dict[str, Any]:
    """Sync ``config``; compare its golden records with the people behind them."""
    from sqlalchemy import select

    from bench import person_data
    from hub.context import open_hub
    from hub.matching import fs_eval
    from hub.store import bulk, goldens
    from hub.store.tables import Xref
    from hub.sync.runner import run_sync

    hub = open_hub(config)
    started = time.perf_counter()
    run_sync(hub.deployment, hub.engine)
    seconds = time.perf_counter() - started
    mapping = hub.deployment.streams("inbound")[0].mapping
    x = bulk.table_of(Xref)
    with hub.engine.connect() as conn:
        xrefs = [(r.source_key, r.golden_id)
                 for r in conn.execute(select(x.c.source_key, x.c.golden_id))]
        ids = sorted({g for _, g in xrefs})
        rows = goldens.read(conn, hub.sealer, "customer", ids)
    hub.close()
    members: dict[str, list[str]] = {}
    for key, gid in xrefs:
        members.setdefault(gid, []).append(key)
    expected: dict[int, dict[str, Any]] = {}
    counts = {"all": Counter(), "several": Counter()}  # type: ignore[var-annotated]
    by_field: Counter[str] = Counter()
    for gid, keys in members.items():
        persons = {truth[k] for k in keys}
        if len(persons) != 1:
            continue  # a false merge: matching's error, not survivorship's
        pid = persons.pop()
        if pid not in expected:
            expected[pid] = _mapped(mapping, _truth_row(people[pid]))
        for field in person_data.FIELDS:
            if field not in expected[pid]:
                continue  # the original itself is refused by the mapping: no truth to compare
            equal = rows[gid].get(field) == expected[pid].get(field)
            for scope in ("all", "several") if len(keys) > 1 else ("all",):
                counts[scope]["fields"] += 1
                counts[scope]["equal"] += equal
            if len(keys) > 1 and not equal:
                by_field[field] += 1
    keys_in_order = sorted(truth)
    scores = fs_eval.scores([truth[k] for k in keys_in_order],
                            [dict(xrefs).get(k, k) for k in keys_in_order])
    return {"seconds": seconds, "f1": scores["f1"], "wrong_by_field": dict(by_field),
            **{f"{scope}_{k}": v for scope, c in counts.items() for k, v in c.items()},
            "goldens_several": sum(1 for g, k in members.items() if len(k) > 1
                                   and len({truth[x] for x in k}) == 1)}


def run(shape: str, rows: int, seed: int = 1, trust: list[str] | None = None
        ) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from bench import person_data

    data = (person_data.linkage if shape == "linkage" else person_data.dedupe)(rows, seed)
    size = int(rows / 1.6) + 1 if shape == "linkage" else rows
    people = {p.pid: p for p in person_data.population(size, seed, person_data.pools(seed))}
    out: dict[str, Any] = {"shape": shape, "rows": len(data.records)}
    with tempfile.TemporaryDirectory(prefix="kontor-survivorship-") as tmp:
        files = person_data.write(data, Path(tmp) / "data")
        after = f"survivorship:\n  customer:\n    trust: [{', '.join(trust)}]\n" \
            if trust else ""
        for name, extra in (("newest_wins", NEWEST_WINS), ("defaults", after)):
            config = _deployment(Path(tmp) / name, files, extra)
            out[name] = measure(config, data.truth, people)
    return out


def _share(r: dict[str, Any], scope: str) -> float:
    return 100.0 * r[f"{scope}_equal"] / max(r[f"{scope}_fields"], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--shape", choices=["dedupe", "linkage"], default="dedupe")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trust", action="append",
                        help="after: with this trust list (sys_a, sys_b, sys_s; repeat)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    r = run(args.shape, args.rows, args.seed, args.trust)
    if args.json:
        print(json.dumps(r))
        return
    before, after = r["newest_wins"], r["defaults"]
    trusted = f" with trust: [{', '.join(args.trust)}]" if args.trust else ""
    print(f"{r['shape']}, {r['rows']:,} records; before: newest wins, after: the defaults"
          + trusted)
    print(f"golden fields equal to truth: before {_share(before, 'all'):.1f}%, "
          f"after {_share(after, 'all'):.1f}%")
    print(f"  golden records of 2+ source records ({before['goldens_several']:,} / "
          f"{after['goldens_several']:,}): before {_share(before, 'several'):.1f}%, "
          f"after {_share(after, 'several'):.1f}%")
    print("  wrong values in those, by field (before -> after): " + ", ".join(
        f"{f} {before['wrong_by_field'].get(f, 0)} -> {after['wrong_by_field'].get(f, 0)}"
        for f in sorted(set(before["wrong_by_field"]) | set(after["wrong_by_field"]))))
    print(f"  matching F1: before {before['f1']:.3f}, after {after['f1']:.3f}; "
          f"sync seconds: before {before['seconds']:.1f}, after {after['seconds']:.1f}")


if __name__ == "__main__":
    main()
