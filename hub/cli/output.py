"""Shared CLI output: one console, JSON for scripts, problems in plain words."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from hub.errors import ConfigError, HubError, KeyringError

if TYPE_CHECKING:
    from hub.context import Hub
from hub.records import json_default


def _console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr)
    # Piped or captured, Rich would assume 80 columns; COLUMNS set says how many there are.
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console.width = max(console.width, 120)
    return console


console = _console()
err_console = _console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=json_default, indent=2, ensure_ascii=False))
    sys.stdout.write("\n")


def fail(error: HubError | str, *, code: int = 1) -> NoReturn:
    """Print an error without a traceback (tracebacks may carry values) and exit."""
    if isinstance(error, KeyringError):  # one line: the keyring or master key is the problem
        err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False,
                          soft_wrap=True)
    elif isinstance(error, ConfigError):
        err_console.print(f"[bold red]{len(error.problems)} configuration problem(s):[/]")
        for p in error.problems:
            err_console.print(f"  [red]✗[/] {escape(str(p))}", highlight=False, soft_wrap=True)
    else:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False,
                          soft_wrap=True)
    raise typer.Exit(code)


def open_hub_or_fail(ctx: typer.Context, *, migrate: bool = True) -> Hub:
    """The deployment named by ``--config`` (sub-commands inherit it), opened; a plain
    error and exit 1 when it cannot be."""
    from hub.context import open_hub
    from hub.store.db import check_keyring_opens

    try:
        hub = open_hub((ctx.obj or {}).get("config"), migrate=migrate)
        check_keyring_opens(hub.engine, hub.sealer.envelope)  # the wrong keyring: say so now
    except HubError as exc:
        fail(exc)
    return hub
