"""``kontor keys``: create, rotate and use the master keys; crypto-shred a subject."""

from __future__ import annotations

import base64
import getpass
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from hub import config
from hub.audit.record import AuditLog
from hub.cli.output import console, fail
from hub.context import Hub, open_hub
from hub.errors import HubError
from hub.store import rekey
from policies import keys
from policies.envelope import Envelope

app = typer.Typer(help="Master keys: init, rotate, destination keys, forget a subject.",
                  no_args_is_help=True)


def _config(ctx: typer.Context) -> Path | None:
    return ctx.parent.obj["config"] if ctx.parent else None


def _audit(hub: Hub, ring: keys.Keyring, kind: str, **fields: Any) -> None:
    log = AuditLog(ring, f"cli:{getpass.getuser()}")
    with hub.engine.begin() as conn:
        log.add(kind, "done", **fields)
        log.flush(conn)


@app.command("init")
def init(ctx: typer.Context) -> None:
    """Create the keyring with a fresh random master key (refuses to overwrite one)."""
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
