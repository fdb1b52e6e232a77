"""Benchmark: Splink (on DuckDB) against Kontor's own Fellegi-Sunter model, same data.

Why Kontor implements the model itself (issue 12 asked to measure both ways). Both learn
without labels from the records of ``bench/person_data.py`` (shapes ``linkage``: two
exports, only A-B pairs count; ``dedupe``: one source) and are scored the same way
(``hub.matching.fs_eval.scores``: pairs counted from clusters, against the generator's
truth). Each method runs in a child process of its own, so its peak memory (ru_maxrss,
which sees DuckDB's native memory as tracemalloc does not) and its seconds are its own.

- **kontor**: ``hub.matching.fs_model`` trained and linked as ``bench/linkage_bench.py``
  does, clusters at the model's auto-merge (0.95);
- **splink**: Splink 4, an unsupervised setup written without labels: name comparisons
  with Jaro-Winkler levels and term frequencies, a date-of-birth comparison, street,
  postal code, city, phone and e-mail; blocking rules in the spirit of Kontor's; u from
  random pairs, m by EM over three blocking sessions, the prior estimated from
  deterministic rules. Scores every blocked pair and clusters at 0.5 and at 0.95.

Splink is a benchmark-only dependency, never one of Kontor's. Run it from a virtualenv of
its own (Kontor's runtime dependencies installed there too, the repo on ``sys.path``)::

    python3 -m venv /tmp/splinkvenv
    /tmp/splinkvenv/bin/pip install "splink>=4,<5" faker numpy pandas rapidfuzz pydantic
    /tmp/splinkvenv/bin/python bench/splink_compare.py --rows 10000 --seed 1 --seed 2

Columns: P/R/F1 from clusters; ``pairs``: the blocked pairs scored; ``pairF1`` from the scored pairs at the row's threshold
without transitive closure (the pairwise view); train and link seconds, wall and CPU (CPU
of all threads: DuckDB uses both cores, Kontor one); peak RSS of the child process and
its rise over the loaded records.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INSTALL = """splink is not importable from {python}.
Splink is a benchmark-only dependency (not in pyproject.toml). Install it into a
virtualenv of its own and run this script with that interpreter:

    python3 -m venv /tmp/splinkvenv
    /tmp/splinkvenv/bin/pip install "splink>=4,<5" faker numpy pandas rapidfuzz pydantic
    /tmp/splinkvenv/bin/python bench/splink_compare.py --rows 10000
"""
AUTO_MERGE = 0.95  # Kontor's default auto-merge threshold (model file: thresholds)


# -- data ----------------------------------------------------------------------------------


def _generate(shape: str, rows: int, seed: int, path: Path) -> int:
    """Generate one data set into ``path`` (a pickle the children read); its size."""
    from bench import person_data

    data = (person_data.linkage if shape == "linkage" else person_data.dedupe)(rows, seed)
    keys = [k for k, _, _ in data.records]
    payload = {"shape": shape, "seed": seed, "keys": keys,
               "values": [v for _, _, v in data.records],
               "sources": [s for _, s, _ in data.records] if shape == "linkage" else None,
               "truth": [data.truth[k] for k in keys]}
    with path.open("wb") as f:
        pickle.dump(payload, f)
    return len(keys)


def _pairwise(truth: dict[str, int], a: list[str], b: list[str], total_true: int
              ) -> dict[str, float]:
    """P/R/F1 of scored pairs themselves (no transitive closure)."""
    hits = sum(truth[x] == truth[y] for x, y in zip(a, b))
    p = hits / len(a) if a else 1.0
    r = hits / total_true if total_true else 1.0
    return {"pair_p": p, "pair_r": r, "pair_f1": 2 * p * r / (p + r) if p + r else 0.0}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the two methods (each in a child process) ---------------------------------------------


def run_kontor(d: dict[str, Any]) -> list[dict[str, Any]]:
    """Kontor's model, trained and linked as bench/linkage_bench.py does."""
    from hub.matching import fs_eval, fs_model

    keys, values, sources, truth = d["keys"], d["values"], d["sources"], d["truth"]
    t, cpu = time.perf_counter(), time.process_time()
    model = fs_model.train(keys, values, sources=sources)
    train, train_cpu = time.perf_counter() - t, time.process_time() - cpu
    by_key = dict(zip(keys, truth))
    out = []
    for threshold in (model.auto_merge, 0.5):
        t, cpu = time.perf_counter(), time.process_time()
        links = fs_model.link(model, values, sources=sources, threshold=threshold)
        link, link_cpu = time.perf_counter() - t, time.process_time() - cpu
        s = fs_eval.scores(truth, links.cluster, sources)
        keep = links.probability >= threshold
        pw = _pairwise(by_key, [keys[n] for n in links.i[keep].tolist()],
                       [keys[n] for n in links.j[keep].tolist()], int(s["true_pairs"]))
        out.append({"method": f"kontor FS @{threshold:g}", "train": train,
                    "train_cpu": train_cpu, "link": link, "link_cpu": link_cpu,
                    "pairs": len(links.i), **s, **pw})
    return out


def _fold(text: str) -> str | None:
    """Lower case, accents out, trimmed; empty -> None (Splink's null level)."""
    text = unicodedata.normalize("NFKD", (text or "").strip().lower())
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("ß", "ss")
    return text or None


def _frame(d: dict[str, Any]) -> Any:
    """The cleaning an expert would do before Splink: folded names, digits-only phones
    (the last nine digits, so +49 30 ... = 030 ...), a Soundex column for blocking."""
    import pandas as pd

    from hub.matching.fs_blocking import soundex  # plain American Soundex

    rows = []
    for key, v in zip(d["keys"], d["values"]):
        digits = "".join(c for c in v.get("phone", "") if c.isdigit())
        last = _fold(v.get("last_name", ""))
        dob = (v.get("date_of_birth") or "").strip() or None
        rows.append({"unique_id": key, "first_name": _fold(v.get("first_name", "")),
                     "last_name": last, "date_of_birth": dob,
                     "dob_year": dob[:4] if dob else None,
                     "street": _fold(v.get("street", "")),
                     "postal_code": (v.get("postal_code") or "").strip() or None,
                     "city": _fold(v.get("city", "")),
                     "phone": digits[-9:] or None, "email": _fold(v.get("email", "")),
                     "last_soundex": soundex(last) if last else None})
    return pd.DataFrame(rows)


def _address(cl: Any, cll: Any) -> Any:
    """Street, postal code and city as one comparison: as three they would count one fact
    (a shared address) three times, the independence Fellegi-Sunter assumes being false."""
    return cl.CustomComparison(output_column_name="address", comparison_levels=[
        cll.And(cll.NullLevel("street"), cll.NullLevel("postal_code"),
                cll.NullLevel("city")).configure(is_null_level=True),
        cll.And(cll.ExactMatchLevel("street"), cll.ExactMatchLevel("postal_code")),
        cll.And(cll.JaroWinklerLevel("street", 0.9), cll.ExactMatchLevel("postal_code")),
        cll.ExactMatchLevel("street"),
        cll.ExactMatchLevel("postal_code"),
        cll.ExactMatchLevel("city"),
        cll.ElseLevel()])


def run_splink(d: dict[str, Any], u_pairs: float) -> list[dict[str, Any]]:
    """Splink 4 on DuckDB, unsupervised, the way its documentation trains a model."""
    import logging

    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from hub.matching import fs_eval

    logging.getLogger("splink").setLevel(logging.ERROR)
    keys, sources, truth = d["keys"], d["sources"], d["truth"]
    t, cpu = time.perf_counter(), time.process_time()
    df = _frame(d)
    if sources is not None:
        src = df.assign(_s=sources)
        tables: Any = [src[src._s == s].drop(columns="_s") for s in sorted(set(sources))]
    else:
        tables = df
    settings = SettingsCreator(
        link_type="link_only" if sources is not None else "dedupe_only",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
            _address(cl, cll),
            cl.LevenshteinAtThresholds("phone", [1, 2]),
            cl.EmailComparison("email"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("date_of_birth", "substr(first_name, 1, 1)", "substr(last_name, 1, 1)"),
            block_on("date_of_birth", "substr(last_name, 1, 1)", "substr(first_name, 1, 1)"),
            block_on("last_soundex", "substr(first_name, 1, 1)", "dob_year"),
            block_on("substr(first_name, 1, 3)", "substr(last_name, 1, 3)", "dob_year"),
            block_on("postal_code", "last_soundex"),
            block_on("email"),
            block_on("phone"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    aliases = sorted(set(sources)) if sources is not None else None
    linker = Linker(tables, settings, db_api=DuckDBAPI(), input_table_aliases=aliases)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "date_of_birth"), block_on("email")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=7)
    # The sessions of Splink's tutorials: between them every comparison is trained (with
    # Kontor's training rules instead, no session ever sees birth dates years apart and
    # Splink keeps its default m there: P 0.40 on 2,000 records, households merged).
    for rule in (block_on("first_name", "last_name"), block_on("date_of_birth"),
                 block_on("email")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    train, train_cpu = time.perf_counter() - t, time.process_time() - cpu

    t, cpu = time.perf_counter(), time.process_time()
    predicted = linker.inference.predict()  # every blocked pair, as Kontor scores them
    scored = predicted.as_pandas_dataframe()
    link0, link0_cpu = time.perf_counter() - t, time.process_time() - cpu
    by_key = dict(zip(keys, truth))
    out = []
    for threshold in (0.5, AUTO_MERGE):
        t, cpu = time.perf_counter(), time.process_time()
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predicted, threshold_match_probability=threshold).as_pandas_dataframe()
        label = dict(zip(clusters.unique_id, clusters.cluster_id))
        link = link0 + time.perf_counter() - t
        link_cpu = link0_cpu + time.process_time() - cpu
        s = fs_eval.scores(truth, [label.get(k, k) for k in keys], sources)
        keep = scored[scored.match_probability >= threshold]
        pw = _pairwise(by_key, keep.unique_id_l.tolist(), keep.unique_id_r.tolist(),
                       int(s["true_pairs"]))
        out.append({"method": f"splink @{threshold:g}", "train": train,
                    "train_cpu": train_cpu, "link": link, "link_cpu": link_cpu,
                    "pairs": len(scored), **s, **pw})
    return out


def child(method: str, data: Path, u_pairs: float) -> None:
    sys.path.insert(0, str(ROOT))
    with data.open("rb") as f:
        d = pickle.load(f)
    if method == "splink":  # imports before the baseline, as Kontor's are below
        import splink  # noqa: F401
    from hub.matching import fs_eval, fs_model  # noqa: F401
    base = _rss_mb()
    rows = run_splink(d, u_pairs) if method == "splink" else run_kontor(d)
    print(json.dumps([{**r, "base_mb": base} for r in rows]))


# -- the parent: generate, run each method in a child, print the table ---------------------


def measure(method: str, data: Path, u_pairs: float, keep_logs: Path | None = None
            ) -> list[dict[str, Any]]:
    cmd = [sys.executable, __file__, "--child", method, "--data", str(data),
           "--u-pairs", str(u_pairs)]
    log = data.with_suffix(f".{method}.log")  # Splink's training chatter goes here
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        text = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code:
        sys.stderr.write(log.read_text()[-4000:])
        raise SystemExit(f"{method} on {data.name} failed (exit {code})")
    if keep_logs:
        keep_logs.mkdir(parents=True, exist_ok=True)
        (keep_logs / log.name).write_text(log.read_text())
    peak = usage.ru_maxrss / 1024
    return [{**r, "peak_mb": peak} for r in json.loads(text.strip().splitlines()[-1])]


HEADER = (f"{'shape':<8}{'rows':>8}{'seed':>5}  {'method':<17}{'P':>7}{'R':>7}{'F1':>7}"
          f"{'pairF1':>8}{'pairs':>9}{'train s':>9}{'link s':>8}{'cpu s':>7}"
          f"{'peak MB':>9}{'+MB':>6}")


def line(r: dict[str, Any]) -> str:
    cpu = r["train_cpu"] + r["link_cpu"]
    return (f"{r['shape']:<8}{r['rows']:>8,}{r['seed']:>5}  {r['method']:<17}"
            f"{r['precision']:>7.4f}{r['recall']:>7.4f}{r['f1']:>7.4f}{r['pair_f1']:>8.4f}"
            f"{r['pairs']:>9,}{r['train']:>9.2f}{r['link']:>8.2f}{cpu:>7.2f}"
            f"{r['peak_mb']:>9.0f}{r['peak_mb'] - r['base_mb']:>6.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--shape", choices=["linkage", "dedupe"], action="append")
    parser.add_argument("--seed", type=int, action="append")
    parser.add_argument("--method", choices=["kontor", "splink"], action="append")
    parser.add_argument("--u-pairs", type=float, default=1e6,
                        help="Splink's random pairs for u (its default 1e6)")
    parser.add_argument("--logs", type=Path, help="keep each child's log in this folder")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=["kontor", "splink"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.u_pairs)
        return
    methods = args.method or ["kontor", "splink"]
    if "splink" in methods:
        try:
            import splink
        except ImportError:
            sys.exit(INSTALL.format(python=sys.executable))
        print(f"splink {splink.__version__}, python {sys.executable}", file=sys.stderr)
    sys.path.insert(0, str(ROOT))
    results: list[dict[str, Any]] = []
    if not args.json:
        print(HEADER, flush=True)
    with tempfile.TemporaryDirectory(prefix="kontor-splink-") as tmp:
        for n in args.rows or [10_000]:
            for shape in args.shape or ["linkage", "dedupe"]:
                for seed in args.seed or [1]:
                    data = Path(tmp) / f"{shape}-{n}-{seed}.pickle"
                    size = _generate(shape, n, seed, data)
                    for method in methods:
                        for r in measure(method, data, args.u_pairs, args.logs):
                            r.update(shape=shape, rows=size, seed=seed)
                            results.append(r)
                            if not args.json:
                                print(line(r), flush=True)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
