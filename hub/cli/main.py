"""``kontor``: set up a deployment, check it, sync it, serve the API."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from hub import logs
from hub.cli.output import fail
from hub.errors import HubError

#: Every command, loaded only when it runs: ``kontor --help`` and a command's own --help
#: answer without importing SQLAlchemy, pandas or FastAPI. name -> (module, attribute, the
#: summary ``kontor --help`` shows; tests/test_cli_startup.py keeps it equal to the first
#: paragraph of the command's own help). An attribute ending in ``app`` is a command group.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("scaffold_cmd", "init",
             "Write a commented starter deployment (one CSV source, one CSV target)."),
    "demo": ("scaffold_cmd", "demo", ("Write a demo back office: CRM (CSV), HR (XML), billing "
             "(SQLite) -> payroll, newsletter.")),
    "check": ("check_cmd", "check",
              "Validate kontor.yaml and its mappings, then try every system's connection."),
    "sync": ("sync_cmd", "sync", ("Read every inbound stream into the master store, then push "
             "to every outbound stream.")),
    "plan": ("plan_cmd", "plan",
             ("Show what a sync would change in every target — new records, changed fields "
             "old → new (restricted values never shown) — without writing anything anywhere.")),
    "apply": ("plan_cmd", "apply",
              "Apply exactly that plan: refuses when the sources or the store moved on since."),
    "status": ("status_cmd", "status",
               "Golden-record counts, the last run, and open quarantine per system."),
    "runs": ("status_cmd", "runs_app",
             "Sync runs: when, who started them, status, and counts per stream."),
    "connectors": ("status_cmd", "connectors", "Installed connectors and their capabilities."),
    "discover": ("discover_cmd", "discover", ("Print the fields SYSTEM offers (types, canonical "
                 "guesses) and write a starter mapping.")),
    "quarantine": ("quarantine_cmd", "app",
                   "Records a sync refused: list, show, retry after a fix, discard."),
    "steward": ("steward_cmd", "app", ("Review possible duplicates, merge and unmerge golden "
                "records, override single fields.")),
    "quality": ("quality_cmd", "quality", ("Completeness, invalid values, duplicates and "
                "cross-system conflicts, per field.")),
    "dedupe": ("quality_cmd", "dedupe",
               "Duplicate clusters inside one source, by the matching rules; writes nothing."),
    "matching": ("matching_cmd", "app", ("Train the matching model without labels; measure "
                 "it against known pairs.")),
    "serve": ("serve_cmd", "serve", ("Serve the REST API (OpenAPI docs at /docs), run the "
              "scheduled sync jobs, and deliver changes to their targets as they happen.")),
    "tokens": ("tokens_cmd", "app",
               "API tokens: create (shown once), list with last use, revoke."),
    "policy": ("policy_cmd", "app", "Simulate, explain and test the privacy policies."),
    "keys": ("keys_cmd", "app", ("Master keys: init, rotate, destination keys, forget a "
             "subject, re-seal a store.")),
    "audit": ("audit_cmd", "app",
              "The audit trail: verify, checkpoints, trace, search, export."),
    "outbox": ("outbox_cmd", "app", "Deliveries waiting in the outbox, and dead letters."),
}


def load_command(name: str) -> Any:  # a Typer command or group (Typer's vendored click)
    """Import a command's module and build its click command, as Typer would."""
    module_name, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(f"hub.cli.{module_name}"), attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return group
    # No --install-completion on every command: the completion is `kontor`'s own.
    single = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    single.command(name)(target)
    return typer.main.get_command(single)


#: Every file Kontor creates (store, WAL, exports, reports, plans, logs, keyring) is 0600.
PRIVATE_UMASK = 0o077


class KontorGroup(TyperGroup):
    """The command tree, its commands loaded on first use (see ``COMMANDS``).

    A ``HubError`` escaping any command (a wrong keyring found deep inside a sync, say),
    or a master store that fails, becomes one plain error line and exit 1, never a
    traceback.
    """

    _summaries_only = False  # while `kontor --help` lists the commands

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        if self._summaries_only:  # the listing needs a line of help, not the command
            summary = COMMANDS[cmd_name][2]
            return TyperCommand(cmd_name, help=summary, short_help=summary)
        self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._summaries_only = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._summaries_only = False

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except HubError as exc:
            fail(exc)
        except Exception as exc:
            # --help and every exit pass here too: without SQLAlchemy loaded, no store failed.
            if "sqlalchemy" not in sys.modules:
                raise
            from hub.store.health import is_store_failure, store_unavailable

            # The store went away (or turned read-only, or filled up) in mid-command.
            if not is_store_failure(exc):
                raise
            fail(store_unavailable(exc))  # type: ignore[arg-type]


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
