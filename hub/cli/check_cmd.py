"""``kontor check``: validate the deployment and try every system's connection."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hub import config
from hub.cli.output import console, err_console, print_json
from hub.errors import ConfigError, ConnectorError, HubError
from hub.sync.drift import unknown_columns


def check(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Validate kontor.yaml and its mappings, then try every system's connection.

    Exits 1 listing every problem, each with its file, key path and what is wrong.
    """
    problems: list[dict[str, str]] = []
    results: list[dict[str, str]] = []
    drift: dict[str, list[str]] = {}  # stream -> source columns its mapping ignores
    try:
        deployment = config.load(ctx.obj["config"])
    except ConfigError as exc:
        problems = [{"file": p.file, "path": p.path, "problem": p.message} for p in exc.problems]
        deployment = None
    if deployment is not None:
        try:
            deployment.keyring()
        except ConfigError as exc:
            problems += [{"file": p.file, "path": p.path, "problem": p.message}
                         for p in exc.problems]
        for name, system in deployment.systems.items():
            try:
                with system.connect(deployment.base_dir) as connector:
                    connector.check()
                    drift.update(unknown_columns(system, connector))
                results.append({"system": name, "connector": system.config.connector,
                                "status": "ok", "detail": ""})
            except (ConnectorError, HubError) as exc:
                where = f"{deployment.path}"
                problems.append({"file": where, "path": f"systems.{name}",
                                 "problem": f"connection failed: {exc}"})
                results.append({"system": name, "connector": system.config.connector,
                                "status": "failed", "detail": str(exc)})
    if as_json:
        print_json({"ok": not problems, "systems": results, "problems": problems,
                    "unknown_columns": drift})
    else:
        _show(results, problems, drift)
    if problems:
        raise typer.Exit(1)


def _show(results: list[dict[str, str]], problems: list[dict[str, str]],
          drift: dict[str, list[str]] | None = None) -> None:
    if results:
        table = Table(title="Systems")
        for col in ("system", "connector", "status"):
            table.add_column(col)
        for r in results:
            colour = "green" if r["status"] == "ok" else "red"
            table.add_row(r["system"], r["connector"], f"[{colour}]{r['status']}[/]")
        console.print(table)
    for stream, columns in (drift or {}).items():
        console.print(f"[yellow]! {stream}: columns the mapping does not know (dropped, "
                      f"never passed on):[/] {', '.join(columns)}", highlight=False)
    if problems:
        err_console.print(f"[bold red]{len(problems)} problem(s):[/]")
        for p in problems:
            where = f"{p['file']}: {p['path']}" if p["path"] else p["file"]
            err_console.print(f"  ✗ {where}: {p['problem']}", markup=False, highlight=False,
                              soft_wrap=True)
    else:
        console.print("[green]✓ configuration valid, every system reachable[/]")
