"""``kontor check``: validate the deployment and try every system's connection.

The configuration, the store and the connectors are imported when the check runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.cli.output import console, err_console, print_json

if TYPE_CHECKING:
    from connectors.base import Connector
    from hub import config
    from mappings.spec import FieldMap
    from policies.keys import Keyring

#: Connectors whose ``discover`` gives the source's declared columns (a header, a layout,
#: a table), not those seen in a sample: a mapped column missing there is a problem. For
#: the others it is a warning, since the sample may simply not hold the column.
DECLARED_COLUMNS = frozenset({"csv", "fixedwidth", "sql"})


def check(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Validate kontor.yaml and its mappings, then try every system's connection.

    Exits 1 listing every problem, each with its file, key path and what is wrong.
    """
    with err_console.status("reading the configuration…"):
        from hub import config
        from hub.errors import ConfigError, ConnectorError, HubError
        from hub.sync.drift import unknown_columns

    problems: list[dict[str, str]] = []
    results: list[dict[str, str]] = []
    drift: dict[str, list[str]] = {}  # stream -> source columns its mapping ignores
    warnings: list[dict[str, str]] = []
    try:
        deployment = config.load(ctx.obj["config"])
    except ConfigError as exc:
        problems = [{"file": p.file, "path": p.path, "problem": p.message} for p in exc.problems]
        deployment = None
    if deployment is not None:
        keyring = None
        try:
            keyring = deployment.keyring()
        except ConfigError as exc:
            problems += [{"file": p.file, "path": p.path, "problem": p.message}
                         for p in exc.problems]
        warnings += retired_settings(deployment)
        store = check_store(deployment, keyring)
        results.append(store)
        if store["status"] != "ok":
            problems.append({"file": str(deployment.path), "path": "database",
                             "problem": store["detail"]})
        for name, system in deployment.systems.items():
            try:
                with system.connect(deployment.base_dir) as connector:
                    connector.check()
                    drift.update(unknown_columns(system, connector))
                    problems += mapped_columns(system, connector, warnings)
                    problems += unwritable_columns(system, connector)
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
                    "unknown_columns": drift, "warnings": warnings})
    else:
        _show(results, problems, drift, warnings)
    if problems:
        raise typer.Exit(1)


def check_store(deployment: config.Deployment, keyring: Keyring | None) -> dict[str, str]:
    """The master store as a line of the systems table: reachable, writable, its schema
    one this Kontor knows, and (with a keyring) sealed under this deployment's keys."""
    from sqlalchemy.engine import make_url

    from hub.errors import HubError
    from hub.store.db import check_keyring_opens, make_engine, safe_url
    from hub.store.health import probe
    from hub.store.sealing import Sealer

    try:
        engine = make_engine(deployment.database_url)
    except HubError as exc:  # e.g. PostgreSQL without the postgres extra
        return {"system": "master store",
                "connector": make_url(deployment.database_url).get_backend_name(),
                "status": "failed", "detail": str(exc)}
    row = {"system": "master store", "connector": engine.dialect.name, "status": "ok",
           "detail": ""}
    try:
        health = probe(engine)
        if health.revision is not None and not health.known:
            row["status"], row["detail"] = "failed", (
                f"the store's schema ({health.revision}) is newer than this Kontor "
                f"knows ({health.head}): upgrade Kontor")
        elif not health.writable:
            row["status"], row["detail"] = "failed", (
                f"the master store ({safe_url(deployment.database_url)}) is read-only: "
                "a sync could not write to it")
        elif keyring is not None:
            check_keyring_opens(engine, Sealer(keyring, deployment.fields).envelope)
            row["detail"] = ("new (the first command creates it)" if health.revision is None
                             else "schema current" if health.current
                             else "schema upgraded by the next command")
    except HubError as exc:  # unreachable, or sealed under another keyring
        row["status"], row["detail"] = "failed", str(exc)
    finally:
        engine.dispose()
    return row


def _where(field: str, fm: FieldMap, column: str) -> str:
    """The mapping key that names ``column`` for canonical ``field``."""
    prefix = "updated_at" if field == "updated_at" else f"fields.{field}"
    if column in fm.source_columns:
        return f"{prefix}.{'columns' if fm.columns is not None else 'column'}"
    return f"{prefix}.expr"


def _columns(connector: Connector, stream: config.Stream) -> list[str]:
    found = connector.discover(stream.spec)
    return [str(f["name"]) for entry in found for f in entry.get("fields", [])]


def mapped_columns(system: config.System, connector: Connector,
                   warnings: list[dict[str, str]]) -> list[dict[str, str]]:
    """Problems for mapping columns the system lacks, per its discovered columns.

    Inbound: every column a mapping reads (``column``, ``columns``, names in ``expr``).
    Outbound, where the target declares its columns (a table): every column it writes.
    A source that cannot tell its columns gets a warning instead; a target, nothing.
    """
    from connectors.base import Capability
    from hub.errors import ConnectorError, HubError
    from hub.yamlfile import YamlDocument, load_yaml

    if Capability.DISCOVER not in system.connector_cls.capabilities:
        return []
    declared = system.config.connector in DECLARED_COLUMNS
    problems: list[dict[str, str]] = []
    for stream in system.streams:
        inbound = stream.config.direction == "inbound"
        if not inbound and not declared:
            continue
        try:
            available = _columns(connector, stream)
        except (ConnectorError, HubError, NotImplementedError, OSError) as exc:
            if inbound:
                warnings.append({"stream": stream.label,
                                 "warning": f"mapped columns not checked: cannot read the "
                                            f"columns of {stream.spec.resource} ({exc})"})
            continue
        if not available:
            continue  # an empty drop folder, an empty sample: nothing to compare with
        doc: YamlDocument | None = None
        listing = ", ".join(available)
        for field, key_path, column in _mapping_columns(stream, inbound):
            if column in available:
                continue
            if doc is None:
                doc = load_yaml(Path(stream.mapping.source))
            message = (f"column {column!r} is not in {stream.spec.resource} "
                       f"(columns: {listing})")
            if declared:
                problems.append({"file": doc.where(key_path), "path": key_path,
                                 "problem": message})
            else:
                warnings.append({"stream": stream.label, "warning": f"{doc.where(key_path)}: "
                                 f"{key_path}: {message}, in the records sampled"})
    return problems


def retired_settings(deployment: config.Deployment) -> list[dict[str, str]]:
    """Settings still accepted (old files load) but no longer read: say so, not ignore."""
    return [{"stream": f"matching.{entity}",
             "warning": "fuzzy.max_candidates is no longer used: every record sharing a "
                        "blocking key is compared, so the result does not depend on arrival "
                        "order; fuzzy.max_block bounds the work"}
            for entity, settings in deployment.config.matching.items()
            if settings.fuzzy.max_candidates is not None]


def unwritable_columns(system: config.System, connector: Connector) -> list[dict[str, str]]:
    """Target columns a connector cannot write under their names (an XML target needs
    XML names), at their place in the mapping: found by `check`, not by the first run."""
    from hub.yamlfile import load_yaml

    refuse = getattr(connector, "refused_fields", None)
    if refuse is None:
        return []
    problems: list[dict[str, str]] = []
    for stream in system.streams:
        if stream.config.direction != "outbound":
            continue
        columns = _mapping_columns(stream, False)
        names = [c for _, _, c in columns] + list(stream.spec.key)
        if not (messages := refuse(names)):
            continue
        doc = load_yaml(Path(stream.mapping.source))
        for message in messages:
            # the message quotes the column; point at the mapping key that names it
            key_path = next((k for _, k, c in columns if repr(c) in message or
                             f"'{c}'" in message), "")
            problems.append({"file": doc.where(key_path) if key_path else stream.mapping.source,
                             "path": key_path or f"systems.{system.name}.streams."
                                                 f"{stream.name}", "problem": message})
    return problems


def _mapping_columns(stream: config.Stream, inbound: bool) -> list[tuple[str, str, str]]:
    """(canonical field, mapping key path, column) for every column the stream touches."""
    mapping, spec = stream.mapping, stream.mapping.spec
    found: list[tuple[str, str, str]] = []
    if inbound:
        maps = {**spec.fields, **({"updated_at": spec.updated_at} if spec.updated_at else {})}
        for column in sorted(mapping.columns):
            for field in sorted(mapping.fields_of_column(column)):
                if field in maps:
                    found.append((field, _where(field, maps[field], column), column))
        return found
    for field, fm in spec.fields.items():
        if fm.expr is None:
            for column in fm.source_columns:
                found.append((field, _where(field, fm, column), column))
    found += [("", f"computed.{column}", column) for column in spec.computed]
    return found


def _show(results: list[dict[str, str]], problems: list[dict[str, str]],
          drift: dict[str, list[str]] | None = None,
          warnings: list[dict[str, str]] | None = None) -> None:
    from rich.table import Table

    if results:
        table = Table(title="Systems")
        for col in ("system", "connector", "status", "detail"):
            table.add_column(col)
        for r in results:
            colour = "green" if r["status"] == "ok" else "red"
            detail = r["detail"] if r["status"] == "ok" else "see below"
            table.add_row(r["system"], r["connector"], f"[{colour}]{r['status']}[/]", detail)
        console.print(table)
    for stream, columns in (drift or {}).items():
        console.print(f"[yellow]! {stream}: columns the mapping does not know (dropped, "
                      f"never passed on):[/] {', '.join(columns)}", highlight=False)
    for w in warnings or []:
        console.print(f"[yellow]! {w['stream']}:[/] {w['warning']}", highlight=False,
                      soft_wrap=True)
    if problems:
        err_console.print(f"[bold red]{len(problems)} problem(s):[/]")
        for p in problems:
            where = f"{p['file']}: {p['path']}" if p["path"] else p["file"]
            err_console.print(f"  ✗ {where}: {p['problem']}", markup=False, highlight=False,
                              soft_wrap=True)
    else:
        console.print("[green]✓ configuration valid, the master store and every system "
                      "reachable[/]")
