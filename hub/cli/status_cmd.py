"""Read-only commands: ``status``, ``runs`` (and ``runs show N``), ``connectors``.

The store and SQLAlchemy are imported when a command runs, not when it is listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from hub.cli.output import console, err_console, fail, print_json

if TYPE_CHECKING:
    from hub.context import Hub

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

runs_app = typer.Typer(
    help="Sync runs: when, who started them, status, and counts per stream.\n\n"
         "`kontor runs show N` gives one run in full: per-stream counts and timings, "
         "errors, the records it quarantined and the review pairs it raised.",
    no_args_is_help=False)


def _open(config_file: Any) -> Hub:
    with err_console.status("opening the master store…"):
        from hub.context import open_hub
        from hub.errors import HubError

        try:
            return open_hub(config_file)
        except HubError as exc:
            fail(exc)


def _record_counts(conn: Any) -> dict[str, dict[str, int]]:
    """Per entity: live golden records, retired ones (still stored, gone from every
    source) and those merged into another record (their rows are gone)."""
    from sqlalchemy import func, select

    from hub.canonical import MODELS
    from hub.store import bulk
    from hub.store.matching_tables import GoldenMerge, GoldenRetired

    retired, merged = bulk.table_of(GoldenRetired), bulk.table_of(GoldenMerge)
    out = {}
    for entity, model in MODELS.items():
        stored = conn.execute(select(func.count()).select_from(bulk.table_of(model)))\
            .scalar_one()
        gone = conn.execute(select(func.count()).select_from(retired)
                            .where(retired.c.entity == entity)).scalar_one()
        away = conn.execute(select(func.count()).select_from(merged).where(
            merged.c.entity == entity, merged.c.undone_at.is_(None))).scalar_one()
        out[entity] = {"live": int(stored) - int(gone), "retired": int(gone),
                       "merged": int(away)}
    return out


def _status_data(config_file: Any) -> dict[str, Any]:
    from sqlalchemy import func, select

    from hub.store import bulk
    from hub.store.db import safe_url
    from hub.store.tables import Quarantine, SyncRun

    hub = _open(config_file)
    runs, q = bulk.table_of(SyncRun), bulk.table_of(Quarantine)
    with hub.engine.connect() as conn:
        records = _record_counts(conn)
        last = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(1)).first()
        open_q = {r[0]: int(r[1]) for r in conn.execute(
            select(q.c.system, func.count()).where(q.c.status == "open").group_by(q.c.system))}
    systems = [{"system": name, "connector": s.config.connector,
                "streams": [f"{st.name} ({st.config.direction} {st.entity})" for st in s.streams],
                "quarantined": int(open_q.get(name, 0))}
               for name, s in hub.deployment.systems.items()]
    hub.close()
    return {
        "database": safe_url(hub.deployment.database_url),
        "golden_records": {e: c["live"] for e, c in records.items()},
        "records": records,
        "last_run": None if last is None else {
            "id": last.id, "status": last.status, "started_at": last.started_at,
            "finished_at": last.finished_at, **_waiting(last.counts),
            "failed_streams": _failed_streams(last.counts)},
        "systems": systems,
    }


def _waiting(counts: dict[str, Any] | None) -> dict[str, int]:
    """What the run left in the outbox of its targets (for a retry, and dead letters)."""
    streams = (counts or {}).values()
    return {"pending": sum(int(c.get("pending", 0)) for c in streams),
            "dead": sum(int(c.get("dead", 0)) for c in streams)}


def _failed_streams(counts: dict[str, Any] | None) -> dict[str, str]:
    """stream -> "failed: why" (or "unavailable: why", a target whose records wait in the
    outbox), for every stream of a run that failed, ended early or put deliveries off."""
    out = {}
    for label, c in (counts or {}).items():
        waits = c.get("direction") == "outbound" and (c.get("pending") or c.get("dead"))
        if c.get("error"):
            out[label] = f"{'unavailable' if waits else 'failed'}: {c['error']}"
        elif c.get("incomplete"):
            out[label] = f"failed: the read ended early: {c['incomplete']}"
    return out


def _stream_problem(label: str, why: str, run_id: int | None = None) -> str:
    """One markup line: "✗ crm.kunden failed: …" or "⧗ shop.orders unavailable: …"."""
    kind, _, reason = why.partition(": ")
    mark = "[yellow]⧗" if kind == "unavailable" else "[red]✗"
    run = f"run {run_id}: " if run_id is not None else ""
    return f"  {mark} {run}{escape(label)} {kind}:[/] {escape(reason)}"


def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Golden-record counts, the last run, and open quarantine per system."""
    from rich.table import Table

    from hub.cli import summary

    data = _status_data(ctx.obj["config"])
    if as_json:
        print_json(data)
        return
    console.print(f"Master store: {data['database']}", highlight=False)
    console.print("Golden records:")
    for entity, c in data["records"].items():
        extra = [f"{c[k]:,} {words}" for k, words in (
            ("retired", "retired (gone from every source)"),
            ("merged", "merged into other records")) if c[k]]
        console.print(f"  {entity}s: {c['live']:,} live" + "".join(f", {e}" for e in extra),
                      highlight=False)
    last = data["last_run"]
    if last is None:
        console.print("Last run: never")
    else:
        colour = summary.STATUS_COLOUR.get(last["status"], "red")
        console.print(f"Last run: #{last['id']} [{colour}]{last['status']}[/] at "
                      f"{last['started_at']:%Y-%m-%d %H:%M}"
                      + (f" ({last['pending']} records wait for delivery, {last['dead']} dead "
                         "letters: kontor outbox list)" if last["pending"] or last["dead"]
                         else ""), highlight=False)
        for label, why in last["failed_streams"].items():
            console.print(_stream_problem(label, why), highlight=False)
    table = Table(title="Systems")
    for col in ("system", "connector", "streams", "quarantined"):
        table.add_column(col, overflow="fold")
    for s in data["systems"]:
        table.add_row(s["system"], s["connector"], "\n".join(s["streams"]),
                      str(s["quarantined"]))
    console.print(table)


def connectors(as_json: JsonOpt = False) -> None:
    """Installed connectors and their capabilities."""
    from rich.table import Table

    from hub import registry

    found = registry.connectors()
    rows = [{"kind": k, "class": f"{c.__module__}.{c.__qualname__}",
             "capabilities": sorted(cap.value for cap in c.capabilities)}
            for k, c in sorted(found.items())]
    broken = registry.broken_connectors()
    if as_json:
        print_json({"connectors": rows, "broken": broken})
        return
    table = Table(title="Connectors")
    for col in ("kind", "capabilities", "class"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r["kind"]), ", ".join(r["capabilities"]), str(r["class"]))
    console.print(table)
    for name, reason in broken.items():
        console.print(f"[yellow]! {name} failed to load:[/] {reason}", highlight=False)


def _runs(config_file: Any, limit: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from hub.store import bulk
    from hub.store.tables import SyncRun

    hub = _open(config_file)
    t = bulk.table_of(SyncRun)
    with hub.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(t).order_by(t.c.id.desc()).limit(limit))]
    hub.close()
    return rows


def _took(run: dict[str, Any]) -> float | None:
    if not run["finished_at"]:
        return None
    return (run["finished_at"] - run["started_at"]).total_seconds()


@runs_app.callback(invoke_without_command=True)
def runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Sync runs: when, who started them, status, and counts per stream."""
    if ctx.invoked_subcommand is not None:
        return
    from rich import box
    from rich.table import Table

    from hub.cli import summary

    rows = _runs(ctx.obj["config"], limit)
    if as_json:
        print_json(rows)
        return
    table = Table(title="Runs", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for col, right in (("run", True), ("started", False), ("took", True), ("by", False),
                       ("status", False), ("read", True), ("changed", True),
                       ("refused", True), ("waiting", True)):
        table.add_column(col, justify="right" if right else "left", overflow="fold",
                         no_wrap=col in ("started", "status"))
    failures: list[tuple[int, str, str]] = []
    for r in rows:
        counts = r["counts"].values()
        took = _took(r)
        colour = summary.STATUS_COLOUR.get(r["status"], "red")
        waiting = _waiting(r["counts"])
        changed = sum(int(c.get(k) or 0) for c in counts for k in (
            "created", "updated", "deleted", "retired", "deactivated"))
        table.add_row(str(r["id"]), f"{r['started_at']:%Y-%m-%d %H:%M}",
                      summary.seconds(took) if took is not None else "", r["trigger"],
                      f"[{colour}]{r['status']}[/]", f"{sum(c['read'] for c in counts):,}",
                      f"{changed:,}", f"{sum(c['failed'] for c in counts):,}",
                      f"{waiting['pending'] + waiting['dead']:,}")
        failures += [(r["id"], label, why) for label, why in _failed_streams(r["counts"]).items()]
    console.print(table)
    for run_id, label, why in failures:
        console.print(_stream_problem(label, why, run_id), highlight=False)
    if rows:
        console.print(f"[dim]one run in full: kontor runs show {rows[0]['id']}[/]",
                      highlight=False)


@runs_app.command("show")
def show(ctx: typer.Context, run_id: Annotated[int, typer.Argument(help="Run number.")],
         as_json: JsonOpt = False) -> None:
    """One run in full: counts and time per stream, errors, quarantine, review pairs."""
    from sqlalchemy import select

    from hub.cli import summary
    from hub.cli.rundata import quarantined, review_pairs
    from hub.store import bulk
    from hub.store.tables import SyncRun

    hub = _open(ctx.obj["config"])
    t = bulk.table_of(SyncRun)
    with hub.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == run_id)).first()
    if row is None:
        hub.close()
        fail(f"no run #{run_id} (kontor runs lists them)")
    run = dict(row._mapping)
    order = [s.label for s in hub.deployment.streams("inbound") +
             hub.deployment.streams("outbound")]  # as the run went, not by name
    streams = sorted((run["counts"] or {}).values(), key=lambda c: (
        c.get("direction") != "inbound", order.index(summary.label(c))
        if summary.label(c) in order else len(order), summary.label(c)))
    problems = quarantined(hub.engine, run_id)
    reviews = review_pairs(hub.engine, run_id, streams)
    hub.close()
    exit_code = _exit_code(run["status"], streams)
    if as_json:
        print_json({**run, "exit_code": exit_code, "took": _took(run),
                    "streams": streams, "quarantined": problems, "review_pairs": reviews})
        return
    console.print(summary.headline(run_id, run["status"], exit_code), highlight=False)
    took = _took(run)
    console.print(f"started {run['started_at']:%Y-%m-%d %H:%M:%S} by {run['trigger']}"
                  + (f", took {summary.seconds(took)}" if took is not None else
                     ", not finished"), highlight=False)
    summary.print_streams(console, streams, reviews)
    summary.print_totals(console, streams, reviews)
    open_now = sum(1 for p in problems if p["status"] == "open")
    summary.print_quarantine(console, problems)
    if problems:
        console.print(f"  {open_now} of them still open: kontor quarantine list",
                      highlight=False)
    if sum(reviews.values()):
        console.print(f"{sum(reviews.values())} new review pair(s) for a data steward: "
                      "kontor steward review", highlight=False)
    unlisted = [e for e in run["errors"] or []
                if not any(e.startswith(f"{s['system']}.{s['stream']}:") for s in streams)]
    for error in unlisted:  # a run that failed before its streams said why
        console.print(f"[red]✗[/] {escape(error)}", highlight=False)


def _exit_code(status: str, streams: list[dict[str, Any]]) -> int | None:
    """The exit code ``kontor sync`` gave this run (None while it runs)."""
    if status in ("running", "interrupted"):
        return None
    from dataclasses import fields

    from hub.sync.counts import StreamCounts
    from hub.sync.runner import RunResult

    names = {f.name for f in fields(StreamCounts)}
    counts = [StreamCounts(**{k: v for k, v in s.items() if k in names}) for s in streams]
    return RunResult(0, status, counts).exit_code
