"""``kontor outbox``: what waits for delivery, and the dead letters to retry or discard."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.output import console, open_hub_or_fail, print_json

app = typer.Typer(help="Deliveries waiting in the outbox, and dead letters.",
                  no_args_is_help=True)


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    dead: Annotated[bool, typer.Option("--dead", help="Only dead letters.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Records waiting for a target (pending) or given up on (dead), with the last error."""
    from rich.table import Table

    from hub.store import outbox

    hub = open_hub_or_fail(ctx)
    with hub.engine.connect() as conn:
        rows = outbox.listing(conn, "dead" if dead else None, limit)
        depth = outbox.depth(conn)
    hub.close()
    if as_json:
        print_json({"depth": [{"system": s, "stream": st, "status": status, "count": n}
                              for (s, st, status), n in depth.items()], "rows": rows})
        return
    summary = ", ".join(f"{s}.{st} {status}: {n}" for (s, st, status), n in sorted(depth.items()))
    console.print(f"Outbox: {summary or 'empty'}", highlight=False)
    table = Table()
    for col in ("target", "record", "status", "attempts", "next attempt", "last error"):
        table.add_column(col)
    for r in rows:
        table.add_row(f"{r['system']}.{r['stream']}", r["golden_id"], r["status"],
                      str(r["attempts"]), str(r["next_attempt_at"] or ""), r["last_error"] or "")
    console.print(table)


@app.command("retry")
def retry_cmd(
    ctx: typer.Context,
    system: Annotated[str | None, typer.Option(help="Only this target system.")] = None,
    stream: Annotated[str | None, typer.Option(help="Only this stream.")] = None,
) -> None:
    """Put dead letters back in line; the next sync tries them again."""
    from hub.store import outbox

    hub = open_hub_or_fail(ctx)
    with hub.engine.begin() as conn:
        n = outbox.revive(conn, system, stream)
    hub.close()
    console.print(f"[green]✓[/] {n} dead letters will be retried by the next sync")


@app.command("discard")
def discard_cmd(
    ctx: typer.Context,
    system: Annotated[str | None, typer.Option(help="Only this target system.")] = None,
    stream: Annotated[str | None, typer.Option(help="Only this stream.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Give up on dead letters for good (they come back when their record changes)."""
    if not yes and not typer.confirm("Discard the dead letters?"):
        raise typer.Exit(1)
    from hub.store import outbox

    hub = open_hub_or_fail(ctx)
    with hub.engine.begin() as conn:
        n = outbox.discard(conn, system, stream)
    hub.close()
    console.print(f"[green]✓[/] {n} dead letters discarded")
