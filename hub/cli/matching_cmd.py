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

from pathlib import Path
from typing import Annotated, Any

import typer

# commands in modules of their own (light: their heavy imports sit inside them)
from hub.cli.matching_blocking import blocking
from hub.cli.matching_explain import explain
from hub.cli.matching_export import export
from hub.cli.matching_io import option_settings, read_pairs, read_records, store_records
from hub.cli.matching_rekey import rekey
from hub.cli.matching_thresholds import thresholds
from hub.cli.output import console, fail, print_json

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
    compare: Annotated[list[str] | None, typer.Option(
        "--compare", help="Files: compare this column too, as FIELD or FIELD:KIND (exact, "
                          "name, jaro_winkler, date, numeric). Repeatable. From the store: "
                          "matching.<entity>.model.compare in kontor.yaml.")] = None,
    block: Annotated[list[str] | None, typer.Option(
        "--block", help="Files: a blocking rule, a built-in name or key parts joined by + "
                        "(soundex(last_name)+year(date_of_birth)). Repeatable; replaces the "
                        "built-in rules. From the store: matching.<entity>.model.blocking.")
    ] = None,
    no_tf: Annotated[bool, typer.Option(
        "--no-tf", help="Files: no term-frequency adjustments.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Learn m, u and the prior from the records themselves (no labels); write the model."""
    from hub.matching import fs_model, training

    if entity not in ENTITIES:
        fail(f"--entity: {entity!r} is not one of {', '.join(ENTITIES)}")
    if files:
        keys, rows, sources = read_records(files, key)
        target = out or Path("matching-model.json")
        settings = option_settings(compare or [], block or [], no_tf)
    else:
        keys, rows, sources, base, settings = store_records(ctx, entity)
        target = out or fs_model.model_path(base, entity)
    model = fs_model.train(keys, rows, sources=sources if link else None, seed=seed,
                           entity=entity, **settings)
    report = training.save(model, target)
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
    if model.tf is not None:
        console.print("term frequencies (values held by at least "
                      f"{model.tf.min_count} records, as digests): " + ", ".join(
                          f"{n} {len(t.values)}" for n, t in model.tf.tables.items()))
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
    g = model.gammas(model.frame(rows), links.i, links.j)

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


app.command()(export)
app.command()(explain)
app.command()(blocking)
app.command()(thresholds)
app.command()(rekey)
