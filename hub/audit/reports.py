"""Reports for the compliance officer, built from the configuration and the trail: the
compliance report's figures, and the records of processing (GDPR Art. 30).

Figures only: the pages with their charts are drawn by the face (``hub.web.report_files``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from hub import taxonomy
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


@dataclass(frozen=True)
class ComplianceReport:
    """The compliance report's figures: counts by system, category and rule, never values.

    Presentation (charts, the HTML page) is the face's job: ``hub.web.report_files``.
    """

    deployment: str                                   # the deployment's folder name
    policy_version: str
    since: dt.datetime | None
    until: dt.datetime | None
    sent_per_day: list[tuple[str, str, int]]          # (day, destination, records sent)
    by_category: list[tuple[str, int]]                # (category, field values sent)
    by_rule: list[tuple[str, str, int]]               # (deny | pseudonymise, rule, decisions)
    special: list[tuple[str, str, str | None, int]]   # (destination, category, basis, values)

    @property
    def period(self) -> str:
        if self.since and self.until:
            return f"{self.since:%Y-%m-%d} – {self.until:%Y-%m-%d}"
        if self.since:
            return f"from {self.since:%Y-%m-%d}"
        if self.until:
            return f"before {self.until:%Y-%m-%d}"
        return "all time"


def _sent_per_day(engine: Engine, since: dt.datetime | None, until: dt.datetime | None
                  ) -> list[tuple[str, str, int]]:
    t = bulk.table_of(AuditEntry)
    day = func.date(t.c.at)
    stmt = (select(day.label("day"), t.c.destination, func.count().label("n"))
            .where(t.c.kind == "transfer.out", t.c.outcome == "sent")
            .group_by(day, t.c.destination))
    if since:
        stmt = stmt.where(t.c.at >= since)
    if until:
        stmt = stmt.where(t.c.at < until)
    with engine.connect() as conn:
        return sorted((str(r.day), str(r.destination), int(r.n)) for r in conn.execute(stmt))


def compliance_report(engine: Engine, deployment: Deployment, *,
                      since: dt.datetime | None = None, until: dt.datetime | None = None
                      ) -> ComplianceReport:
    """Transfers per destination and day, categories sent, denials and pseudonymisations
    by rule, destinations of special-category data: for ``hub.web.report_files``."""
    facts = field_facts(engine, since, until)
    out = facts[facts["kind"] == "transfer.out"]
    sent = out[out["action"] != "deny"]
    by_rule = out[out["action"].isin(["deny", "pseudonymise"])] \
        .groupby(["action", "rule"])["n"].sum()
    special = sent[sent["special"]].groupby(["system", "category", "legal_basis"],
                                            dropna=False)["n"].sum()
    return ComplianceReport(
        deployment=deployment.path.parent.name, policy_version=deployment.policy_set.version,
        since=since, until=until, sent_per_day=_sent_per_day(engine, since, until),
        by_category=[(str(k), int(v)) for k, v in sent.groupby("category")["n"].sum().items()],
        by_rule=[(str(a), str(r), int(v)) for (a, r), v in by_rule.items()],
        special=[(str(s), str(c), None if pd.isna(b) else str(b), int(v))
                 for (s, c, b), v in special.items()])


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
