"""``kontor matching blocking``: what the blocking rules find, and what they miss.

Per rule: the pairs it finds, those no earlier rule found, the records it blocks and
those left out in blocks over ``max_block``; in total: the pairs scored against all
possible pairs, and the recall (known pairs with ``--truth``, else estimated from the
model's linked pairs; see ``hub/matching/fs_blocking_report.py``). Counts only, never a
value or a key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.output import console, fail, print_json
from hub.errors import HubError


def blocking(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(
        help="CSV files of records (header: canonical field names and the key); none: "
             "the master store's source records.")] = None,
    key: Annotated[str, typer.Option("--key", help="The key column (files).")] = "id",
    entity: Annotated[str, typer.Option(help="The entity (store only).")] = "customer",
    link: Annotated[bool, typer.Option(
        "--link", help="Only pairs of two files (systems) count.")] = False,
    model_file: Annotated[Path | None, typer.Option(
        "--model", help="A trained model: its rules, and its linked pairs for the "
                        "estimated recall (default: the deployment's).")] = None,
    truth: Annotated[Path | None, typer.Option(
        "--truth", help="Known same-entity pairs (CSV, two key columns): measured "
                        "recall.")] = None,
    block: Annotated[list[str] | None, typer.Option(
        "--block", help="Rules to report instead of the model's: a built-in name or key "
                        "parts joined by +. Repeatable.")] = None,
    max_block: Annotated[int | None, typer.Option(
        help="Largest block compared (default: the model's, else 200).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Pairs per blocking rule, pairs in total against all pairs, and recall."""
    import numpy as np

    from hub.cli.matching_io import option_settings, read_pairs, read_records, store_records
    from hub.matching import fs_blocking_report, fs_model

    settings: dict[str, Any] = {}
    if files:
        keys, rows, sources = read_records(files, key)
        base = None
    else:
        keys, rows, sources, base, settings = store_records(ctx, entity)
    model = None
    try:
        if model_file is not None:
            model = fs_model.Model.load(model_file)
        elif base is not None:
            model = fs_model.for_deployment(base, entity)
    except OSError as exc:
        fail(f"{model_file}: {exc.strerror or exc}")
    except (ValueError, KeyError, TypeError) as exc:
        fail(f"{model_file}: not a usable model ({exc})")
    except HubError as exc:
        fail(exc)
    rules: Any = option_settings([], block or [], False).get("blocking")
    if rules is None:
        rules = model.blocking if model is not None else (
            settings.get("blocking") or fs_model.BLOCKING_RULES)
    limit = max_block or (model.max_block if model is not None else
                          settings.get("max_block", 200))
    frame = model.frame(rows, entity) if model is not None else \
        fs_model.Model(0.5, [], [], tuple(rules)).frame(rows, entity)
    src = np.array(sources, dtype=object) if link else None
    known = None
    if truth is not None:
        index = {k: n for n, k in enumerate(keys)}
        pairs = read_pairs(truth, set(keys))
        known = (np.array([index[x] for x, _ in pairs], dtype=np.int64),
                 np.array([index[y] for _, y in pairs], dtype=np.int64))
    result = fs_blocking_report.report(frame, rules, limit, source=src, truth=known,
                                       model=model)
    if as_json:
        print_json(result)
        return
    _print(result)


def _print(result: dict[str, Any]) -> None:
    from rich.table import Table

    def pct(x: float | None) -> str:
        return "" if x is None else f"{x:.2%}"

    table = Table(title="blocking rules", title_justify="left")
    for name in ("rule", "pairs", "new pairs", "records blocked", "left out (big blocks)",
                 "recall"):
        table.add_column(name, justify="left" if name == "rule" else "right",
                         overflow="fold")
    for r in result["rules"]:
        table.add_row(r["rule"], f"{r['pairs']:,}", f"{r['new_pairs']:,}",
                      f"{r['records_with_key']:,}", f"{r['records_in_oversized_blocks']:,}",
                      pct(r.get("recall")))
    console.print(table)
    console.print(f"{result['pairs']:,} pairs scored of {result['possible_pairs']:,.0f} "
                  f"possible ({result['reduction']:.4%} left out), blocks up to "
                  f"{result['max_block']} records")
    if "recall" in result:
        console.print(f"recall {result['recall']:.2%} ({result['recall_from']})")
