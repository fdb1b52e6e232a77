"""``kontor matching thresholds``: precision and recall of auto-merging at each threshold,
from the decisions data stewards made on review pairs, with a suggested threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.output import console, fail, open_hub_or_fail, print_json

ENTITIES = ("customer", "employee")


def thresholds(
    ctx: typer.Context,
    entity: Annotated[str, typer.Option(help="customer | employee")] = "customer",
    model: Annotated[str | None, typer.Option(
        help="Only pairs this model version scored ('fixed': the fixed weights). "
             "Default: every decided pair.")] = None,
    step: Annotated[float, typer.Option(min=0.01, max=0.5,
                                        help="Rows of the table, in steps of this.")] = 0.05,
    target: Annotated[float, typer.Option(min=0.5, max=0.999,
                                          help="Precision the suggestion must reach.")] = 0.99,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Also write the chart and table as an HTML page.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Precision and recall of auto-merging at each threshold, from the steward's decisions.

    Precision at t: of the decided review pairs scoring at least t, the share the steward
    merged. Recall at t: of all pairs the steward merged, the share scoring at least t.
    Suggests the lowest threshold reaching --target, once enough decisions back it."""
    from hub.matching import thresholds as th

    if entity not in ENTITIES:
        fail(f"--entity: {entity!r} is not one of {', '.join(ENTITIES)}")
    hundredths = round(step * 100)
    if abs(hundredths - step * 100) > 1e-6:
        fail(f"--step: {step:g} is not a whole number of hundredths (e.g. 0.05)")
    hub = open_hub_or_fail(ctx)
    try:
        with hub.engine.connect() as conn:
            found = th.curve(conn, entity, model=model)
        name = hub.deployment.path.name
    finally:
        hub.close()
    figures = th.summary(found, step=hundredths, target=target)
    if html is not None:
        _write_page(html, found, figures, target, name)
    if as_json:
        print_json(figures)
        return
    _print(figures)
    if html is not None:
        console.print(f"[green]✓[/] chart written to {html}", highlight=False)


def _write_page(path: Path, found: Any, figures: dict[str, Any], target: float,
                name: str) -> None:
    from hub.web.report_files import thresholds_page
    from hub.web.threshold_chart import chart

    try:
        path.write_text(thresholds_page([(figures, chart(found, target=target))],
                                        subtitle=f"Deployment {name}"), encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}")


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _print(figures: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(f"{figures['entity']}: {figures['decisions']} decided review pairs "
                  f"({figures['same']} merged, {figures['different']} kept apart)",
                  highlight=False)
    scorers = figures["scorers"]
    if figures["model"]:
        console.print(f"  only pairs scored by {figures['model']}; "
                      f"{figures['other_scorers']} by other matchers left out", highlight=False)
    elif len(scorers) > 1:
        console.print("  scored by " + ", ".join(f"{k} ({v})" for k, v in scorers.items())
                      + ": pooled (--model VERSION for one)", highlight=False)
    if figures["unscored"]:
        console.print(f"  {figures['unscored']} decisions on pairs no matcher scored (hand "
                      "merges and unmerges) not counted", highlight=False)
    if figures["thresholds"]:
        table = Table()
        for col in ("threshold", "decided pairs at or above", "precision", "recall"):
            table.add_column(col, justify="right")
        for p in figures["thresholds"]:
            table.add_row(f"{p['threshold']:.2f}", str(p["pairs_above"]),
                          _share(p["precision"]), _share(p["recall"]))
        console.print(table)
    console.print(figures["suggestion"]["text"], highlight=False)
