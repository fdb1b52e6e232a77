"""``kontor discover SYSTEM``: the fields a system offers, and a starter mapping for them.

Sample values are personal data more often than not, so they are shown only with
``--samples``, and never for fields guessed to hold a restricted category.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from connectors.base import Capability, Connector, StreamSpec
from hub import canonical, config
from hub.cli.mapping_guess import guess_fields, starter_mapping
from hub.cli.output import console, fail, print_json
from hub.errors import ConnectorError, HubError

SAMPLE_ROWS = 50  # records read for --samples
SAMPLES_PER_FIELD = 3


def _spec(system: config.System, stream: str | None, resource: str | None) -> StreamSpec | None:
    if stream is not None:
        found = next((s for s in system.streams if s.name == stream), None)
        if found is None:
            fail(f"system {system.name!r} has no stream {stream!r}; configured: "
                 f"{', '.join(s.name for s in system.streams) or 'none'}")
        return found.spec
    return StreamSpec(resource, ()) if resource else None


def _samples(connector: Connector, spec: StreamSpec) -> dict[str, list[str]]:
    """Up to three distinct non-empty values per field, from the first records."""
    seen: dict[str, list[str]] = {}
    for batch in connector.read(spec, batch_size=SAMPLE_ROWS):
        for record in batch.records:
            for name, value in record.data.items():
                text = "" if value is None else str(value)
                values = seen.setdefault(name, [])
                if text and text not in values and len(values) < SAMPLES_PER_FIELD:
                    values.append(text[:40])
        break  # the first batch is enough
    return seen


def _describe(connector: Connector, spec: StreamSpec | None, entity: str,
              samples: bool) -> list[dict[str, Any]]:
    fields = canonical.builtin_fields(entity)
    streams = connector.discover(spec)
    for entry in streams:
        columns = [f["name"] for f in entry["fields"]]
        guesses = guess_fields(columns, fields)
        shown = _samples(connector, StreamSpec(entry["resource"], tuple(entry.get("key") or ()))
                         ) if samples else {}
        for field in entry["fields"]:
            guess = guesses.get(field["name"])
            field["guess"] = guess
            if samples:
                withheld = guess is not None and fields[guess].restricted
                field["samples"] = None if withheld else shown.get(field["name"], [])
    return streams


def discover(
    ctx: typer.Context,
    system_name: Annotated[str, typer.Argument(metavar="SYSTEM", help="A system of kontor.yaml.")],
    stream: Annotated[str | None, typer.Option(
        "--stream", help="A configured stream of the system (its resource and key).")] = None,
    resource: Annotated[str | None, typer.Option(
        "--resource", help="A file, table or endpoint not configured yet.")] = None,
    entity: Annotated[Literal["customer", "employee"] | None, typer.Option(
        help="Entity for the guesses (default: the stream's, else customer).")] = None,
    write_mapping: Annotated[Path | None, typer.Option(
        "--write-mapping", help="Write a starter mapping file here (one stream only).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing mapping file.")] = False,
    samples: Annotated[bool, typer.Option(
        help="Show a few sample values per field (personal data: off by default).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Print the fields SYSTEM offers (types, canonical guesses) and write a starter mapping."""
    if stream and resource:
        fail("give --stream or --resource, not both")
    try:
        deployment = config.load(ctx.obj["config"])
    except HubError as exc:
        fail(exc)
    system = deployment.systems.get(system_name)
    if system is None:
        fail(f"no system {system_name!r} in {deployment.path}; configured: "
             f"{', '.join(deployment.systems) or 'none'}")
    if Capability.DISCOVER not in system.connector_cls.capabilities:
        fail(f"connector {system.config.connector!r} of {system_name!r} cannot discover")
    spec = _spec(system, stream, resource)
    configured = next((s for s in system.streams if s.name == stream), None)
    chosen = entity or (configured.entity if configured else "customer")
    try:
        with system.connect(deployment.base_dir) as connector:
            found = _describe(connector, spec, chosen, samples)
    except (ConnectorError, NotImplementedError) as exc:
        fail(f"{system_name}: discover failed: {exc}")
    if write_mapping is not None:
        _write(write_mapping, found, chosen, system_name, force)
    if as_json:
        print_json({"system": system_name, "entity": chosen, "streams": found})
        return
    for entry in found:
        _print(entry, samples)
    if write_mapping is not None:
        console.print(f"Starter mapping written to {escape(str(write_mapping))}: review every "
                      "guess, then run `kontor check`.", highlight=False)


def _write(path: Path, found: list[dict[str, Any]], entity: str, system: str,
           force: bool) -> None:
    if len(found) != 1:
        fail(f"--write-mapping needs exactly one stream; found {len(found)} "
             "(choose one with --stream or --resource)")
    if path.exists() and not force:
        fail(f"{path} exists; use --force to overwrite it")
    entry = found[0]
    text = starter_mapping(entity, [f["name"] for f in entry["fields"]],
                           canonical.builtin_fields(entity),
                           source=f"{system} {entry['resource']}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _print(entry: dict[str, Any], samples: bool) -> None:
    key = ", ".join(entry.get("key") or []) or "-"
    table = Table(title=f"{entry['resource']} (key: {key})", title_justify="left")
    for column in ("field", "type", "canonical guess") + (("samples",) if samples else ()):
        table.add_column(column)
    for field in entry["fields"]:
        row = [escape(field["name"]), escape(field["type"]), field["guess"] or ""]
        if samples:
            values = field["samples"]
            row.append("(withheld: restricted category)" if values is None
                       else escape(", ".join(values)))
        table.add_row(*row)
    console.print(table)
