"""``kontor init`` and ``kontor demo``: write a deployment folder to start from."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.output import console, fail

TEMPLATE = Path(__file__).resolve().parent.parent / "init_template"


def _refuse_existing(target: Path, force: bool) -> None:
    if (target / "kontor.yaml").exists() and not force:
        fail(f"{target / 'kontor.yaml'} exists; use --force to overwrite")


def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new deployment.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing kontor.yaml.")] = False,
) -> None:
    """Write a commented starter deployment (one CSV source, one CSV target)."""
    from policies import keys

    _refuse_existing(directory, force)
    shutil.copytree(TEMPLATE, directory, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (directory / "data" / "target").mkdir(parents=True, exist_ok=True)
    keyring = directory / ".kontor" / "keyring.json"
    if not keyring.exists():
        keys.create(keyring)  # a fresh master key; the store's restricted fields need it
    (directory / ".gitignore").write_text("# never commit keys or the store\n.kontor/\n"
                                          "kontor.db*\n", encoding="utf-8")
    console.print(f"[green]✓[/] starter deployment in {directory}\n"
                  f"  next: cd {directory} && kontor check && kontor sync", highlight=False)


def demo(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo deployment.")],
    customers: Annotated[int, typer.Option(min=10, help="CRM customers to generate.")] = 2000,
    employees: Annotated[int, typer.Option(min=10, help="HR employees to generate.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 1234,
    force: Annotated[bool, typer.Option(help="Overwrite an existing demo.")] = False,
) -> None:
    """Write a demo back office: CRM (CSV), HR (XML), billing (SQLite) -> payroll, newsletter."""
    from hub.demo import write_demo

    _refuse_existing(directory, force)
    summary = write_demo(directory, customers=customers, employees=employees, seed=seed,
                         overwrite=force)
    console.print(f"[green]✓[/] demo deployment in {directory}", highlight=False)
    console.print(f"  CRM {summary.customers} customers (CSV, cp1252), billing "
                  f"{summary.billing_customers} customers (SQLite, {summary.billing_overlap} "
                  f"also in the CRM), HR {summary.employees} employees (XML)", highlight=False)
    console.print(f"  {len(summary.dirty)} dirty records on purpose; the sync quarantines them:",
                  highlight=False)
    for line in summary.dirty:
        console.print(f"    - {line}", highlight=False, markup=False)
    console.print(f"  next: cd {directory} && kontor check && kontor sync", highlight=False)
