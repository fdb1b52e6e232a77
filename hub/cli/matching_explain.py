"""``kontor matching explain A B``: why the trained model scores two records as it does.

A and B are golden ids (``C-12``) or source records (``crm:4711``, system and key). The
answer is a waterfall: the prior, then each comparison's level and its bits (with the
term-frequency adjustment), the running total, the match probability against the
thresholds. It shows levels and weights only, never a field value: nothing restricted
(or not) can leave through it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.output import console, fail, open_hub_or_fail, print_json
from hub.errors import HubError

_BAR = 0.5  # characters per bit in the terminal's bars
_WIDTH = 10  # the longest bar, in characters (the table fits 80 columns)


def _golden(conn: Any, ref: str) -> tuple[str, dict[str, Any]] | None:
    from sqlalchemy import select

    from hub.canonical import ID_PREFIX, MODELS
    from hub.store import bulk

    prefix = ref.split("-", 1)[0]
    entity = next((e for e, p in ID_PREFIX.items() if p == prefix), None)
    if entity is None:
        return None
    t = bulk.table_of(MODELS[entity])
    row = conn.execute(select(t).where(t.c.id == ref)).first()
    return None if row is None else (entity, dict(row._mapping))


def _source(conn: Any, ref: str, entity: str | None) -> tuple[str, dict[str, Any]] | None:
    from sqlalchemy import select

    from hub.store import bulk
    from hub.store.tables import Xref

    system, _, key = ref.partition(":")
    t = bulk.table_of(Xref)
    query = select(t.c.entity, t.c.data).where(t.c.system == system, t.c.source_key == key)
    if entity:
        query = query.where(t.c.entity == entity)
    rows = conn.execute(query).all()
    if len(rows) > 1:
        fail(f"{ref}: a record of {len(rows)} entities there; name one with --entity")
    return (rows[0].entity, rows[0].data or {}) if rows else None


def _resolve(conn: Any, ref: str, entity: str | None) -> tuple[str, dict[str, Any]]:
    found = _source(conn, ref, entity) if ":" in ref else _golden(conn, ref)
    if found is None:
        what = "no source record" if ":" in ref else "no golden record"
        fail(f"{ref}: {what} of that name (a golden id like C-12, or system:key)")
    return found


def _bar(bits: float) -> str:
    n = min(_WIDTH, round(abs(bits) * _BAR))
    if bits >= 0:
        return f"[green]{'█' * n}[/]"
    return f"[red]{'█' * n}[/]"


def _table(result: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    # m and u are in --json and in the model's page: the table fits 80 columns without them
    table = Table(title=f"{result['a']} ~ {result['b']}: model {result['model']}",
                  title_justify="left", box=box.SIMPLE)
    for name, justify in (("comparison", "left"), ("level", "left"), ("bits", "right"),
                          ("tf", "right"), ("", "left"), ("total", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    prior = result["prior"]
    table.add_row("prior", f"p {prior['probability']:.3g}", f"{prior['bits']:+.2f}",
                  "", _bar(prior["bits"]), f"{prior['bits']:+.2f}")
    for s in result["comparisons"]:
        if s["level"] == "null":
            table.add_row(s["comparison"], "[dim]missing[/]", "0", "", "",
                          f"{s['total']:+.2f}")
            continue
        table.add_row(s["comparison"], s["level"], f"{s['bits']:+.2f}",
                      f"{s['tf_bits']:+.2f}" if s["tf_bits"] else "",
                      _bar(s["bits"] + s["tf_bits"]), f"{s['total']:+.2f}")
    console.print(table)
    if result["household_guard"]:
        console.print("household guard: same surname and address, first names differ: "
                      "held at the review threshold")
    th = result["thresholds"]
    console.print(f"weight {result['weight']:+.2f} bits, match probability "
                  f"{result['probability']:.4f}: [bold]{result['decision']}[/] "
                  f"(auto_merge {th['auto_merge']}, review {th['review']})")


def _html(result: dict[str, Any], path: Path) -> None:
    from markupsafe import escape

    from hub.web.charts import bar_chart

    steps = [("prior", result["prior"]["bits"])] + [
        (f"{s['comparison']}: {s['level']}", s["bits"] + s["tf_bits"])
        for s in result["comparisons"] if s["level"] != "null"]
    title = f"{result['a']} ~ {result['b']}"
    charts = [bar_chart("Evidence for a match (bits)",
                        [(label, round(b, 2)) for label, b in steps if b > 0], tone="ok",
                        empty="none"),
              bar_chart("Evidence against (bits)",
                        [(label, round(-b, 2)) for label, b in steps if b < 0], tone="bad",
                        empty="none")]
    rows = "".join(
        f"<tr><td>{escape(s['comparison'])}</td><td>{escape(s['level'])}</td>"
        f"<td>{s['bits']:+.2f}</td><td>{s['tf_bits']:+.2f}</td><td>{s['total']:+.2f}</td></tr>"
        for s in result["comparisons"])
    th = result["thresholds"]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{escape(title)}</title></head><body><h1>{escape(title)}</h1>"
        f"<p>Model {escape(result['model'])}. Weight {result['weight']:+.2f} bits, match "
        f"probability {result['probability']:.4f}: <b>{escape(result['decision'])}</b> "
        f"(auto-merge at {th['auto_merge']}, review from {th['review']}).</p>"
        + "".join(str(c) for c in charts)
        + "<table><tr><th>comparison</th><th>level</th><th>bits</th><th>term frequency</th>"
        f"<th>running total</th></tr><tr><td>prior</td><td></td>"
        f"<td>{result['prior']['bits']:+.2f}</td><td></td>"
        f"<td>{result['prior']['bits']:+.2f}</td></tr>{rows}</table></body></html>\n")
    path.write_text(page, encoding="utf-8")


def explain(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="A golden id (C-12) or a source record "
                                          "(system:key).")],
    b: Annotated[str, typer.Argument(help="The other record, the same way.")],
    entity: Annotated[str | None, typer.Option(
        help="customer | employee, where a source key names records of both.")] = None,
    model_file: Annotated[Path | None, typer.Option(
        "--model", help="The model (default: the deployment's trained model).")] = None,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Also write the waterfall as an HTML page (SVG charts).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The weight of each comparison between two records, as a waterfall (levels and
    bits, never values)."""
    from hub.matching import fs_explain, fs_model

    hub = open_hub_or_fail(ctx)
    try:
        with hub.engine.connect() as conn:
            entity_a, values_a = _resolve(conn, a, entity)
            entity_b, values_b = _resolve(conn, b, entity)
        base = hub.deployment.base_dir
    finally:
        hub.close()
    if entity_a != entity_b:
        fail(f"{a} is a {entity_a}, {b} a {entity_b}: compare records of one entity")
    try:
        model = fs_model.Model.load(model_file) if model_file else \
            fs_model.for_deployment(base, entity_a)
    except OSError as exc:
        fail(f"{model_file}: {exc.strerror or exc}")
    except (ValueError, KeyError, TypeError) as exc:
        fail(f"{model_file}: not a usable model ({exc})")
    except HubError as exc:  # the deployment's model is broken: it says where
        fail(exc)
    if model is None:
        fail(f"no trained model for {entity_a} in {fs_model.model_path(base, entity_a)}: "
             "kontor matching train")
    result = {"a": a, "b": b, "entity": entity_a,
              **fs_explain.explain_pair(model, values_a, values_b, entity_a)}
    if html is not None:
        _html(result, html)
    if as_json:
        print_json(result)
        return
    _table(result)
    if html is not None:
        console.print(f"waterfall as a page: {html}")
