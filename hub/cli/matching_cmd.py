"""``kontor matching``: train the probabilistic matching model and measure it.

``train`` without files learns from the master store: every live source record as its
system last sent it (the xrefs' unrestricted values, not the golden records' surviving
ones), and writes the model into the deployment (``matching/<entity>.model.json``), where
the sync's matcher picks it up. With files it learns from CSV files: a header of canonical
field names (first_name, last_name, date_of_birth, street, postal_code, city, phone,
email; others are ignored) and a key column. ``--link`` treats each file as one system's
export and compares only across files.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.output import console, fail, open_hub_or_fail, print_json

app = typer.Typer(help="Train the matching model without labels; measure it against known "
                       "pairs.", no_args_is_help=True)
FilesArg = Annotated[list[Path], typer.Argument(help="CSV files of records (header: "
                                                     "canonical field names and the key).")]
KeyOpt = Annotated[str, typer.Option("--key", help="The column holding each record's key.")]
LinkOpt = Annotated[bool, typer.Option("--link", help="Each file is one system's export: "
                                                      "compare records of different files "
                                                      "only.")]
ENTITIES = ("customer", "employee")
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def read_records(files: list[Path], key: str
                 ) -> tuple[list[str], list[dict[str, str]], list[str]]:
    """(keys, values, source per record); a key must be unique over all files."""
    keys: list[str] = []
    rows: list[dict[str, str]] = []
    sources: list[str] = []
    seen: dict[str, tuple[Path, int]] = {}
    for path in files:
        try:
            with path.open(newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames is None or key not in reader.fieldnames:
                    fail(f"{path}: line 1: no key column {key!r} in the header (use --key)")
                for row in reader:
                    line = reader.line_num
                    k = (row.get(key) or "").strip()
                    if not k:
                        fail(f"{path}: line {line}: column {key!r}: empty key")
                    if k in seen:
                        first = seen[k]
                        fail(f"{path}: line {line}: column {key!r}: the same key as "
                             f"{first[0]} line {first[1]}")
                    seen[k] = (path, line)
                    keys.append(k)
                    rows.append({c: v for c, v in row.items() if c is not None and v})
                    sources.append(str(path))
        except OSError as exc:
            fail(f"{path}: {exc.strerror or exc}")
        except (UnicodeDecodeError, csv.Error) as exc:
            fail(f"{path}: not a readable UTF-8 CSV file ({type(exc).__name__})")
    if not keys:
        fail("no records in the files given")
    return keys, rows, sources


def read_pairs(path: Path, known: set[str]) -> list[tuple[str, str]]:
    """Known same-entity pairs: the first two columns of each line after the header."""
    pairs: list[tuple[str, str]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            next(reader, None)
            for row in reader:
                if not row:
                    continue
                if len(row) < 2:
                    fail(f"{path}: line {reader.line_num}: two keys expected")
                a, b = row[0].strip(), row[1].strip()
                for column, k in ((1, a), (2, b)):
                    if k not in known:
                        fail(f"{path}: line {reader.line_num}, column {column}: a key that "
                             "is in none of the record files")
                pairs.append((a, b))
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}")
    return pairs


def store_records(ctx: typer.Context, entity: str
                  ) -> tuple[list[str], list[dict[str, Any]], list[str], Path]:
    """(keys, values, systems, deployment folder) of the store's live source records."""
    from sqlalchemy import select

    from hub.store import bulk
    from hub.store.tables import Xref

    hub = open_hub_or_fail(ctx)
    t = bulk.table_of(Xref)
    try:
        with hub.engine.connect() as conn:
            found = conn.execute(select(t.c.system, t.c.source_key, t.c.data).where(
                t.c.entity == entity, t.c.deleted_at.is_(None))
                .order_by(t.c.system, t.c.source_key)).all()
    finally:
        hub.close()
    if not found:
        fail(f"no {entity} records in the store to learn from: run a sync first, or give "
             "CSV files")
    return ([f"{r.system}\x1f{r.source_key}" for r in found], [r.data or {} for r in found],
            [r.system for r in found], hub.deployment.base_dir)


@app.command()
def train(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(
        help="CSV files of records (header: canonical field names and the key); none: "
             "the master store's source records.")] = None,
    key: KeyOpt = "id",
    entity: Annotated[str, typer.Option(help="The entity (store only).")] = "customer",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Where to write the model (JSON). Default: into the deployment "
                      "(store) or matching-model.json (files).")] = None,
    link: LinkOpt = False,
    seed: Annotated[int, typer.Option(help="Seed of the random pairs (u).")] = 7,
    as_json: JsonOpt = False,
) -> None:
    """Learn m, u and the prior from the records themselves (no labels); write the model."""
    from hub.matching import fs_model, fs_report

    if entity not in ENTITIES:
        fail(f"--entity: {entity!r} is not one of {', '.join(ENTITIES)}")
    if files:
        keys, rows, sources = read_records(files, key)
        target = out or Path("matching-model.json")
    else:
        keys, rows, sources, base = store_records(ctx, entity)
        target = out or fs_model.model_path(base, entity)
    model = fs_model.train(keys, rows, sources=sources if link else None, seed=seed,
                           entity=entity)
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target)
    report = target.with_suffix(".html")
    report.write_text(fs_report.render(model), encoding="utf-8")
    out = target
    summary = {"model": str(out), "report": str(report), "version": model.version,
               "records": len(keys),
               "prior": model.prior, **{k: v for k, v in model.trained.items()
                                        if k in ("blocked_pairs", "sessions")}}
    if as_json:
        print_json(summary)
        return
    console.print(f"model {model.version} written to {out}: {len(keys)} records, "
                  f"{summary['blocked_pairs']} blocked pairs, prior {model.prior:.3g}")
    console.print(f"match weights per level, as a chart: {report}")
    for s in model.trained["sessions"]:
        console.print(f"  EM on {s['rule']}: {s['pairs']} pairs, {s['match_share']:.1%} "
                      f"matches, {s['iterations']} iterations")


@app.command()
def evaluate(
    files: FilesArg,
    truth: Annotated[Path, typer.Option("--truth", help="CSV of known same-entity pairs "
                                                        "(two key columns, a header).")],
    model_file: Annotated[Path, typer.Option("--model", help="The model to use.")] =
    Path("matching-model.json"),
    key: KeyOpt = "id",
    link: LinkOpt = False,
    threshold: Annotated[float | None, typer.Option(
        help="Match probability to link at (default: the model's auto_merge).")] = None,
    examples: Annotated[int, typer.Option(help="Example errors to show per kind.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Precision, recall and F1 of the model's clusters against known pairs.

    Example errors show keys and comparison levels, never values."""
    import numpy as np

    from hub.matching import fs_compare as fc
    from hub.matching import fs_eval
    from hub.matching.fs_model import Model
    from hub.matching.fs_model import link as link_records

    try:
        model = Model.load(model_file)
    except OSError as exc:
        fail(f"{model_file}: {exc.strerror or exc}")
    except (ValueError, KeyError, TypeError) as exc:
        fail(f"{model_file}: not a usable model ({exc})")
    keys, rows, sources = read_records(files, key)
    pairs = read_pairs(truth, set(keys))
    src = sources if link else None
    links = link_records(model, rows, sources=src, threshold=threshold)
    expected = fs_eval.truth_clusters(keys, pairs)
    result: dict[str, Any] = {"model": model.version, "records": len(keys),
                              **fs_eval.scores(expected, links.cluster, src)}
    label = np.array(expected, dtype=object)
    cluster = np.array(links.cluster)
    cut = model.auto_merge if threshold is None else threshold
    g = fc.gammas(fc.Frame(rows), links.i, links.j)

    def shown(mask: np.ndarray) -> list[dict[str, Any]]:
        return [{"a": keys[links.i[r]], "b": keys[links.j[r]],
                 "probability": round(float(links.probability[r]), 4),
                 "levels": {c: lv for c, lv, _ in model.explain(g[r])[1:] if lv != "null"}}
                for r in np.flatnonzero(mask)[:examples]]

    same_truth = label[links.i] == label[links.j]
    result["false_links"] = shown((links.probability >= cut) & ~same_truth)
    result["missed"] = shown((links.probability < cut) & same_truth)
    blocked = {(a, b) for a, b in zip(links.i.tolist(), links.j.tolist())}
    index = {k: n for n, k in enumerate(keys)}
    result["missed_unblocked"] = sum(
        1 for a, b in pairs if (min(index[a], index[b]), max(index[a], index[b])) not in blocked
        and cluster[index[a]] != cluster[index[b]])
    if as_json:
        print_json(result)
        return
    console.print(f"model {model.version}, {len(keys)} records, {result['true_pairs']} known "
                  f"pairs, {result['predicted_pairs']} predicted")
    console.print(f"precision {result['precision']:.4f}  recall {result['recall']:.4f}  "
                  f"F1 {result['f1']:.4f}")
    console.print(f"known pairs never compared (blocking missed them): "
                  f"{result['missed_unblocked']}")
    for kind, title in (("false_links", "linked, but not one entity"),
                        ("missed", "one entity, not linked")):
        if result[kind]:
            console.print(f"{title}:")
        for e in result[kind]:
            console.print(f"  {e['a']} ~ {e['b']}  p={e['probability']:.3f}  " + ", ".join(
                f"{c} {lv}" for c, lv in e["levels"].items()))
