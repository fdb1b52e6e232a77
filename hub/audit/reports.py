"""Reports for the compliance officer, built from the configuration and the trail:
a compliance report with charts, and the records of processing (GDPR Art. 30)."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from hub import taxonomy
from hub.audit import charts
from hub.audit.query import decision_sets
from hub.audit.tables import AuditEntry
from hub.config import Deployment
from hub.store import bulk


def field_facts(engine: Engine, since: dt.datetime | None = None,
                until: dt.datetime | None = None) -> pd.DataFrame:
    """One row per (day, direction, destination, field decision) with a transfer count.

    Aggregated in SQL first (per decision set), so a trail of millions stays cheap.
    """
    t = bulk.table_of(AuditEntry)
    day = func.date(t.c.at).label("day")
    stmt = (select(day, t.c.kind, t.c.source, t.c.destination, t.c.purpose, t.c.decisions,
                   func.count().label("n"))
            .where(t.c.kind.in_(["transfer.in", "transfer.out"]),
                   t.c.outcome.in_(["sent", "received"]))
            .group_by(day, t.c.kind, t.c.source, t.c.destination, t.c.purpose, t.c.decisions))
    if since:
        stmt = stmt.where(t.c.at >= since)
    if until:
        stmt = stmt.where(t.c.at < until)
    with engine.connect() as conn:
        groups = [dict(r._mapping) for r in conn.execute(stmt)]
        sets = decision_sets(conn, [g["decisions"] for g in groups if g["decisions"]])
    rows = []
    for g in groups:
        system = g["destination"] if g["kind"] == "transfer.out" else g["source"]
        for f in sets.get(g["decisions"], []):
            category = f.get("category", "unclassified")
            try:
                special = taxonomy.lookup(category).special
            except KeyError:
                special = False
            rows.append({"day": str(g["day"]), "kind": g["kind"], "system": system,
                         "purpose": g["purpose"], "field": f["field"], "category": category,
                         "special": special, "action": f["action"], "rule": f.get("rule"),
                         "legal_basis": f.get("legal_basis"), "n": g["n"]})
    columns = ["day", "kind", "system", "purpose", "field", "category", "special", "action",
               "rule", "legal_basis", "n"]
    return pd.DataFrame(rows, columns=columns)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, classes="t", escape=True) \
        if not frame.empty else "<p>None in this period.</p>"


def compliance_report(engine: Engine, deployment: Deployment, *,
                      since: dt.datetime | None = None, until: dt.datetime | None = None) -> str:
    facts = field_facts(engine, since, until)
    out = facts[facts["kind"] == "transfer.out"]
    sent = out[~out["action"].isin(["deny"])]
    t = bulk.table_of(AuditEntry)
    with engine.connect() as conn:
        per_day = pd.DataFrame([dict(r._mapping) for r in conn.execute(
            select(func.date(t.c.at).label("day"), t.c.destination, func.count().label("n"))
            .where(t.c.kind == "transfer.out", t.c.outcome == "sent")
            .group_by(func.date(t.c.at), t.c.destination))], columns=["day", "destination", "n"])
    over_time = per_day.pivot_table(index="day", columns="destination", values="n",
                                    aggfunc="sum", fill_value=0) if not per_day.empty \
        else pd.DataFrame()
    by_category = sent.groupby("category")["n"].sum()
    by_rule = out[out["action"].isin(["deny", "pseudonymise"])] \
        .groupby(["action", "rule"])["n"].sum()
    special = sent[sent["special"]].groupby("system")["n"].sum()
    sections = [
        ("Transfers per system over time", charts.stacked_over_time(
            over_time, "Records sent per day and destination"), _table(per_day)),
        ("Data categories sent", charts.bar(by_category, "Field values sent, by category"),
         _table(by_category.reset_index())),
        ("Denials and pseudonymisations by rule", charts.bar(
            by_rule.rename(lambda k: f"{k[0]}: {k[1]}"), "Field decisions by rule",
            colour="#a53b3b"), _table(by_rule.reset_index())),
        ("Destinations of special-category data", charts.bar(
            special, "Special-category values sent, by destination", colour="#7a3ba5"),
         _table(sent[sent["special"]].groupby(["system", "category", "legal_basis"],
                                              dropna=False)["n"].sum().reset_index())),
    ]
    period = f"{since:%Y-%m-%d} – {until:%Y-%m-%d}" if since and until else "all time"
    return _page("Kontor compliance report", f"Deployment {deployment.path.parent.name}, "
                 f"policy {deployment.policy_set.version}, period {period}", sections)


def records_of_processing(engine: Engine, deployment: Deployment) -> pd.DataFrame:
    """GDPR Art. 30: which categories go to which system, for which purpose, on which basis."""
    facts = field_facts(engine)
    sent = facts[(facts["kind"] == "transfer.out") & (facts["action"] != "deny")]
    rows: list[dict[str, Any]] = []
    for stream in deployment.streams("outbound"):
        seen = sent[sent["system"] == stream.label]
        for (category, action, basis), group in seen.groupby(
                ["category", "action", "legal_basis"], dropna=False):
            rows.append({"destination": stream.label, "purpose": stream.config.purpose,
                         "category": category, "form": action,
                         "legal_basis": None if pd.isna(basis) else basis,
                         "special_category": bool(group["special"].any()),
                         "records": int(group["n"].sum())})
        if seen.empty:
            rows.append({"destination": stream.label, "purpose": stream.config.purpose,
                         "category": None, "form": None, "legal_basis": None,
                         "special_category": False, "records": 0})
    return pd.DataFrame(rows)


def ropa_html(engine: Engine, deployment: Deployment) -> str:
    frame = records_of_processing(engine, deployment)
    return _page("Records of processing activities (GDPR Art. 30)",
                 f"Generated from {deployment.path.name} and the audit trail, "
                 f"policy {deployment.policy_set.version}",
                 [("Processing by destination", "", _table(frame))])


def _page(title: str, subtitle: str, sections: list[tuple[str, str, str]]) -> str:
    body = "".join(f"<section><h2>{html.escape(h)}</h2>{chart}{table}</section>"
                   for h, chart, table in sections)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title><style>
body{{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222}}
h1{{margin-bottom:0}} .sub{{color:#666}} section{{margin:2rem 0}}
table.t{{border-collapse:collapse;font-size:.85rem}} .t td,.t th{{padding:.2rem .6rem;
border-bottom:1px solid #ddd;text-align:left}} svg{{max-width:100%;height:auto}}
</style></head><body><h1>{html.escape(title)}</h1><p class="sub">{html.escape(subtitle)}
— generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC</p>{body}</body></html>"""
