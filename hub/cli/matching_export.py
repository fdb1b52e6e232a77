"""``kontor matching export``: the linkage map, system + source key -> golden id.

For IT (which of our records is which person in the hub) and for stewards (which links
came from a merge). It holds ids and states only, never a field value, so it is no data
export: no privacy policy has to let anything out. Rows stream from the store; a file is
written beside its name first and renamed once complete, so a broken run leaves no
half map that looks whole.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from hub.cli.output import console, err_console, fail, open_hub_or_fail

if TYPE_CHECKING:
    from hub.matching.xref_map import Link

ENTITIES = ("customer", "employee")


def _write(rows: Iterator[Link], fh: TextIO, as_json: bool, tick: int = 5000,
           advance: Callable[[int], object] | None = None) -> int:
    """Write ``rows`` as CSV (with a header) or JSON lines; returns how many."""
    from connectors.base import neutralise_formula
    from hub.matching.xref_map import COLUMNS

    n = 0
    writer = None if as_json else csv.writer(fh)
    if writer is not None:
        writer.writerow(COLUMNS)
    for link in rows:
        if writer is None:
            fh.write(json.dumps(link._asdict(), ensure_ascii=False) + "\n")
        else:
            # a key a spreadsheet would run as a formula gets a leading ' (numbers stay);
            # the other columns are the hub's own names and ids
            writer.writerow((link.entity, neutralise_formula(link.system, keep_numbers=True),
                             neutralise_formula(link.source_key, keep_numbers=True),
                             link.golden_id, link.state))
        n += 1
        if advance is not None and n % tick == 0:
            advance(tick)
    if advance is not None:
        advance(n % tick)
    return n


def export(
    ctx: typer.Context,
    entity: Annotated[str | None, typer.Option(
        help="customer | employee (default: both).")] = None,
    system: Annotated[str | None, typer.Option(help="Only this system's records.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="File to write (default: standard output).")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="JSON lines instead of CSV.")] = False,
    deleted: Annotated[bool, typer.Option(
        "--deleted", help="Also the records their system deleted (state: deleted).")] = False,
) -> None:
    """Every source record's system, source key and golden id: a linkage map, no values.

    Columns: entity, system, source_key, golden_id, state (live; merged: moved into its
    golden record by a merge; retired: the golden record is retired; deleted: only with
    --deleted). Ordered by system, entity and key."""
    from hub.matching import xref_map

    if entity is not None and entity not in ENTITIES:
        fail(f"--entity: {entity!r} is not one of {', '.join(ENTITIES)}")
    entities = [entity] if entity else list(ENTITIES)
    hub = open_hub_or_fail(ctx)
    try:
        with hub.engine.connect() as conn:
            total = xref_map.count(conn, entities, system=system, deleted=deleted) \
                if out is not None or system is not None else None
            if total == 0 and system is not None and system not in hub.deployment.systems:
                fail(f"--system: no system {system!r} in {hub.deployment.path.name} and no "
                     "records of it in the store")
            rows = xref_map.links(conn, entities, system=system, deleted=deleted)
            if out is None:
                _to_stdout(rows, as_json)
                return
            written = _to_file(rows, out, as_json, total or 0)
    finally:
        hub.close()
    console.print(f"[green]✓[/] {written:,} source records written to {out}", highlight=False)


def _to_stdout(rows: Iterator[Link], as_json: bool) -> None:
    try:
        _write(rows, sys.stdout, as_json)
        sys.stdout.flush()
    except BrokenPipeError:  # `kontor matching export | head`: the reader has enough
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None


def _to_file(rows: Iterator[Link], out: Path, as_json: bool, total: int) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    partial = out.with_name(out.name + ".part")
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err_console, transient=True)
    try:
        with progress, partial.open("w", encoding="utf-8", newline="") as fh:
            task = progress.add_task("source records", total=total)
            written = _write(rows, fh, as_json,
                             advance=lambda n: progress.advance(task, n))
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail(f"{out}: {exc.strerror or exc}")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written
