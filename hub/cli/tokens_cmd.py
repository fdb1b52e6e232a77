"""``kontor tokens``: create, list and revoke API tokens."""

from __future__ import annotations

import enum
import getpass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli.output import console, fail, open_hub_or_fail, print_json

if TYPE_CHECKING:
    from hub.context import Hub


class RoleName(str, enum.Enum):
    """The values of ``hub.auth.roles.Role``, for the option's choices: that module pulls in
    the privacy gate (and its cryptography), which ``kontor tokens --help`` does not need.
    tests/test_cli_startup.py keeps the two equal."""

    ADMIN = "admin"
    STEWARD = "steward"
    AUDITOR = "auditor"
    OPERATOR = "operator"
    READER = "reader"
    SYSTEM = "system"

app = typer.Typer(help="API tokens: create (shown once), list with last use, revoke.",
                  no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _audit(hub: Hub, what: str, token_id: int, detail: dict[str, Any]) -> None:
    """Token changes are changes of who may see what: into the trail (never the token)."""
    from hub.audit.record import AuditLog

    log = AuditLog(hub.sealer.envelope.keyring, f"cli:{getpass.getuser()}")
    with hub.engine.begin() as conn:
        log.add("change.token", what, detail={"token_id": token_id, **detail})
        log.flush(conn)



@app.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[RoleName, typer.Option(help="What the token may do.")],
    expires: Annotated[str, typer.Option(help="Lifetime: e.g. 90d, 12h, 4w.")] = "90d",
    name: Annotated[str | None, typer.Option(help="Who or what uses it (default: the role).")
                    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token; it is shown this once and stored only as a hash."""
    from hub.auth import tokens
    from hub.auth.roles import Role
    from hub.errors import HubError

    try:
        lifetime = tokens.parse_duration(expires)
    except HubError as exc:
        fail(exc, code=2)
    hub = open_hub_or_fail(ctx)
    created = tokens.create(hub.engine, role=Role(role.value), expires_in=lifetime,
                            name=name or role.value)
    _audit(hub, "created", created.id, {"role": role.value, "name": name or role.value,
                                        "expires_at": created.expires_at.isoformat()})
    hub.close()
    if as_json:
        print_json({"id": created.id, "role": role.value, "token": created.token,
                    "expires_at": created.expires_at})
        return
    console.print(f"Token {created.id} ({role.value}), valid until "
                  f"{created.expires_at:%Y-%m-%d %H:%M} UTC:", highlight=False)
    console.print(created.token, highlight=False, soft_wrap=True)
    console.print("[yellow]Copy it now: Kontor keeps only its hash and cannot show it again.[/]")


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every token with its role, state and last use."""
    from rich.table import Table

    from hub.auth import tokens

    hub = open_hub_or_fail(ctx)
    rows = tokens.list_tokens(hub.engine)
    hub.close()
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"API tokens ({len(rows)})")
    for col in ("id", "name", "role", "starts with", "state", "expires", "last used"):
        table.add_column(col)
    for r in rows:
        last = r["last_used_at"]
        table.add_row(str(r["id"]), r["name"], r["role"], r["hint"] + "…", r["state"],
                      f"{r['expires_at']:%Y-%m-%d}",
                      f"{last:%Y-%m-%d %H:%M}" if last else "never")
    console.print(table)


@app.command("revoke")
def revoke(ctx: typer.Context,
           token_id: Annotated[int, typer.Argument(metavar="ID", help="Token id (see list).")]
           ) -> None:
    """Revoke a token: requests with it are refused from now on."""
    from hub.auth import tokens
    from hub.errors import HubError

    hub = open_hub_or_fail(ctx)
    try:
        tokens.revoke(hub.engine, token_id)
        _audit(hub, "revoked", token_id, {})
    except HubError as exc:
        fail(exc)
    finally:
        hub.close()
    console.print(f"Token {token_id} revoked.")
