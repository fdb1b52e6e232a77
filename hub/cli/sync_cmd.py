"""``kontor sync``: inbound then outbound once, with progress bars and a summary table."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import select

from hub.cli.output import console, err_console, fail, print_json
from hub.config import Stream
from hub.context import open_hub
from hub.errors import HubError
from hub.store import bulk
from hub.store.tables import Quarantine
from hub.sync.counts import StreamCounts
from hub.sync.runner import RunObserver, RunResult, run_sync

COLUMNS = ("read", "created", "updated", "unchanged", "skipped", "failed")
EXIT_MEANINGS = {1: "error (a system could not be read or written)",
                 2: "records refused (see the quarantine)",
                 3: "deliveries pending (they wait in the outbox)"}


class ProgressObserver(RunObserver):
    """Shows one Rich progress bar per stream."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def stream_started(self, stream: Stream, direction: str, total: int | None) -> None:
        arrow = "←" if direction == "inbound" else "→"
        self.tasks[stream.label] = self.progress.add_task(
            f"{arrow} {stream.label}", total=total)

    def advance(self, stream: Stream, count: int) -> None:
        self.progress.advance(self.tasks[stream.label], count)

    def stream_finished(self, stream: Stream, counts: StreamCounts) -> None:
        task = self.tasks[stream.label]
        self.progress.update(task, total=counts.read, completed=counts.read)


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
    try:
        hub = open_hub(ctx.obj["config"])
    except HubError as exc:
        fail(exc)
    unknown = [s for s in systems or [] if s not in hub.deployment.systems]
    if unknown:
        fail(f"unknown system(s): {', '.join(unknown)}; configured: "
             f"{', '.join(hub.deployment.systems)}")
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                        disable=as_json, transient=False)
    try:
        with progress:
            result = run_sync(hub.deployment, hub.engine, systems=systems or None,
                              observer=ProgressObserver(progress),
                              actor=f"cli:{getpass.getuser()}")
    except HubError as exc:  # e.g. another instance is syncing the same system
        fail(exc)
    problems = _run_problems(hub.engine, result.run_id)
    hub.close()
    if as_json:
        print_json({"run": result.run_id, "status": result.status,
                    "exit_code": result.exit_code, "pending": result.pending,
                    "dead": result.dead, "streams": [s.as_dict() for s in result.streams],
                    "quarantined": problems})
    else:
        _summary(result, problems)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _run_problems(engine, run_id: int) -> list[dict[str, str | None]]:  # type: ignore[no-untyped-def]
    t = bulk.table_of(Quarantine)
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.system, t.c.stream, t.c.location, t.c.source_key,
                                   t.c.field, t.c.reason).where(t.c.run_id == run_id)
                            .order_by(t.c.id))
        return [dict(r._mapping) for r in rows]


def _summary(result: RunResult, problems: list[dict[str, str | None]]) -> None:
    table = Table(title=f"Run {result.run_id}: {result.status}")
    table.add_column("system.stream")
    table.add_column("direction")
    for col in COLUMNS:
        table.add_column(col, justify="right")
    for s in result.streams:
        cells = [str(getattr(s, c)) for c in COLUMNS]
        if s.failed:
            cells[-1] = f"[red]{s.failed}[/]"
        table.add_row(f"{s.system}.{s.stream}", s.direction, *cells)
    console.print(table)
    for s in result.streams:
        if s.error and s.direction == "outbound" and (s.pending or s.dead):
            console.print(f"[yellow]⧗ {s.system}.{s.stream} is unavailable:[/] ", end="")
            console.print(s.error, markup=False, highlight=False)
        elif s.error:
            console.print(f"[red]✗ {s.system}.{s.stream} failed:[/] ", end="")
            console.print(s.error, markup=False, highlight=False)
        if s.incomplete:
            console.print(f"[red]✗ {s.system}.{s.stream}: the read ended early "
                          "(no deletes were inferred):[/] ", end="")
            console.print(s.incomplete, markup=False, highlight=False)
        removals = [f"{n} {what}" for n, what in (
            (s.deleted, "deleted"), (s.retired, "retired"), (s.deactivated, "deactivated"),
            (s.kept, "kept although gone from the hub")) if n]
        if removals:
            whose = "at the source" if s.direction == "inbound" else "at the target"
            console.print(f"  {s.system}.{s.stream}: {', '.join(removals)} {whose}",
                          highlight=False)
        if s.unknown_columns:
            console.print(f"[yellow]! {s.system}.{s.stream}: columns not in the mapping were "
                          f"dropped:[/] {', '.join(s.unknown_columns)}", highlight=False)
    if problems:
        console.print(f"[red]{len(problems)} record(s) quarantined:[/]")
        for p in problems[:50]:
            where = p["location"] or f"{p['system']}.{p['stream']}"
            if p["source_key"] and p["location"] and "csv:" not in p["location"]:
                where += f" (key {p['source_key']})"
            field = f" field {p['field']}:" if p["field"] else ""
            console.print(f"  ✗ {where}{field} {p['reason']}", markup=False, highlight=False)
        if len(problems) > 50:
            console.print(f"  … and {len(problems) - 50} more: kontor quarantine")
    for s in result.streams:
        if s.pending:
            console.print(f"[yellow]⧗ {_n(s.pending, 'record')} wait for delivery to "
                          f"{s.system}.{s.stream}[/] (retry with backoff; `kontor outbox "
                          "list`)", highlight=False)
        if s.dead:
            console.print(f"[yellow]⧗ {_n(s.dead, 'dead letter')} for {s.system}.{s.stream}"
                          "[/] (given up on; `kontor outbox list --dead`, then `kontor outbox "
                          "retry` or `discard`)", highlight=False)
    if result.status == "success" and result.changed == 0:
        console.print("[green]✓ nothing changed: every system is already in sync[/]")
    elif result.exit_code:
        console.print(f"exit code {result.exit_code}: {EXIT_MEANINGS[result.exit_code]}",
                      highlight=False)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
