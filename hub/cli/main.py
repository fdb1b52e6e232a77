"""``kontor``: set up a deployment, check it, sync it, serve the API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import DBAPIError
from typer.core import TyperGroup

from hub import logs
from hub.cli import (
    audit_cmd,
    check_cmd,
    discover_cmd,
    keys_cmd,
    outbox_cmd,
    plan_cmd,
    policy_cmd,
    quality_cmd,
    quarantine_cmd,
    scaffold_cmd,
    serve_cmd,
    status_cmd,
    steward_cmd,
    sync_cmd,
    tokens_cmd,
)
from hub.cli.output import fail
from hub.errors import HubError
from hub.store.health import is_store_failure, store_unavailable

#: Every file Kontor creates (store, WAL, exports, reports, plans, logs, keyring) is 0600.
PRIVATE_UMASK = 0o077


class KontorGroup(TyperGroup):
    """The command tree: a ``HubError`` escaping any command (a wrong keyring found deep
    inside a sync, say), or a master store that fails, becomes one plain error line and
    exit 1, never a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context
        try:
            return super().invoke(ctx)
        except HubError as exc:
            fail(exc)
        except DBAPIError as exc:
            # The store went away (or turned read-only, or filled up) in mid-command.
            if not is_store_failure(exc):
                raise
            fail(store_unavailable(exc))


app = typer.Typer(
    cls=KontorGroup,
    name="kontor",
    help="Kontor: keep customer and employee master data in sync across back-office systems, "
         "with field-level privacy on every transfer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # tracebacks with locals could show personal data
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", envvar="KONTOR_CONFIG",
        help="Deployment file (default ./kontor.yaml).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More log output.")] = False,
    log_json: Annotated[bool, typer.Option(
        "--log-json", envvar="KONTOR_LOG_JSON",
        help="Structured JSON log lines (with the run id) instead of Rich output.")] = False,
) -> None:
    os.umask(PRIVATE_UMASK)
    logs.configure(verbose=verbose, json_lines=log_json)
    ctx.obj = {"config": config}


app.command("init")(scaffold_cmd.init)
app.command("demo")(scaffold_cmd.demo)
app.command("check")(check_cmd.check)
app.command("sync")(sync_cmd.sync)
app.command("plan")(plan_cmd.plan)
app.command("apply")(plan_cmd.apply)
app.command("status")(status_cmd.status)
app.command("runs")(status_cmd.runs)
app.command("connectors")(status_cmd.connectors)
app.command("discover")(discover_cmd.discover)
app.add_typer(quarantine_cmd.app, name="quarantine")
app.add_typer(steward_cmd.app, name="steward")
app.command("quality")(quality_cmd.quality)
app.command("dedupe")(quality_cmd.dedupe)
app.command("serve")(serve_cmd.serve)
app.add_typer(tokens_cmd.app, name="tokens")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(outbox_cmd.app, name="outbox")
