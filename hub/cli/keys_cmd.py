"""``kontor keys``: create, rotate and use the master keys; crypto-shred a subject.

The store, the key handling and the cryptography load when a command runs.
"""

from __future__ import annotations

import base64
import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli.output import console, err_console, fail

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from hub.context import Hub
    from policies import keys

app = typer.Typer(help="Master keys: init, rotate, destination keys, forget a subject, "
                  "re-seal a store.",
                  no_args_is_help=True)


def _config(ctx: typer.Context) -> Path | None:
    return ctx.parent.obj["config"] if ctx.parent else None


def _audit(hub: Hub, ring: keys.Keyring, kind: str, **fields: Any) -> None:
    from hub.audit.record import AuditLog

    log = AuditLog(ring, f"cli:{getpass.getuser()}")
    with hub.engine.begin() as conn:
        log.add(kind, "done", **fields)
        log.flush(conn)


@app.command("init")
def init(ctx: typer.Context) -> None:
    """Create the keyring with a fresh random master key (refuses to overwrite one)."""
    from hub import config
    from hub.errors import HubError
    from policies import keys

    try:
        path = config.load(_config(ctx)).keyring_path
        keys.create(path)
    except HubError as exc:
        fail(exc)
    console.print(f"[green]✓[/] keyring {path} (owner-only); back it up apart from the "
                  "database: without it, restricted values cannot be read", highlight=False)


@app.command("rotate")
def rotate(ctx: typer.Context) -> None:
    """Add a new master key, make it active, and re-wrap every data key with it.

    Safe while the hub runs: old keys stay in the keyring, so nothing becomes unreadable.
    """
    from hub.context import open_hub
    from hub.errors import HubError
    from hub.store import rekey
    from policies import keys
    from policies.envelope import Envelope

    try:
        hub = open_hub(_config(ctx))
        path = hub.deployment.keyring_path
        if os.environ.get(keys.ENV_MASTER_KEY):
            fail(f"the master key comes from {keys.ENV_MASTER_KEY}; rotate it there")
        ring = keys.load(path).with_new_key()
        keys.save(ring, path)
        envelope = Envelope(ring)
        subjects = rekey.rewrap_subject_keys(hub.engine, envelope)
        quarantined = rekey.rewrap_quarantine(hub.engine, envelope)
        _audit(hub, ring, "change.keys", detail={"rotated_to": ring.active,
                                                 "subject_keys": subjects})
    except HubError as exc:
        fail(exc)
    hub.close()
    console.print(f"[green]✓[/] active master key {ring.active}; re-wrapped {subjects} subject "
                  f"keys and {quarantined} quarantined records", highlight=False)


@app.command("destination-key")
def destination_key(
    ctx: typer.Context,
    destination: Annotated[str, typer.Argument(help="system.stream that receives `encrypt`.")],
    out: Annotated[Path, typer.Option(help="File to write the key to (mode 600).")],
) -> None:
    """Write the AES-256 key DESTINATION needs to decrypt values the policy encrypts."""
    from hub import config
    from hub.errors import HubError

    try:
        gate = config.load(_config(ctx)).gate()
    except HubError as exc:
        fail(exc)
    key = gate.transformer.destination_key(destination)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(key).decode() + "\n")
    console.print(f"[green]✓[/] key for {destination} written to {out}", highlight=False)


@app.command("forget")
def forget(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="Golden customer id.")] = None,
    employee: Annotated[str | None, typer.Option(help="Golden employee id.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Crypto-shred one person: destroy their data key, so their restricted values can no
    longer be read anywhere, backups included. Cannot be undone."""
    if bool(customer) == bool(employee):
        fail("give exactly one of --customer or --employee")
    entity, golden_id = ("customer", customer) if customer else ("employee", employee)
    if not yes and not typer.confirm(f"Destroy the data key of {golden_id} for good?"):
        raise typer.Exit(1)
    from hub.context import open_hub
    from hub.errors import HubError

    try:
        hub = open_hub(_config(ctx))
        with hub.engine.begin() as conn:
            gone = hub.sealer.forget(conn, entity, str(golden_id))
        if gone:
            _audit(hub, hub.deployment.keyring(), "change.keys", entity=entity,
                   golden_id=str(golden_id), detail={"forgotten": True})
    except HubError as exc:
        fail(exc)
    hub.close()
    if not gone:
        fail(f"{entity} {golden_id} has no data key")
    console.print(f"[green]✓[/] the restricted values of {golden_id} are now unreadable",
                  highlight=False)


@app.command("reseal")
def reseal(
    ctx: typer.Context,
    batch_size: Annotated[int, typer.Option(min=1, help="Records per transaction.")] = 500,
) -> None:
    """Re-seal restricted values written before padding, so the store hides their length
    and whether they are filled (golden records, their history, merge snapshots kept for
    unmerge, quarantined records).

    Batch by batch, each batch its own transaction (with the entity's write lock), so the
    hub can keep running; interrupted, just run it again: what is done is skipped. No value
    changes, so nothing is sent to any target."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from hub.context import open_hub
    from hub.errors import HubError

    try:
        hub = open_hub(_config(ctx))
        ring = hub.deployment.keyring()
        with hub.engine.connect() as conn:
            totals = _reseal_totals(conn, hub)
        done: dict[str, int] = {}
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=err_console, transient=False)
        with progress:
            for label, total in totals.items():
                task = progress.add_task(label, total=total)
                done[label] = 0
                for seen, changed in _reseal_steps(hub, label, batch_size):
                    done[label] += changed
                    progress.advance(task, seen)
        _audit(hub, ring, "change.keys", detail={"resealed": done})
    except HubError as exc:
        fail(exc)
    hub.close()
    summary = ", ".join(f"{n} {label}" for label, n in done.items())
    console.print(f"[green]✓[/] re-sealed {summary or 'nothing'}; every restricted value is "
                  "now padded", highlight=False)


def _reseal_totals(conn: Connection, hub: Hub) -> dict[str, int]:
    from sqlalchemy import func, select

    from hub.canonical import ENTITIES, MODELS
    from hub.store import bulk
    from hub.store.matching_tables import GoldenMerge
    from hub.store.tables import Quarantine, RecordHistory

    totals: dict[str, int] = {}
    h, q = bulk.table_of(RecordHistory), bulk.table_of(Quarantine)
    m = bulk.table_of(GoldenMerge)
    for entity in ENTITIES:
        if not (hub.sealer.builtin.get(entity) or hub.sealer.custom.get(entity)):
            continue
        t = bulk.table_of(MODELS[entity])
        totals[f"{entity} records"] = conn.execute(select(func.count()).select_from(t)
                                                   ).scalar_one()
        totals[f"{entity} history"] = conn.execute(
            select(func.count()).select_from(h).where(h.c.entity == entity)).scalar_one()
        totals[f"{entity} merge snapshots"] = conn.execute(
            select(func.count()).select_from(m).where(m.c.entity == entity)).scalar_one()
    totals["quarantined records"] = conn.execute(
        select(func.count()).select_from(q).where(q.c.payload.is_not(None))).scalar_one()
    return totals


def _reseal_steps(hub: Hub, label: str, batch_size: int) -> Any:
    """(rows seen, rows rewritten) per batch of one part of the store."""
    from sqlalchemy import select

    from hub.canonical import MODELS
    from hub.golden.writer import GoldenWriter
    from hub.store import bulk
    from hub.store.tables import RecordHistory

    entity, _, part = label.partition(" ")
    if entity == "quarantined":
        yield from _reseal_quarantine(hub, batch_size)
        return
    if part == "merge snapshots":
        yield from _reseal_merges(hub, entity, batch_size)
        return
    writer = GoldenWriter(hub.deployment, hub.sealer, entity)
    table = bulk.table_of(RecordHistory if part == "history" else MODELS[entity])
    last: Any = "" if part == "records" else 0
    while True:
        with hub.engine.begin() as conn:
            writer.lock(conn)  # no writer changes a value between our read and our write
            query = select(table).where(table.c.id > last)
            if part == "history":
                query = query.where(table.c.entity == entity)
            rows = [dict(r._mapping) for r in conn.execute(
                query.order_by(table.c.id).limit(batch_size))]
            if not rows:
                return
            if part == "history":
                changed = writer.reseal(conn, [], history=rows)[1]
            else:
                changed = writer.reseal(conn, rows)[0]
        last = rows[-1]["id"]
        yield len(rows), changed


def _reseal_merges(hub: Hub, entity: str, batch_size: int) -> Any:
    """The golden rows a merge keeps for its unmerge, sealed like golden rows."""
    from sqlalchemy import select

    from hub.store import bulk
    from hub.store.matching_tables import GoldenMerge

    m = bulk.table_of(GoldenMerge)
    last = 0
    while True:
        with hub.engine.begin() as conn:
            bulk.lock_entity(conn, entity)
            rows = conn.execute(select(m.c.id, m.c.survivor_row, m.c.merged_row).where(
                m.c.entity == entity, m.c.id > last).order_by(m.c.id).limit(batch_size)).all()
            if not rows:
                return
            changed = 0
            for row in rows:
                snaps = [{**snap, "custom": dict(snap.get("custom") or {}),
                          "provenance": dict(snap.get("provenance") or {})}
                         for snap in (row.survivor_row, row.merged_row)]
                if hub.sealer.reseal(conn, entity, snaps, "id", lambda r: (r, r.get("custom"))):
                    conn.execute(m.update().where(m.c.id == row.id).values(
                        survivor_row=snaps[0], merged_row=snaps[1]))
                    changed += 1
        last = rows[-1].id
        yield len(rows), changed


def _reseal_quarantine(hub: Hub, batch_size: int) -> Any:
    from sqlalchemy import select

    from hub.store import bulk
    from hub.store.tables import Quarantine

    q = bulk.table_of(Quarantine)
    last = 0
    while True:
        with hub.engine.begin() as conn:
            rows = conn.execute(select(q.c.id, q.c.payload).where(
                q.c.id > last, q.c.payload.is_not(None)).order_by(q.c.id).limit(batch_size)
            ).all()
            if not rows:
                return
            changed = 0
            for row in rows:
                payload = hub.sealer.reseal_payload(row.payload)
                if payload is not None:
                    conn.execute(q.update().where(q.c.id == row.id).values(payload=payload))
                    changed += 1
        last = rows[-1].id
        yield len(rows), changed
