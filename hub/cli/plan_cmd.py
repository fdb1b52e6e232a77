"""``kontor plan`` and ``kontor apply``: look before you sync, then sync exactly that."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hub.cli.output import console, fail, open_hub_or_fail, print_json
from hub.errors import HubError
from hub.sync import lease
from hub.sync.plan import make_plan
from hub.sync.runner import run_sync


def plan(
    ctx: typer.Context,
    systems: Annotated[list[str] | None, typer.Argument(help="Systems (default: all).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the plan here, for `kontor apply`.")
                   ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what a sync would change in every target — new records, changed fields old → new
    (restricted values never shown) — without writing anything anywhere."""
    hub = open_hub_or_fail(ctx)
    try:
        result = make_plan(hub.deployment, hub.engine, systems)
    except HubError as exc:
        fail(exc)
    hub.close()
    data = {**result.as_dict(), "systems": systems or []}
    if out:
        out.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str),
                       encoding="utf-8")
    if as_json:
        print_json(data)
        return
    table = Table(title=f"Plan {result.digest[:19]}: {len(result.changes)} change(s)")
    for col in ("target", "action", "key", "fields (old → new)"):
        table.add_column(col)
    for c in result.changes[:200]:
        fields = "; ".join(f"{k}: {v[0]!s} → {v[1]!s}" for k, v in c.fields.items())
        table.add_row(c.target, c.action, c.key, fields)
    console.print(table)
    if len(result.changes) > 200:
        console.print(f"… and {len(result.changes) - 200} more (use --json or --out)")
    if out:
        console.print(f"plan written to {out}; apply it with: kontor apply {out}",
                      highlight=False)


def apply(
    ctx: typer.Context,
    planfile: Annotated[Path, typer.Argument(help="A plan written by `kontor plan --out`.")],
) -> None:
    """Apply exactly that plan: refuses when the sources or the store moved on since."""
    try:
        saved = json.loads(planfile.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"cannot read the plan {planfile}: {type(exc).__name__}")
    hub = open_hub_or_fail(ctx)
    systems = saved.get("systems") or None
    names = [f"sync:{s.system}" for s in hub.deployment.streams("inbound", systems) +
             hub.deployment.streams("outbound", systems)]
    try:
        # Hold the systems from planning again to syncing, so nothing moves in between.
        with lease.held(hub.engine, names):
            now = make_plan(hub.deployment, hub.engine, systems, hold_leases=False)
            if now.digest != saved.get("digest"):
                fail("the data moved on since the plan was made (its changes differ now): "
                     "make a new plan", code=2)
            result = run_sync(hub.deployment, hub.engine, systems=systems, trigger="apply",
                              hold_leases=False)
    except HubError as exc:
        fail(exc)
    hub.close()
    console.print(f"[green]✓[/] plan applied as run {result.run_id}: {result.status}",
                  highlight=False)
    if result.exit_code:
        raise typer.Exit(result.exit_code)
