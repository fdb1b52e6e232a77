"""Benchmark: who finds the duplicates in generated people (bench/person_data.py)?

Side by side, on the same records, P/R/F1 over record pairs and seconds:

- **Kontor out of the box**: no matching settings, the default rules and fuzzy scoring,
  clusters at the auto-merge threshold (``hub.matching.dedupe.clusters``, the sync's
  blocking and scoring over all records at once: batch-order effects left out, invalid
  dates matched without the date instead of quarantined);
- **baseline**: a blocked pair links when at least 4 of 7 normalised fields are equal;
- **Fellegi-Sunter**: ``hub.matching.fs_model`` trained on the records themselves,
  without labels (training time shown apart), clusters at the model's auto-merge.

Shapes: ``linkage`` (two exports, only A-B pairs count) and ``dedupe`` (one source).

``--sync`` measures the real inbound sync instead (CSV -> map -> match -> merge, SQLite):
once out of the box, then ``kontor matching train`` on what that sync stored and a second
sync into a fresh store with the model in the deployment. A record the sync refuses (an
invalid date, say) is a cluster of its own there: a pair missed.

    python bench/linkage_bench.py --rows 10000 --rows 100000
    python bench/linkage_bench.py --sync --rows 10000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run(shape: str, rows: int, seed: int = 1, kontor: bool = True) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from bench import person_data
    from hub.matching import fs_eval, fs_model
    from hub.matching.dedupe import clusters
    from hub.matching.settings import DEFAULT_RULES, FuzzySettings

    data = (person_data.linkage if shape == "linkage" else person_data.dedupe)(rows, seed)
    keys = [k for k, _, _ in data.records]
    values = [v for _, _, v in data.records]
    sources = [s for _, s, _ in data.records] if shape == "linkage" else None
    truth = [data.truth[k] for k in keys]
    out: list[dict[str, Any]] = []

    def report(name: str, predicted: list[Any], seconds: float, **extra: Any) -> None:
        s = fs_eval.scores(truth, predicted, sources)
        out.append({"shape": shape, "rows": len(keys), "method": name, "seconds": seconds,
                    **s, **extra})

    if kontor:
        t = time.perf_counter()
        fuzzy = FuzzySettings(review=FuzzySettings().auto_merge)
        found = clusters("customer", zip(keys, values), fuzzy, DEFAULT_RULES["customer"])
        label = {k: n for n, c in enumerate(found) for k in c.keys}
        report("kontor (out of the box)", [label.get(k, k) for k in keys],
               time.perf_counter() - t)
    t = time.perf_counter()
    report("baseline 4 of 7 agree", fs_eval.k_of_n(values, 4, sources=sources),
           time.perf_counter() - t)
    t = time.perf_counter()
    model = fs_model.train(keys, values, sources=sources)
    trained = time.perf_counter() - t
    t = time.perf_counter()
    links = fs_model.link(model, values, sources=sources)
    report("fellegi-sunter (EM)", links.cluster, time.perf_counter() - t, train=trained,
           prior=model.prior)
    return out


def _deployment(folder: Path, files: list[Path]) -> Path:
    from bench import person_data
    from policies import keys

    (folder / "mappings").mkdir(parents=True, exist_ok=True)
    systems = ""
    for path in files:
        name = f"sys_{path.stem.lower()}"
        (folder / "mappings" / f"{name}.yaml").write_text(person_data.MAPPING, encoding="utf-8")
        systems += f"""  {name}:
    connector: csv
    default_region: DE
    settings: {{directory: {path.parent}}}
    streams:
      people: {{entity: customer, direction: inbound, resource: {path.name}, key: [id],
               mapping: mappings/{name}.yaml}}
"""
    config = folder / "kontor.yaml"
    config.write_text(f"database: kontor.db\nbatch_size: 5000\nsystems:\n{systems}",
                      encoding="utf-8")
    keys.create(folder / ".kontor" / "keyring.json")
    return config


def _sync(config: Path) -> tuple[dict[str, str], float, list[tuple[str, str, dict[str, Any]]]]:
    """Run the sync; (source key -> golden id, seconds, the stored source records)."""
    from sqlalchemy import select

    from hub.context import open_hub
    from hub.store import bulk
    from hub.store.tables import Xref
    from hub.sync.runner import run_sync

    hub = open_hub(config)
    t = time.perf_counter()
    run_sync(hub.deployment, hub.engine)
    seconds = time.perf_counter() - t
    x = bulk.table_of(Xref)
    with hub.engine.connect() as conn:
        rows = conn.execute(select(x.c.system, x.c.source_key, x.c.golden_id, x.c.data)).all()
    hub.close()
    return ({r.source_key: r.golden_id for r in rows}, seconds,
            [(r.system, r.source_key, r.data or {}) for r in rows])


def run_sync(shape: str, rows: int, seed: int = 1) -> list[dict[str, Any]]:
    """Kontor's real sync before and after training a model on what it stored."""
    import tempfile

    sys.path.insert(0, str(ROOT))
    from bench import person_data
    from hub.matching import fs_eval, fs_model

    data = (person_data.linkage if shape == "linkage" else person_data.dedupe)(rows, seed)
    keys = [k for k, _, _ in data.records]
    sources = [s for _, s, _ in data.records] if shape == "linkage" else None
    truth = [data.truth[k] for k in keys]
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="kontor-linkage-") as tmp:
        files = person_data.write(data, Path(tmp) / "data")
        before = _deployment(Path(tmp) / "before", files)
        golden, seconds, stored = _sync(before)
        s = fs_eval.scores(truth, [golden.get(k, k) for k in keys], sources)
        out.append({"shape": shape, "rows": len(keys), "method": "sync, out of the box",
                    "seconds": seconds, **s})
        t = time.perf_counter()
        model = fs_model.train([f"{sy}\x1f{k}" for sy, k, _ in stored], [v for _, _, v in stored],
                               sources=[sy for sy, _, _ in stored] if sources else None)
        trained = time.perf_counter() - t
        after = _deployment(Path(tmp) / "after", files)
        path = fs_model.model_path(after.parent, "customer")
        path.parent.mkdir()
        model.save(path)
        golden, seconds, _ = _sync(after)
        s = fs_eval.scores(truth, [golden.get(k, k) for k in keys], sources)
        out.append({"shape": shape, "rows": len(keys), "method": "sync, trained model",
                    "seconds": seconds, "train": trained, **s})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--shape", choices=["linkage", "dedupe"], action="append")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-kontor", action="store_true",
                        help="leave out today's matcher (slow at 1M)")
    parser.add_argument("--sync", action="store_true",
                        help="measure the real sync, before and after training")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [r for shape in args.shape or ["linkage", "dedupe"]
               for n in args.rows or [10_000]
               for r in (run_sync(shape, n, args.seed) if args.sync else
                         run(shape, n, args.seed, not args.no_kontor))]
    if args.json:
        print(json.dumps(results))
        return
    print(f"{'shape':<8}{'rows':>9}  {'method':<26}{'P':>7}{'R':>7}{'F1':>7}"
          f"{'match s':>9}{'train s':>9}")
    for r in results:
        train = f"{r['train']:>9.1f}" if "train" in r else f"{'':>9}"
        print(f"{r['shape']:<8}{r['rows']:>9,}  {r['method']:<26}{r['precision']:>7.3f}"
              f"{r['recall']:>7.3f}{r['f1']:>7.3f}{r['seconds']:>9.1f}{train}")


if __name__ == "__main__":
    main()
