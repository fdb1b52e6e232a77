"""Benchmark: who finds the duplicates in generated people (bench/person_data.py)?

Side by side, on the same records, P/R/F1 over record pairs and seconds:

- **Kontor out of the box**: no matching settings, the default rules and fuzzy scoring,
  clusters at the auto-merge threshold (``hub.matching.dedupe.clusters``, the sync's
  blocking and scoring over all records at once: batch-order effects left out, invalid
  dates matched without the date instead of quarantined);
- **baseline**: a blocked pair links when at least 4 of 7 normalised fields are equal;
- **Fellegi-Sunter**: ``hub.matching.fs_model`` trained on the records themselves,
  without labels (training time shown apart), clusters at the model's auto-merge;
  ``--compare-tf`` adds the same model without term-frequency adjustments.

Shapes: ``linkage`` (two exports, only A-B pairs count) and ``dedupe`` (one source).

``--sync`` measures the real inbound sync instead (CSV -> map -> match -> merge, SQLite):
once out of the box, then ``kontor matching train`` on what that sync stored and a second
sync into a fresh store with the model in the deployment. A record the sync refuses (an
invalid date, say) is a cluster of its own there: a pair missed.

    python bench/linkage_bench.py --rows 10000 --rows 100000
    python bench/linkage_bench.py --sync --rows 10000
    python bench/linkage_bench.py --sync --rows 10000 --batch-size 5000 --batch-size 500 --order 3

``--batch-size`` (repeatable) sets the sync's batch_size, ``--order SEED`` adds a sync of
the source files shuffled with that seed; each line says whether its clusters are the
same as the first variant's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run(shape: str, rows: int, seed: int = 1, kontor: bool = True, compare_tf: bool = False,
        baseline: bool = True) -> list[dict[str, Any]]:
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
    if baseline:
        t = time.perf_counter()
        report("baseline 4 of 7 agree", fs_eval.k_of_n(values, 4, sources=sources),
               time.perf_counter() - t)
    for name, tf in (("fellegi-sunter (EM)", True), ("fellegi-sunter, no TF", False)):
        if not tf and not compare_tf:
            continue
        t, cpu = time.perf_counter(), time.process_time()
        model = fs_model.train(keys, values, sources=sources,
                               **({} if tf else {"term_frequencies": ()}))
        trained, train_cpu = time.perf_counter() - t, time.process_time() - cpu
        t, cpu = time.perf_counter(), time.process_time()
        links = fs_model.link(model, values, sources=sources)
        # CPU seconds too: on a shared machine wall time says more about the neighbours
        report(name, links.cluster, time.perf_counter() - t, train=trained, prior=model.prior,
               pairs=len(links.i), cpu=time.process_time() - cpu, train_cpu=train_cpu)
    return out


def _deployment(folder: Path, files: list[Path], batch_size: int = 5000) -> Path:
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
    config.write_text(f"database: kontor.db\nbatch_size: {batch_size}\nsystems:\n{systems}",
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


def _shuffled(data: Any, order: int | None) -> Any:
    """The same records in another arrival order (``order``: the shuffle's seed)."""
    import random

    if order is None:
        return data
    records = list(data.records)
    random.Random(order).shuffle(records)
    return type(data)(records, data.truth)


def _partition(golden: dict[str, str]) -> frozenset[frozenset[str]]:
    by: dict[str, set[str]] = {}
    for key, gid in golden.items():
        by.setdefault(gid, set()).add(key)
    return frozenset(frozenset(c) for c in by.values())


def run_sync(shape: str, rows: int, seed: int = 1, batch_sizes: list[int] | None = None,
             orders: list[int | None] | None = None) -> list[dict[str, Any]]:
    """Kontor's real sync before and after training a model on what it stored.

    ``batch_sizes`` x ``orders`` (a shuffle seed of the source files; None: as generated):
    one sync each, out of the box and with the model (trained once, on the first sync's
    records). ``same`` says whether a variant's clusters equal the first variant's."""
    import tempfile

    sys.path.insert(0, str(ROOT))
    from bench import person_data
    from hub.matching import fs_eval, fs_model

    data = (person_data.linkage if shape == "linkage" else person_data.dedupe)(rows, seed)
    keys = [k for k, _, _ in data.records]
    sources = [s for _, s, _ in data.records] if shape == "linkage" else None
    truth = [data.truth[k] for k in keys]
    out: list[dict[str, Any]] = []
    model: Any = None
    stored: list[tuple[str, str, dict[str, Any]]] = []
    first: dict[str, frozenset[frozenset[str]]] = {}
    with tempfile.TemporaryDirectory(prefix="kontor-linkage-") as tmp:
        for order in orders or [None]:
            where = Path(tmp) / f"data-{order}"
            files = person_data.write(_shuffled(data, order), where)
            for size in batch_sizes or [5000]:
                variant = f"batch {size}" + (f", order {order}" if order is not None else "")
                for method in ("sync, out of the box", "sync, trained model"):
                    folder = Path(tmp) / f"{method[-5:]}-{order}-{size}"
                    config = _deployment(folder, files, size)
                    extra: dict[str, Any] = {}
                    if method.endswith("model"):
                        if model is None:
                            t = time.perf_counter()
                            model = fs_model.train(
                                [f"{sy}\x1f{k}" for sy, k, _ in stored],
                                [v for _, _, v in stored],
                                sources=[sy for sy, _, _ in stored] if sources else None)
                            extra["train"] = time.perf_counter() - t
                        path = fs_model.model_path(folder, "customer")
                        path.parent.mkdir()
                        model.save(path)
                    golden, seconds, got = _sync(config)
                    if model is None:
                        stored = got
                    s = fs_eval.scores(truth, [golden.get(k, k) for k in keys], sources)
                    part = _partition(golden)
                    same = first.setdefault(method, part) == part
                    out.append({"shape": shape, "rows": len(keys), "method": method,
                                "variant": variant, "same": same, "seconds": seconds,
                                **extra, **s})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--shape", choices=["linkage", "dedupe"], action="append")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-kontor", action="store_true",
                        help="leave out today's matcher (slow at 1M)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="leave out the 4-of-7 baseline")
    parser.add_argument("--compare-tf", action="store_true",
                        help="also the model without term-frequency adjustments")
    parser.add_argument("--sync", action="store_true",
                        help="measure the real sync, before and after training")
    parser.add_argument("--batch-size", type=int, action="append",
                        help="with --sync: the sync's batch_size (repeat to compare)")
    parser.add_argument("--order", type=int, action="append",
                        help="with --sync: also sync the source files shuffled with this "
                             "seed (repeat to compare orders)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    orders: list[int | None] = [None, *(args.order or [])]
    results = [r for shape in args.shape or ["linkage", "dedupe"]
               for n in args.rows or [10_000]
               for r in (run_sync(shape, n, args.seed, args.batch_size, orders) if args.sync else
                         run(shape, n, args.seed, not args.no_kontor, args.compare_tf,
                             not args.no_baseline))]
    if args.json:
        print(json.dumps(results))
        return
    print(f"{'shape':<8}{'rows':>9}  {'method':<26}{'P':>7}{'R':>7}{'F1':>7}"
          f"{'match s':>9}{'train s':>9}" + ("  variant" if args.sync else ""))
    for r in results:
        train = f"{r['train']:>9.1f}" if "train" in r else f"{'':>9}"
        variant = f"  {r['variant']:<22}{'same' if r['same'] else 'other'} clusters" \
            if "variant" in r else ""
        if "cpu" in r:
            variant += f"  cpu: match {r['cpu']:.2f} s, train {r['train_cpu']:.2f} s"
        print(f"{r['shape']:<8}{r['rows']:>9,}  {r['method']:<26}{r['precision']:>7.3f}"
              f"{r['recall']:>7.3f}{r['f1']:>7.3f}{r['seconds']:>9.1f}{train}{variant}")


if __name__ == "__main__":
    main()
