"""``kontor quality [SYSTEM]`` and ``kontor dedupe SYSTEM``: reports that write nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli.output import console, err_console, fail, print_json

if TYPE_CHECKING:  # the store, the matcher (numpy) and the report load when a command runs
    from hub.config import Deployment, Stream
    from hub.context import Hub

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _open(ctx: typer.Context) -> Hub:
    with err_console.status("opening the master store…"):
        from hub.context import open_hub
        from hub.errors import HubError

        try:
            return open_hub(ctx.obj["config"])
        except HubError as exc:
            fail(exc)


def quality(
    ctx: typer.Context,
    system: Annotated[str | None, typer.Argument(help="Only this system.")] = None,
    as_json: JsonOpt = False,
    html_file: Annotated[Path | None, typer.Option("--html", help="Also write an HTML page "
                                                   "with charts to this file.")] = None,
) -> None:
    """Completeness, invalid values, duplicates and cross-system conflicts, per field."""
    from rich.table import Table

    from hub.quality.report import quality as build_report

    hub = _open(ctx)
    if system and system not in hub.deployment.systems:
        hub.close()
        fail(f"unknown system {system!r}; configured: {', '.join(hub.deployment.systems)}")
    report = build_report(hub, system)
    hub.close()
    if html_file is not None:
        from hub.web.report_files import quality_page

        html_file.write_text(quality_page(report), encoding="utf-8")
    if as_json:
        print_json(report)
        return
    for name, entities in report["systems"].items():
        for entity, data in entities.items():
            table = Table(title=f"{name} · {entity} ({data['records']} records)")
            for col in ("field", "complete", "invalid", "dropped"):
                table.add_column(col, justify="left" if col == "field" else "right")
            for field, v in data["fields"].items():
                complete = "-" if v["completeness"] is None else f"{v['completeness']:.0%}"
                table.add_row(field, complete, str(v["invalid"] or ""),
                              str(v.get("dropped") or ""))
            console.print(table)
    if report["conflicts"]:
        table = Table(title="Conflicts between systems (golden records)")
        for col in ("field", "systems", "records", "for example"):
            table.add_column(col)
        for c in report["conflicts"]:
            table.add_row(f"{c['entity']}.{c['field']}", ", ".join(c["systems"]),
                          str(c["records"]), ", ".join(c["examples"][:3]))
        console.print(table)
    console.print(f"{len(report['duplicate_clusters'])} possible duplicate cluster(s) waiting "
                  "for review (kontor steward review)", highlight=False)
    if html_file is not None:
        console.print(f"HTML report: {html_file}", highlight=False)


def _records(deployment: Deployment, stream: Stream, problems: list[str]
             ) -> list[tuple[str, dict[str, Any]]]:
    """Every record of ``stream``, mapped; unmappable ones only counted (by location)."""
    from hub.errors import MappingError

    out: list[tuple[str, dict[str, Any]]] = []
    system = deployment.systems[stream.system]
    with system.connect(deployment.base_dir) as connector:
        for batch in connector.read(stream.spec, since=None,
                                    batch_size=deployment.config.batch_size):
            problems += [p.location or "?" for p in batch.problems]
            for rec in batch.records:
                key = "|".join(str(rec.data.get(k) or "").strip() for k in stream.spec.key)
                try:
                    values, _ = stream.mapping.inbound(rec.data)
                except MappingError:
                    problems.append(rec.location)
                    continue
                out.append((key, values))
    return out


def dedupe(
    ctx: typer.Context,
    system: Annotated[str, typer.Argument(help="The system whose records to check.")],
    as_json: JsonOpt = False,
) -> None:
    """Duplicate clusters inside one source, by the matching rules; writes nothing."""
    from rich.table import Table

    from hub.errors import ConnectorError
    from hub.matching import settings as mm
    from hub.matching.dedupe import clusters

    hub = _open(ctx)
    deployment = hub.deployment
    hub.close()
    streams = [s for s in deployment.streams("inbound", [system])]
    if not streams:
        fail(f"{system!r} has no inbound stream (configured: "
             f"{', '.join(deployment.systems)})")
    results: list[dict[str, Any]] = []
    for stream in streams:
        problems: list[str] = []
        try:
            records = _records(deployment, stream, problems)
        except ConnectorError as exc:
            fail(f"{stream.label}: {exc}")
        cfg = mm.matching_for(deployment.config, stream.entity)
        found = clusters(stream.entity, records, cfg.fuzzy,
                         mm.rules_for(deployment.config, stream.entity))
        results.append({"stream": stream.label, "records": len(records),
                        "unreadable": len(problems),
                        "clusters": [{"keys": c.keys, "best": round(c.best, 4),
                                      "weakest": round(c.weakest, 4), "evidence": c.evidence}
                                     for c in found]})
    if as_json:
        print_json(results)
        return
    for r in results:
        table = Table(title=f"{r['stream']}: {len(r['clusters'])} duplicate cluster(s) in "
                            f"{r['records']} records" + (f" ({r['unreadable']} unreadable)"
                                                         if r["unreadable"] else ""))
        for col in ("records (keys)", "score", "evidence"):
            table.add_column(col)
        for c in r["clusters"]:
            table.add_row(", ".join(c["keys"]), f"{c['best']:.2f}",
                          ", ".join(f"{k} {v}" for k, v in c["evidence"].items()))
        console.print(table)
