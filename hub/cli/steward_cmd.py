"""``kontor steward``: the data steward's review queue, merges, unmerges and overrides."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli.output import console, err_console, fail, print_json

if TYPE_CHECKING:
    from hub.context import Hub

app = typer.Typer(help="Review possible duplicates, merge and unmerge golden records, "
                       "override single fields.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
EntityOpt = Annotated[str, typer.Option(help="customer | employee")]
ActorOpt = Annotated[str | None, typer.Option("--as", help="Who decides (default: you).")]


def _hub(ctx: typer.Context) -> Hub:
    with err_console.status("opening the master store…"):
        from hub.context import open_hub
        from hub.errors import HubError

        try:
            return open_hub(ctx.obj["config"])
        except HubError as exc:
            fail(exc)


def _actor(actor: str | None) -> str:
    return actor or getpass.getuser()


def _run(ctx: typer.Context, action: Any) -> Any:
    from hub.errors import HubError

    hub = _hub(ctx)
    try:
        return action(hub)
    except HubError as exc:
        fail(exc)
    finally:
        hub.close()


@app.command("review")
def review_list(ctx: typer.Context, entity: Annotated[str | None, typer.Option(
                    help="customer | employee")] = None,
                status: Annotated[str, typer.Option(help="open | merged | kept_apart | all")]
                = "open",
                limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
                as_json: JsonOpt = False) -> None:
    """Pairs that may be one person, with the evidence (levels, never values)."""
    from rich.table import Table

    from hub.survivorship import review

    rows = _run(ctx, lambda hub: review.pairs(
        hub, status=None if status == "all" else status, entity=entity, limit=limit))
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Review pairs ({len(rows)} {status})")
    for col in ("id", "entity", "records", "score", "evidence", "raised by"):
        table.add_column(col)
    for r in rows:
        evidence = ", ".join(f"{k} {v}" for k, v in (r["evidence"] or {}).items())
        table.add_row(str(r["id"]), r["entity"], f"{r['golden_a']} / {r['golden_b']}",
                      f"{r['score']:.2f}", evidence,
                      f"{r['system'] or ''} {r['source_key'] or ''}".strip())
    console.print(table)


@app.command()
def decide(ctx: typer.Context, pair: Annotated[int, typer.Argument(help="Review pair id.")],
           decision: Annotated[str, typer.Argument(help="merge | keep_apart")],
           actor: ActorOpt = None, as_json: JsonOpt = False) -> None:
    """Merge the pair, or remember that they are two people."""
    from hub.survivorship import review

    done = _run(ctx, lambda hub: review.decide(hub, pair, decision, actor=_actor(actor)))
    if as_json:
        print_json(done)
    else:
        console.print(done, highlight=False)


@app.command()
def merge(ctx: typer.Context, survivor: Annotated[str, typer.Argument(help="Id that stays.")],
          merged: Annotated[str, typer.Argument(help="Id merged into it.")],
          entity: EntityOpt = "customer", actor: ActorOpt = None) -> None:
    """Merge two golden records by hand (undo with `unmerge`)."""
    from hub.survivorship.merging import Steward

    merge_id = _run(ctx, lambda hub: Steward(hub, entity).merge(survivor, merged,
                                                                actor=_actor(actor)))
    console.print(f"merged {merged} into {survivor} (merge #{merge_id})", highlight=False)


@app.command()
def merges(ctx: typer.Context, entity: EntityOpt = "customer", as_json: JsonOpt = False
           ) -> None:
    """Merges that can be undone."""
    from sqlalchemy import select

    from hub.store import bulk
    from hub.store.matching_tables import GoldenMerge

    def load(hub: Hub) -> list[dict[str, Any]]:
        m = bulk.table_of(GoldenMerge)
        with hub.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(m.c.id, m.c.survivor_id, m.c.merged_id, m.c.actor, m.c.merged_at)
                .where(m.c.entity == entity, m.c.undone_at.is_(None)).order_by(m.c.id))]
    rows = _run(ctx, load)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        console.print(f"#{r['id']}: {r['merged_id']} into {r['survivor_id']} by {r['actor']} "
                      f"at {r['merged_at']:%Y-%m-%d %H:%M}", highlight=False)


@app.command()
def unmerge(ctx: typer.Context, merge_id: Annotated[int, typer.Argument(help="Merge id.")],
            entity: EntityOpt = "customer", actor: ActorOpt = None) -> None:
    """Split a wrong merge: both records, their xrefs and histories come back apart."""
    from hub.survivorship.merging import Steward

    survivor, restored = _run(ctx, lambda hub: Steward(hub, entity).unmerge(
        merge_id, actor=_actor(actor)))
    console.print(f"{restored} split off {survivor} again; the pair is kept apart",
                  highlight=False)


@app.command()
def override(ctx: typer.Context, golden_id: Annotated[str, typer.Argument()],
             field: Annotated[str, typer.Argument()],
             value: Annotated[str | None, typer.Argument(help="Omit with --clear.")] = None,
             clear: Annotated[bool, typer.Option(help="Remove the override.")] = False,
             reason: Annotated[str, typer.Option(help="Why, for the next steward.")] = "",
             entity: EntityOpt = "customer", actor: ActorOpt = None) -> None:
    """Fix one field of one golden record; later syncs do not overwrite it."""
    from hub.survivorship import overrides

    if clear:
        removed = _run(ctx, lambda hub: overrides.clear_override(hub, entity, golden_id, field))
        console.print("override removed" if removed else "there was no override")
        return
    _run(ctx, lambda hub: overrides.set_override(hub, entity, golden_id, field, value,
                                                 actor=_actor(actor), reason=reason))
    console.print(f"{golden_id}.{field} fixed by override", highlight=False)
