"""Read-only commands: ``status``, ``connectors``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import func, select

from hub import registry
from hub.canonical import MODELS
from hub.cli.output import console, fail, print_json
from hub.context import open_hub
from hub.errors import HubError
from hub.store import bulk
from hub.store.db import safe_url
from hub.store.tables import Quarantine, SyncRun

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _status_data(config_file: Any) -> dict[str, Any]:
    try:
        hub = open_hub(config_file)
    except HubError as exc:
        fail(exc)
    runs, q = bulk.table_of(SyncRun), bulk.table_of(Quarantine)
    with hub.engine.connect() as conn:
        counts = {e: conn.execute(select(func.count()).select_from(bulk.table_of(m)))
                  .scalar_one() for e, m in MODELS.items()}
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
        "golden_records": counts,
        "last_run": None if last is None else {
            "id": last.id, "status": last.status, "started_at": last.started_at,
            "finished_at": last.finished_at, **_waiting(last.counts)},
        "systems": systems,
    }


def _waiting(counts: dict[str, Any] | None) -> dict[str, int]:
    """What the run left in the outbox of its targets (for a retry, and dead letters)."""
    streams = (counts or {}).values()
    return {"pending": sum(int(c.get("pending", 0)) for c in streams),
            "dead": sum(int(c.get("dead", 0)) for c in streams)}


def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Golden-record counts, the last run, and open quarantine per system."""
    data = _status_data(ctx.obj["config"])
    if as_json:
        print_json(data)
        return
    console.print(f"Master store: {data['database']}", highlight=False)
    console.print("Golden records: " + ", ".join(
        f"{n} {e}s" for e, n in data["golden_records"].items()))
    last = data["last_run"]
    console.print("Last run: never" if last is None else
                  f"Last run: #{last['id']} {last['status']} at {last['started_at']:%Y-%m-%d %H:%M}"
                  + (f" ({last['pending']} records wait for delivery, {last['dead']} dead "
                     "letters: kontor outbox list)" if last["pending"] or last["dead"] else ""),
                  highlight=False)
    table = Table(title="Systems")
    for col in ("system", "connector", "streams", "quarantined"):
        table.add_column(col)
    for s in data["systems"]:
        table.add_row(s["system"], s["connector"], "\n".join(s["streams"]),
                      str(s["quarantined"]))
    console.print(table)


def connectors(as_json: JsonOpt = False) -> None:
    """Installed connectors and their capabilities."""
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
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["kind"]), ", ".join(r["capabilities"]), str(r["class"]))
    console.print(table)
    for name, reason in broken.items():
        console.print(f"[yellow]! {name} failed to load:[/] {reason}", highlight=False)


def runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Sync runs: when, who started them, status, and counts per stream."""
    try:
        hub = open_hub(ctx.obj["config"])
    except HubError as exc:
        fail(exc)
    t = bulk.table_of(SyncRun)
    with hub.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(t).order_by(t.c.id.desc()).limit(limit))]
    hub.close()
    if as_json:
        print_json(rows)
        return
    table = Table(title="Runs")
    for col in ("run", "started", "took", "trigger", "status", "read", "changed", "failed",
                "waiting"):
        table.add_column(col)
    for r in rows:
        counts = r["counts"].values()
        took = (r["finished_at"] - r["started_at"]).total_seconds() if r["finished_at"] else None
        colour = {"success": "green", "partial": "yellow", "pending": "yellow"}.get(
            r["status"], "red")
        waiting = _waiting(r["counts"])
        table.add_row(str(r["id"]), f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
                      f"{took:.1f}s" if took is not None else "", r["trigger"],
                      f"[{colour}]{r['status']}[/]", str(sum(c["read"] for c in counts)),
                      str(sum(c["created"] + c["updated"] for c in counts)),
                      str(sum(c["failed"] for c in counts)),
                      str(waiting["pending"] + waiting["dead"]))
    console.print(table)
