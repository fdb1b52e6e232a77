"""``kontor audit``: verify the trail, sign checkpoints, trace a person, search, export."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli.output import console, err_console, fail, open_hub_or_fail, print_json

if TYPE_CHECKING:
    from sqlalchemy import Connection

app = typer.Typer(help="The audit trail: verify, checkpoints, trace, search, export.",
                  no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
COLUMNS = ("seq", "at", "kind", "actor", "source", "destination", "entity", "golden_id",
           "source_key", "purpose", "outcome", "policy_version", "value_hash", "fields")



@app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    checkpoints: Annotated[Path | None, typer.Option(
        help="Checkpoints exported earlier (kept outside the database).")] = None,
    public_key: Annotated[Path | None, typer.Option(
        help="Public keys file (offline verification, without the keyring).")] = None,
    allow_unsigned_tail: Annotated[bool, typer.Option(
        "--allow-unsigned-tail",
        help="Accept any number of entries past the last checkpoint (audit_unsigned_tail "
             "in kontor.yaml sets how many are accepted otherwise).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check every entry and checkpoint; name the first entry or checkpoint that is wrong.

    Exit codes: 0 intact; 1 tampered (an entry or checkpoint changed, deleted, inserted or
    reordered, a truncated trail, a bad signature), or the check could not run; 3 intact,
    but more entries past the last checkpoint than audit_unsigned_tail allows."""
    from hub.audit import signing, verify

    hub = open_hub_or_fail(ctx)
    keys = signing.load_public_keys(public_key) if public_key else \
        signing.public_keys(hub.deployment.keyring())
    external = signing.load_checkpoints(checkpoints) if checkpoints else None
    allowance = None if allow_unsigned_tail else hub.deployment.config.audit_unsigned_tail
    report = verify.verify(hub.engine, keys, external, unsigned_tail_allowance=allowance)
    hub.close()
    if as_json:
        print_json(report.as_dict())
    elif report.ok:
        console.print(f"[green]✓[/] {report.entries} entries and {report.checkpoints} signed "
                      "checkpoints verified", highlight=False)
        for note in report.notes:
            console.print(f"  ! {note}", highlight=False)
    else:
        err_console.print(f"[red]✗ {report.problem}[/]", highlight=False, soft_wrap=True)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


@app.command("checkpoint")
def checkpoint_cmd(ctx: typer.Context) -> None:
    """Sign the trail's current tip now (also when nothing happened: gaps then show)."""
    from hub.audit import signing

    hub = open_hub_or_fail(ctx)
    with hub.engine.begin() as conn:
        row = signing.checkpoint(conn, hub.deployment.keyring())
    hub.close()
    console.print(f"[green]✓[/] checkpoint at entry {row['seq']} signed by {row['key_id']}",
                  highlight=False)


@app.command("export-checkpoints")
def export_checkpoints_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="JSON-lines file to write.")],
    public_key: Annotated[Path | None, typer.Option(
        help="Also write the public keys here, for offline verification.")] = None,
) -> None:
    """Copy the signed checkpoints (and public keys) somewhere the database is not."""
    from sqlalchemy import select

    from hub.audit import signing
    from hub.audit.tables import AuditCheckpoint
    from hub.store import bulk

    hub = open_hub_or_fail(ctx)
    t = bulk.table_of(AuditCheckpoint)
    with hub.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.id))]
    count = signing.export_checkpoints(rows, out)
    if public_key:
        signing.export_public_keys(hub.deployment.keyring(), public_key)
    hub.close()
    console.print(f"[green]✓[/] {count} checkpoints written to {out}", highlight=False)


def _fields_text(fields: list[dict[str, Any]]) -> str:
    """Fields grouped by the form they took: "allow: a, b; mask: iban; deny: c"."""
    by_action: dict[str, list[str]] = {}
    for f in fields:
        by_action.setdefault(f["action"], []).append(f["field"])
    if set(by_action) == {"received"}:
        return f"received {len(by_action['received'])} fields"
    return "; ".join(f"{a}: {', '.join(names)}" for a, names in sorted(by_action.items()))


@app.command("trace")
def trace_cmd(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="Golden customer id.")] = None,
    employee: Annotated[str | None, typer.Option(help="Golden employee id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every system that received this person's data: which fields, in which form, when,
    under which policy version."""
    if bool(customer) == bool(employee):
        fail("give exactly one of --customer or --employee")
    entity, golden_id = ("customer", customer) if customer else ("employee", employee)
    from rich.table import Table

    from hub.audit import query

    hub = open_hub_or_fail(ctx)
    with hub.engine.connect() as conn:
        rows = query.trace(conn, entity, str(golden_id))
        known = bool(rows) or _known(conn, entity, str(golden_id))
    hub.close()
    if not known:  # a typo must not look like a person whose data went nowhere
        fail(f"no such person: {entity} {golden_id} (no golden record, no trail entry)")
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"{golden_id}: no transfers recorded yet", highlight=False)
        return
    table = Table(title=f"Trace of {golden_id}")
    for col in ("when", "what", "from → to", "outcome", "policy", "fields (form)"):
        table.add_column(col)
    for r in rows:
        table.add_row(f"{r['at']:%Y-%m-%d %H:%M}", r["kind"], f"{r['source']} → {r['destination']}",
                      r["outcome"], r["policy_version"] or "", _fields_text(r["fields"]))
    console.print(table)


def _known(conn: Connection, entity: str, golden_id: str) -> bool:
    """The golden record exists, or once did (its history, e.g. merged away)."""
    from sqlalchemy import select

    from hub.canonical import MODELS
    from hub.store import bulk
    from hub.store.tables import RecordHistory

    t, h = bulk.table_of(MODELS[entity]), bulk.table_of(RecordHistory)
    return conn.execute(select(t.c.id).where(t.c.id == golden_id)).first() is not None or \
        conn.execute(select(h.c.golden_id).where(
            h.c.entity == entity, h.c.golden_id == golden_id).limit(1)).first() is not None


def _parse_time(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(f"not a date or time: {value!r} (use e.g. 2026-11-01 or 2026-11-01T08:00)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@app.command("search")
def search_cmd(
    ctx: typer.Context,
    system: Annotated[str | None, typer.Option(help="Source or destination system.")] = None,
    category: Annotated[str | None, typer.Option(help="Data category (and below).")] = None,
    action: Annotated[str | None, typer.Option(help="allow, deny, mask, ...")] = None,
    rule: Annotated[str | None, typer.Option(help="Deciding rule id.")] = None,
    kind: Annotated[str | None, typer.Option(help="transfer.in, transfer.out, run, ...")] = None,
    since: Annotated[str | None, typer.Option(help="From (ISO date or time).")] = None,
    until: Annotated[str | None, typer.Option(help="Before (ISO date or time).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 200,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Export as CSV.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json-file", help="Export as JSON.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find entries by system, category, action, rule and time range."""
    from rich.table import Table

    from hub.audit import export, query

    q = query.Search(system, category, action, rule, kind, _parse_time(since),
                     _parse_time(until), limit)
    hub = open_hub_or_fail(ctx)
    with hub.engine.connect() as conn:
        rows = query.search(conn, q)
    hub.close()
    if csv_out:
        export.write_csv(rows, COLUMNS, csv_out)
    if json_out:
        export.write_json(rows, json_out)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} entries")
    for col in ("seq", "when", "what", "from → to", "record", "outcome", "fields (form)"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["seq"]), f"{r['at']:%Y-%m-%d %H:%M}", r["kind"],
                      f"{r['source'] or ''} → {r['destination'] or ''}", r["golden_id"] or "",
                      r["outcome"], _fields_text(r["fields"]))
    console.print(table)


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="HTML file to write.")],
    since: Annotated[str | None, typer.Option(help="From (ISO date).")] = None,
    until: Annotated[str | None, typer.Option(help="Before (ISO date).")] = None,
) -> None:
    """The compliance report: transfers per system and category over time, denials and
    pseudonymisations by rule, destinations of special-category data (HTML with charts)."""
    from hub.audit import reports
    from hub.web.report_files import compliance_page

    hub = open_hub_or_fail(ctx)
    figures = reports.compliance_report(hub.engine, hub.deployment, since=_parse_time(since),
                                        until=_parse_time(until))
    hub.close()
    out.write_text(compliance_page(figures), encoding="utf-8")
    console.print(f"[green]✓[/] compliance report written to {out}", highlight=False)


@app.command("ropa")
def ropa_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="File to write: .html, .csv or .json.")],
) -> None:
    """Records of processing (GDPR Art. 30) from the configuration and the trail."""
    from hub.audit import export, reports

    hub = open_hub_or_fail(ctx)
    frame = reports.records_of_processing(hub.engine, hub.deployment)
    if out.suffix == ".html":
        from hub.web.report_files import ropa_page

        out.write_text(ropa_page(frame, hub.deployment), encoding="utf-8")
    else:
        rows = frame.to_dict(orient="records")
        if out.suffix == ".csv":
            export.write_csv(rows, list(frame.columns), out)
        else:
            export.write_json(rows, out)
    hub.close()
    console.print(f"[green]✓[/] records of processing written to {out}", highlight=False)


def _subject(customer: str | None, employee: str | None) -> tuple[str, str]:
    if bool(customer) == bool(employee):
        fail("give exactly one of --customer or --employee")
    return ("customer", str(customer)) if customer else ("employee", str(employee))


@app.command("access")
def access_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="JSON file for the data subject.")],
    customer: Annotated[str | None, typer.Option(help="Golden customer id.")] = None,
    employee: Annotated[str | None, typer.Option(help="Golden employee id.")] = None,
) -> None:
    """Subject access report (GDPR Art. 15): what Kontor holds on a person and where it
    sent it. The file holds personal data: hand it to the person, nowhere else."""
    from hub import subject_rights as subject

    entity, golden_id = _subject(customer, employee)
    hub = open_hub_or_fail(ctx)
    report = subject.access_report(hub, entity, golden_id)
    if report is None:
        fail(f"{entity} {golden_id} not found")
    with hub.engine.begin() as conn:
        from hub.audit.record import AuditLog
        log = AuditLog(hub.deployment.keyring(), "cli")
        log.add("subject.access", "done", entity=entity, golden_id=golden_id,
                destination=subject.SUBJECT_ACCESS.name,
                value_hash=log.value_hash(report))
        log.flush(conn)
    hub.close()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(report, fh, ensure_ascii=False, indent=2)
    console.print(f"[green]✓[/] access report for {golden_id} written to {out}",
                  highlight=False)


@app.command("erase")
def erase_cmd(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="Golden customer id.")] = None,
    employee: Annotated[str | None, typer.Option(help="Golden employee id.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Erasure (GDPR Art. 17): blank the golden record, destroy its key, drop its history,
    delete it in every target that received it (Art. 19); the trail keeps only the fact."""
    from hub import subject_rights as subject

    entity, golden_id = _subject(customer, employee)
    if not yes and not typer.confirm(f"Erase {golden_id} for good?"):
        raise typer.Exit(1)
    hub = open_hub_or_fail(ctx)
    result = subject.erase(hub, entity, golden_id, actor="cli")
    hub.close()
    if result is None:
        fail(f"{entity} {golden_id} not found")
    console.print(f"[green]✓[/] {golden_id} erased in the hub", highlight=False)
    for label in result.deleted_in:
        console.print(f"  ✓ deleted in {label}", highlight=False)
    for label in result.to_do_by_hand + result.failed:
        console.print(f"  [yellow]! delete by hand or retry:[/] {label}", highlight=False)
    if result.failed:
        raise typer.Exit(1)
