"""``kontor plan`` and ``kontor apply``: look before you sync, then sync exactly that."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.output import console, err_console, fail, open_hub_or_fail, print_json

#: ``--detailed-exitcode``, as terraform has it: 0 no changes, 1 error, 2 changes pending.
EXIT_NO_CHANGES, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def plan(
    ctx: typer.Context,
    systems: Annotated[list[str] | None, typer.Argument(help="Systems (default: all).")] = None,
    target: Annotated[list[str] | None, typer.Option(
        help="Show only this target's changes (system.stream, or a system); repeatable.")
    ] = None,
    limit: Annotated[int, typer.Option(
        min=0, help="Changes shown per target and page; 0 shows all.")] = 10,
    page: Annotated[int, typer.Option(min=1, help="Which page of each target's changes.")
                    ] = 1,
    out: Annotated[Path | None, typer.Option(help="Write the plan here, for `kontor apply`.")
                   ] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Machine-readable output: the counts and every change (of --target).")
    ] = False,
    detailed_exitcode: Annotated[bool, typer.Option(
        "--detailed-exitcode",
        help="Exit 0 when nothing would change, 2 when changes are pending, 1 on error.")
    ] = False,
) -> None:
    """Show what a sync would change in every target — new records, changed fields old → new
    (restricted values never shown) — without writing anything anywhere.

    First a line per source and per target with its counts, and the total; then each
    target's changes, --limit at a time (--page for the next). Exit codes: 1 when a source
    or target cannot be planned (it cannot be read, its read ended early), else 0; with
    --detailed-exitcode, 2 when anything would change.
    """
    from hub.cli import plan_view

    with err_console.status("opening the master store…"):
        from hub.cli.progress import ProgressObserver, progress_bars
        from hub.errors import HubError
        from hub.sync.plan import make_plan

        hub = open_hub_or_fail(ctx)
    progress = progress_bars(err_console, disable=as_json)
    try:
        with progress:
            result = make_plan(hub.deployment, hub.engine, systems,
                               observer=ProgressObserver(progress))
    except HubError as exc:
        fail(exc)
    hub.close()
    data = {**result.as_dict(), "systems": systems or []}
    if out:
        out.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str),
                       encoding="utf-8")
    targets = plan_view.selected(data, target or [])
    if target and not targets:
        fail(f"no target {', '.join(target)} in this plan; targets: "
             f"{', '.join(data['outbound']) or 'none'}")
    if as_json:
        print_json({**data, "changes": [c for c in data["changes"] if c["target"] in targets]})
    else:
        console.print(f"[bold]Plan {result.digest[:19]}[/]: what a sync would change now",
                      highlight=False)
        plan_view.print_counts(console, data)
        plan_view.print_changes(console, data, targets, limit=limit, page=page)
        if out:
            console.print(f"plan written to {out}; apply it with: kontor apply {out}",
                          highlight=False)
    if result.errors:
        raise typer.Exit(EXIT_ERROR)
    if detailed_exitcode and result.has_changes:
        raise typer.Exit(EXIT_CHANGES)


def apply(
    ctx: typer.Context,
    planfile: Annotated[Path, typer.Argument(help="A plan written by `kontor plan --out`.")],
) -> None:
    """Apply exactly that plan: refuses when the sources or the store moved on since."""
    try:
        saved = json.loads(planfile.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"cannot read the plan {planfile}: {type(exc).__name__}")
    with err_console.status("opening the master store…"):
        from hub.errors import HubError
        from hub.sync import lease
        from hub.sync.plan import make_plan
        from hub.sync.runner import run_sync

        hub = open_hub_or_fail(ctx)
    systems = saved.get("systems") or None
    names = [f"sync:{s.system}" for s in hub.deployment.streams("inbound", systems) +
             hub.deployment.streams("outbound", systems)]
    try:
        # Hold the systems from planning again to syncing, so nothing moves in between.
        with lease.held(hub.engine, names), err_console.status("planning again…"):
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
