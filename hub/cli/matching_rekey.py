"""``kontor matching rekey``: make every stored match key again with today's configuration.

The sync does this by itself when the rules, the blocking or the trained model's blocking
changed (hub/golden/rekey.py); the command does it ahead of time, with a progress bar, or
anew with ``--force`` (after restoring a backup made under other settings, say).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer

from hub.cli.matching_export import ENTITIES
from hub.cli.output import console, err_console, fail, open_hub_or_fail


def rekey(
    ctx: typer.Context,
    entity: Annotated[str | None, typer.Option(
        help="customer | employee (default: both).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Also when the stored keys are up to date.")] = False,
) -> None:
    """Re-make the match keys of every golden and source record, if the matching rules,
    blocking kinds or the trained model's blocking rules changed since they were made."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from hub.golden import rekey as rk
    from hub.golden.writer import matcher_for

    if entity is not None and entity not in ENTITIES:
        fail(f"--entity: {entity!r} is not one of {', '.join(ENTITIES)}")
    hub = open_hub_or_fail(ctx)
    try:
        for name in [entity] if entity else list(ENTITIES):
            matcher = matcher_for(hub.deployment, name, hub.sealer.keyring)
            if not force and not rk.needed(hub.engine, matcher):
                console.print(f"[green]✓[/] {name}: keys are up to date", highlight=False)
                continue
            progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), console=err_console, transient=True)
            with progress:
                task = progress.add_task(f"{name} records", total=rk.count(hub.engine, name))
                goldens, sources = rk.rekey(hub.engine, hub.sealer, matcher,
                                            progress=partial(progress.advance, task))
            console.print(f"[green]✓[/] {name}: keys re-made for {goldens:,} golden and "
                          f"{sources:,} source records", highlight=False)
    finally:
        hub.close()
