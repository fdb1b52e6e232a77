"""Figures for the reports page: data quality and compliance, as counts (never values)."""

from __future__ import annotations

import datetime as dt

from markupsafe import Markup
from sqlalchemy import Connection, func, select

from hub.api.services import transfers
from hub.auth import roles
from hub.auth.tables import RestrictedReadLog
from hub.auth.tokens import Caller
from hub.canonical import MODELS
from hub.context import Hub
from hub.store import bulk
from hub.store.tables import Quarantine, SyncRun, Xref
from hub.web.charts import bar_chart
from policies.gate import Action, Destination, PrivacyGate


def completeness(conn: Connection, hub: Hub, gate: PrivacyGate, caller: Caller, entity: str
                 ) -> Markup:
    """Share of records with a value, per canonical field the caller's role may see."""
    table = bulk.table_of(MODELS[entity])
    dest = roles.destination(caller.role)
    fields = [n for n, s in hub.deployment.fields[entity].items() if not s.custom
              and gate.decide(entity, n, dest).action is not Action.DENY]
    row = conn.execute(select(func.count(), *(func.count(table.c[f]) for f in fields))).one()
    total = row[0] or 0
    bars = [(f, 100.0 * row[i + 1] / total if total else 0.0) for i, f in enumerate(fields)]
    return bar_chart(f"{entity.capitalize()} fields filled ({total} records)", bars, unit="%",
                     maximum=100, tone="ok")


def sources(conn: Connection) -> Markup:
    x = bulk.table_of(Xref)
    rows = conn.execute(select(x.c.system, x.c.entity, func.count())
                        .group_by(x.c.system, x.c.entity).order_by(x.c.system)).all()
    return bar_chart("Records linked per system", [(f"{s} ({e}s)", n) for s, e, n in rows])


def quarantine(conn: Connection) -> Markup:
    q = bulk.table_of(Quarantine)
    rows = conn.execute(select(q.c.system, func.count()).where(q.c.status == "open")
                        .group_by(q.c.system).order_by(q.c.system)).all()
    return bar_chart("Open quarantine per system", [(s, n) for s, n in rows], tone="bad")


def policy_coverage(hub: Hub, gate: PrivacyGate) -> Markup:
    """Per destination: the share of the fields it asks for that policy denies."""
    bars = []
    for stream in hub.deployment.streams("outbound"):
        dest = Destination(stream.label, "system", stream.config.purpose)
        asked = list(stream.mapping.canonical_fields)
        denied = sum(gate.decide(stream.entity, f, dest).action is Action.DENY for f in asked)
        bars.append((stream.label, 100.0 * denied / len(asked) if asked else 0.0))
    for role in roles.Role:
        dest = roles.destination(role)
        names = [(e, f) for e, specs in hub.deployment.fields.items() for f in specs]
        denied = sum(gate.decide(e, f, dest).action is Action.DENY for e, f in names)
        bars.append((dest.name, 100.0 * denied / len(names) if names else 0.0))
    return bar_chart("Fields withheld by policy, per destination", bars, unit="%",
                     maximum=100, tone="warn")


def restricted_reads(conn: Connection, days: int = 30) -> Markup:
    log = bulk.table_of(RestrictedReadLog)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    rows = conn.execute(select(log.c.role, log.c.channel, func.count()).where(log.c.at >= since)
                        .group_by(log.c.role, log.c.channel).order_by(log.c.role)).all()
    return bar_chart(f"Responses with restricted fields, last {days} days",
                     [(f"{r} via {c}", n) for r, c, n in rows], tone="warn")


def failed_records(conn: Connection, runs: int = 10) -> Markup:
    t = bulk.table_of(SyncRun)
    rows = conn.execute(select(t.c.id, t.c.counts).order_by(t.c.id.desc()).limit(runs)).all()
    bars = [(f"run {r.id}", sum(int(c.get("failed", 0)) for c in (r.counts or {}).values()))
            for r in reversed(rows)]
    return bar_chart(f"Records refused in the last {runs} runs", bars, tone="bad")


def sent_by_category(hub: Hub) -> list[Markup]:
    """From the audit trail: field values sent out, by category and by decision."""
    frame = transfers(hub)
    out = frame[frame["kind"] == "transfer.out"]
    sent = out[out["action"] != "deny"].groupby("category")["n"].sum()
    actions = out.groupby("action")["n"].sum()
    return [bar_chart("Field values sent, by category (audit trail)",
                      [(str(k), float(v)) for k, v in sent.sort_values(ascending=False)
                       .head(14).items()]),
            bar_chart("Outbound field decisions, by action (audit trail)",
                      [(str(k), float(v)) for k, v in actions.items()], tone="warn")]


def charts(conn: Connection, hub: Hub, gate: PrivacyGate, caller: Caller) -> list[Markup]:
    return [completeness(conn, hub, gate, caller, "customer"),
            completeness(conn, hub, gate, caller, "employee"),
            sources(conn), quarantine(conn), failed_records(conn),
            policy_coverage(hub, gate), *sent_by_category(hub), restricted_reads(conn)]
