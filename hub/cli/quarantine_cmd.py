"""``kontor quarantine [list|show|retry|discard]``: the records a sync refused.

``show`` prints the kept raw record with every value masked that feeds a restricted field
(by the stream's mapping and the field catalog), and every value of a column the mapping
does not know: what a restricted column holds is not for a terminal's scroll-back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli.output import console, err_console, fail, print_json

if TYPE_CHECKING:
    from hub.context import Hub

app = typer.Typer(help="Records a sync refused: list, show, retry after a fix, discard.",
                  no_args_is_help=False)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
SystemOpt = Annotated[str | None, typer.Option(help="Only this system.")]
IdsArg = Annotated[list[int] | None, typer.Argument(help="Entry ids (see `list`).")]


def _hub(ctx: typer.Context) -> Hub:
    with err_console.status("opening the master store…"):
        from hub.context import open_hub
        from hub.errors import HubError

        try:
            return open_hub(ctx.obj["config"])
        except HubError as exc:
            fail(exc)


def _list(ctx: typer.Context, system: str | None, limit: int, as_json: bool,
          status: str = "open") -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table
    from sqlalchemy import select

    from hub.store import bulk
    from hub.store.tables import Quarantine

    hub = _hub(ctx)
    q = bulk.table_of(Quarantine)
    stmt = select(q.c.id, q.c.run_id, q.c.system, q.c.stream, q.c.direction, q.c.location,
                  q.c.source_key, q.c.field, q.c.reason, q.c.status)
    if status != "all":
        stmt = stmt.where(q.c.status == status)
    if system:
        stmt = stmt.where(q.c.system == system)
    with hub.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt.order_by(q.c.id).limit(limit))]
    hub.close()
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Quarantine ({len(rows)} {status})", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    for col in ("id", "run", "where (stream, place, key)", "field", "reason"):
        table.add_column(col, overflow="fold", justify="right" if col in ("id", "run")
                         else "left")
    for r in rows:  # the key too, as the sync's summary shows it
        where = [f"{r['system']}.{r['stream']}", r["location"] or "",
                 f"key {r['source_key']}" if r["source_key"] else ""]
        table.add_row(str(r["id"]), str(r["run_id"]),
                      escape("\n".join(w for w in where if w)), escape(r["field"] or ""),
                      escape(r["reason"]))
    console.print(table)


@app.callback(invoke_without_command=True)
def quarantine(ctx: typer.Context, system: SystemOpt = None,
               limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
               as_json: JsonOpt = False) -> None:
    """Open quarantined records: where they came from and why they were refused."""
    if ctx.invoked_subcommand is None:
        _list(ctx, system, limit, as_json)


@app.command("list")
def list_(ctx: typer.Context, system: SystemOpt = None,
          limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
          status: Annotated[str, typer.Option(
              help="open | retried | resolved | superseded | discarded | all")] = "open",
          as_json: JsonOpt = False) -> None:
    """List quarantined records (open ones unless --status says otherwise)."""
    _list(ctx, system, limit, as_json, status)


def masked_payload(hub: Hub, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The kept raw record, values of restricted or unmapped columns masked."""
    raw = hub.sealer.open_payload(entry["payload"])
    if raw is None:
        return None
    stream = next((s for s in hub.deployment.streams(entry["direction"])
                   if s.system == entry["system"] and s.name == entry["stream"]), None)
    specs = hub.deployment.fields.get(entry["entity"], {})
    shown: dict[str, Any] = {}
    for column, value in raw.items():
        if stream is None:
            shown[column] = "••• (stream no longer configured)"
            continue
        fields = stream.mapping.fields_of_column(column)
        restricted = sorted({specs[f].category.key for f in fields
                             if f in specs and specs[f].restricted})
        if restricted:
            shown[column] = f"••• (restricted: {', '.join(restricted)})"
        elif not fields and column not in stream.spec.key:
            shown[column] = "••• (column not in the mapping)"
        else:
            shown[column] = value
    return shown


@app.command()
def show(ctx: typer.Context, entry_id: Annotated[int, typer.Argument(help="Entry id.")],
         as_json: JsonOpt = False) -> None:
    """One entry with its kept record; restricted and unmapped values masked."""
    from rich.table import Table
    from sqlalchemy import select

    from hub.store import bulk
    from hub.store.tables import Quarantine

    hub = _hub(ctx)
    q = bulk.table_of(Quarantine)
    with hub.engine.connect() as conn:
        row = conn.execute(select(q).where(q.c.id == entry_id)).first()
    if row is None:
        hub.close()
        fail(f"no quarantine entry #{entry_id}")
    entry = dict(row._mapping)
    payload = masked_payload(hub, entry)
    hub.close()
    data = {k: entry[k] for k in ("id", "run_id", "system", "stream", "entity", "direction",
                                  "source_key", "location", "field", "reason", "status",
                                  "created_at")} | {"record": payload}
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        if key != "record":
            console.print(f"[bold]{key}:[/] {value}", highlight=False, markup=True)
    if payload is None:
        console.print("record: (none kept)")
        return
    table = Table(title="record as read")
    table.add_column("column")
    table.add_column("value")
    for column, value in payload.items():
        marker = " ←" if entry["field"] and entry["field"] in \
            _fields_of(hub, entry, column) else ""
        table.add_row(column + marker, "" if value is None else str(value))
    console.print(table)


def _fields_of(hub: Hub, entry: dict[str, Any], column: str) -> set[str]:
    stream = next((s for s in hub.deployment.streams(entry["direction"])
                   if s.system == entry["system"] and s.name == entry["stream"]), None)
    return stream.mapping.fields_of_column(column) if stream else set()


@app.command()
def retry(ctx: typer.Context, ids: IdsArg = None, system: SystemOpt = None,
          all_: Annotated[bool, typer.Option("--all", help="Every open entry.")] = False,
          as_json: JsonOpt = False) -> None:
    """Map the kept records again with today's mapping; store those that pass."""
    if not ids and not system and not all_:
        fail("name entry ids, --system SYSTEM, or --all")
    from hub.errors import HubError
    from hub.sync import retry as retry_mod

    hub = _hub(ctx)
    try:
        result = retry_mod.retry(hub, ids or None, system=system)
    except HubError as exc:
        hub.close()
        fail(exc)
    hub.close()
    data = {"run_id": result.run_id, "retried": result.retried, "failed": result.failed,
            "skipped": {str(k): v for k, v in result.skipped.items()}}
    if as_json:
        print_json(data)
    else:
        console.print(f"{len(result.retried)} stored, {len(result.failed)} refused again "
                      f"(new entries, see `kontor quarantine`), {len(result.skipped)} skipped",
                      highlight=False)
        for entry_id, why in result.skipped.items():
            console.print(f"  #{entry_id}: {why}", highlight=False)
    if result.failed:
        raise typer.Exit(1)


@app.command()
def discard(ctx: typer.Context, ids: IdsArg = None, system: SystemOpt = None,
            all_: Annotated[bool, typer.Option("--all", help="Every open entry.")] = False,
            as_json: JsonOpt = False) -> None:
    """Give records up: close their entries without storing them."""
    if not ids and not system and not all_:
        fail("name entry ids, --system SYSTEM, or --all")
    from hub.sync import retry as retry_mod

    hub = _hub(ctx)
    closed = retry_mod.discard(hub, ids or None, system=system)
    hub.close()
    if as_json:
        print_json({"discarded": closed})
    else:
        console.print(f"{len(closed)} entr{'y' if len(closed) == 1 else 'ies'} discarded",
                      highlight=False)
