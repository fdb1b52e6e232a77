"""``kontor sync``: inbound then outbound once, with progress bars and a summary.

Heavy modules (the store, the sync engine) are imported when the command runs, after the
first line is on the screen, so ``kontor sync --help`` answers at once.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli.output import console, err_console, fail, print_json

if TYPE_CHECKING:
    from hub.sync.runner import RunResult


def sync(
    ctx: typer.Context,
    systems: Annotated[list[str] | None, typer.Argument(
        help="Systems to sync (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Read every inbound stream into the master store, then push to every outbound stream.

    Exit codes (the most severe that applies): 0 everything delivered; 1 error (a system
    could not be read or written, or the run could not start); 2 records refused
    (quarantined or dead-lettered); 3 deliveries pending (records wait in the outbox for a
    retry, or as dead letters). A run never reports success while anything waits.
    """
    with err_console.status("opening the master store…"):
        from hub.cli.progress import ProgressObserver, progress_bars
        from hub.cli.rundata import quarantined, review_pairs
        from hub.context import open_hub
        from hub.errors import HubError
        from hub.sync.runner import run_sync

        try:
            hub = open_hub(ctx.obj["config"])
        except HubError as exc:
            fail(exc)
    unknown = [s for s in systems or [] if s not in hub.deployment.systems]
    if unknown:
        fail(f"unknown system(s): {', '.join(unknown)}; configured: "
             f"{', '.join(hub.deployment.systems)}")
    progress = progress_bars(err_console, disable=as_json)
    try:
        with progress:
            result = run_sync(hub.deployment, hub.engine, systems=systems or None,
                              observer=ProgressObserver(progress),
                              actor=f"cli:{getpass.getuser()}")
    except HubError as exc:  # e.g. another instance is syncing the same system
        fail(exc)
    problems = quarantined(hub.engine, result.run_id)
    streams = [s.as_dict() for s in result.streams]
    reviews = review_pairs(hub.engine, result.run_id, streams)
    hub.close()
    if as_json:
        print_json({"run": result.run_id, "status": result.status,
                    "exit_code": result.exit_code, "pending": result.pending,
                    "dead": result.dead, "streams": streams, "review_pairs": reviews,
                    "quarantined": problems,
                    "models_trained": [vars(t) for t in result.trained]})
    else:
        _summary(result, streams, problems, reviews)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _summary(result: RunResult, streams: list[dict[str, Any]],
             problems: list[dict[str, Any]], reviews: dict[str, int]) -> None:
    from hub.cli import summary
    from hub.cli.summary import EXIT_MEANINGS

    console.print(summary.headline(result.run_id, result.status), highlight=False)
    summary.print_streams(console, streams, reviews)
    summary.print_totals(console, streams, reviews)
    summary.print_quarantine(console, problems)
    for s in result.streams:
        if s.pending:
            console.print(f"[yellow]⧗ {_n(s.pending, 'record')} wait for delivery to "
                          f"{s.label}[/] (retry with backoff; `kontor outbox list`)",
                          highlight=False)
        if s.dead:
            console.print(f"[yellow]⧗ {_n(s.dead, 'dead letter')} for {s.label}[/] (given "
                          "up on; `kontor outbox list --dead`, then `kontor outbox retry` or "
                          "`discard`)", highlight=False)
    for t in result.trained:
        console.print(f"[green]✓[/] matching model {t.version} learned from "
                      f"{_n(t.records, f'{t.entity} record')} (no labels): "
                      f"{_n(t.merged, 'merge')}; matching/{t.entity}.model.json, "
                      f"its chart beside it", highlight=False, soft_wrap=True)
    if sum(reviews.values()):
        console.print(f"{_n(sum(reviews.values()), 'new review pair')} for a data steward: "
                      "kontor steward review", highlight=False)
    if result.status == "success" and result.changed == 0:
        console.print("[green]✓ nothing changed: every system is already in sync[/]")
    elif result.exit_code:
        console.print(f"exit code {result.exit_code}: {EXIT_MEANINGS[result.exit_code]}",
                      highlight=False)


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
