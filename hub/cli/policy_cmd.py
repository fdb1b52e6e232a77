"""``kontor policy simulate|explain|test``: the compliance officer's view of the gate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli.output import console, err_console, fail, print_json

if TYPE_CHECKING:
    from hub.context import Hub

app = typer.Typer(help="Simulate, explain and test the privacy policies.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _open(ctx: typer.Context, **options: Any) -> Hub:
    with err_console.status("opening the deployment…"):
        from hub.context import open_hub
        from hub.errors import HubError

        try:
            return open_hub(ctx.parent.obj["config"] if ctx.parent else None, **options)
        except HubError as exc:
            fail(exc)


@app.command("simulate")
def simulate_cmd(
    ctx: typer.Context,
    system: Annotated[str, typer.Option(help="A system, system.stream, or api:<role>.")],
    customer: Annotated[str | None, typer.Option(help="Golden customer id, e.g. C-1001.")] = None,
    employee: Annotated[str | None, typer.Option(help="Golden employee id, e.g. E-1001.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Field by field: what SYSTEM would receive of one record, in what form, and why."""
    if bool(customer) == bool(employee):
        fail("give exactly one of --customer or --employee")
    entity, golden_id = ("customer", customer) if customer else ("employee", employee)
    from rich.table import Table

    from hub.store import goldens
    from policies import simulate as sim

    hub = _open(ctx)
    deployment = hub.deployment
    specs = deployment.fields[entity]
    targets: list[tuple[str, str | None, list[str]]]
    if system.startswith("api:"):
        targets = [(system, None, list(specs))]
    else:
        targets = [(s.label, s.config.purpose, s.mapping.canonical_fields)
                   for s in deployment.streams("outbound")
                   if s.entity == entity and system in (s.system, s.label)]
        if not targets:
            fail(f"no outbound {entity} stream matches {system!r}")
    with hub.engine.connect() as conn:
        row = goldens.read(conn, hub.sealer, entity, [str(golden_id)]).get(str(golden_id))
    if row is None:
        fail(f"{entity} {golden_id} not found")
    record = {**{f: row.get(f) for f in specs if not specs[f].custom}, **row["custom"]}
    restricted = {n for n, s in specs.items() if s.restricted}
    gate = deployment.gate()
    report = {name: sim.simulate(gate, entity, record, fields, sim.destination_for(name, purpose),
                                 str(golden_id), restricted)
              for name, purpose, fields in targets}
    hub.close()
    if as_json:
        print_json({"policy_version": gate.version, "record": golden_id, "destinations": report})
        return
    for name, rows in report.items():
        table = Table(title=f"{golden_id} → {name}  (policy {gate.version})")
        for col in ("field", "category", "action", "rule", "legal basis", "sent"):
            table.add_column(col)
        for r in rows:
            colour = "red" if r["action"] == "deny" else ("green" if r["action"] == "allow"
                                                          else "yellow")
            table.add_row(r["field"], r["category"], f"[{colour}]{r['action']}[/]", r["rule"],
                          r["legal_basis"] or "", r["sent"])
        console.print(table)


@app.command("explain")
def explain_cmd(
    ctx: typer.Context,
    field: Annotated[str, typer.Argument(help="Canonical or custom field, e.g. iban.")],
    destination: Annotated[str, typer.Argument(help="system.stream, system or api:<role>.")],
    entity: Annotated[str, typer.Option(help="customer or employee.")] = "employee",
    as_json: JsonOpt = False,
) -> None:
    """Which rules could decide FIELD for DESTINATION, most specific first."""
    from policies import simulate as sim

    hub = _open(ctx)
    purpose = next((s.config.purpose for s in hub.deployment.streams("outbound")
                    if s.label == destination), None)
    info = sim.explain(hub.deployment.gate(), entity, field,
                       sim.destination_for(destination, purpose))
    hub.close()
    if as_json:
        print_json(info)
        return
    console.print(f"{entity}.{field} ({info['category']}) → {destination}", highlight=False)
    for c in info["candidates"]:
        when = f" when {c['when']}" if c["when"] else ""
        console.print(f"  {c['rule']}: {c['action']}{when}", highlight=False, markup=False)
    if not info["candidates"]:
        console.print("  no rule covers it: denied by default")
    else:
        d = info["without_conditions"]
        console.print(f"  decision when no condition holds: {d['action']} ({d['rule']})",
                      highlight=False, markup=False)


@app.command("test")
def test_cmd(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(
        help="Test files (default: policies/tests/*.yaml).")] = None,
) -> None:
    """Run the YAML policy tests; exit 1 when any expectation fails."""
    from hub.errors import HubError
    from policies import simulate as sim

    hub = _open(ctx, migrate=False)
    folder = hub.deployment.base_dir / hub.deployment.config.policies / "tests"
    chosen = files or sorted(folder.glob("*.yaml"))
    if not chosen:
        fail(f"no policy tests in {folder}")
    try:
        results = sim.run_tests(hub.deployment.gate(), chosen)
    except HubError as exc:
        fail(exc)
    failed = [r for r in results if r.failures]
    for r in results:
        mark = "[red]✗[/]" if r.failures else "[green]✓[/]"
        console.print(f"{mark} {r.name}", highlight=False)
        for f in r.failures:
            console.print(f"    {f}", highlight=False, markup=False)
    console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)
