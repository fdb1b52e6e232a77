"""The API's services: what its routers and the dashboard's pages (``hub/web``) both call.

A router module (one that builds an ``APIRouter``) is the API's HTTP face and nothing
else; the dashboard never imports one. What the two faces share lives here (or in the
other router-free modules of ``hub.api``: ``deps``, ``disclosure``, ``problems``,
``security``, ``writes``), so only the app assembly, ``hub/api/app.py``, sees both the
API's routers and the dashboard's (``tests/test_layers.py`` keeps it so).

Counts, names and ids here, never restricted values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Connection, func, select

from hub.api.problems import Conflict, NotFound
from hub.audit.reports import field_facts
from hub.auth.tables import RestrictedReadLog
from hub.auth.tokens import Caller
from hub.config import Deployment
from hub.records import jsonable
from hub.store import bulk
from hub.store.matching_tables import ReviewPair
from hub.store.tables import Quarantine, SyncRun
from hub.survivorship import review
from hub.survivorship.merging import MergeError

# Which canonical fields the record searches look at, per entity.
EMAIL_FIELD = {"customer": "email", "employee": "work_email"}
NAME_FIELDS = {"customer": ("first_name", "last_name", "organisation_name"),
               "employee": ("first_name", "last_name")}
# How many recent runs to search for each stream's last outcome.
_RECENT_RUNS = 50
# How many recent restricted-read rows a trace searches for one record.
READ_LOG_WINDOW = 5000


# -- operations: systems, runs, quarantine (no personal data) ------------------------------

def recent_runs(conn: Connection, limit: int) -> list[dict[str, Any]]:
    t = bulk.table_of(SyncRun)
    rows = conn.execute(select(t).order_by(t.c.id.desc()).limit(limit))
    return [jsonable(dict(r._mapping)) for r in rows]


def _waits(counts: dict[str, Any]) -> bool:
    """An outbound stream whose records wait in the outbox (pending or dead letters)."""
    return counts.get("direction") == "outbound" and bool(
        counts.get("pending") or counts.get("dead"))


def systems_overview(conn: Connection, deployment: Deployment) -> list[dict[str, Any]]:
    """Each system with its streams' last run outcome, open quarantine, and a status:
    ``ok``, ``records failed`` (last run quarantined some), ``failing`` (a stream failed),
    ``deliveries waiting`` (a target was down: its records wait in the outbox for a retry),
    or ``never run``."""
    runs = recent_runs(conn, _RECENT_RUNS)
    q = bulk.table_of(Quarantine)
    open_q = {r[0]: int(r[1]) for r in conn.execute(
        select(q.c.system, func.count()).where(q.c.status == "open").group_by(q.c.system))}
    out = []
    for name, system in deployment.systems.items():
        streams: list[dict[str, Any]] = []
        for st in system.streams:
            last = next(({"run_id": r["id"], "started_at": r["started_at"],
                          **r["counts"][st.label]}
                         for r in runs if st.label in (r["counts"] or {})), None)
            streams.append({"name": st.name, "entity": st.entity,
                            "direction": st.config.direction, "purpose": st.config.purpose,
                            "last_run": last})
        lasts = [s["last_run"] for s in streams if s["last_run"]]
        status = ("never run" if not lasts else
                  "failing" if any(x.get("error") and not _waits(x) for x in lasts) else
                  "records failed" if any(x.get("failed") for x in lasts) else
                  "deliveries waiting" if any(_waits(x) for x in lasts) else "ok")
        out.append({"name": name, "connector": system.config.connector,
                    "description": system.config.description, "status": status,
                    "open_quarantine": open_q.get(name, 0), "streams": streams})
    return out


def open_quarantine(conn: Connection, limit: int, system: str | None = None
                    ) -> list[dict[str, Any]]:
    q = bulk.table_of(Quarantine)
    # The raw payload may hold restricted values: it is never served.
    stmt = select(q.c.id, q.c.run_id, q.c.system, q.c.stream, q.c.entity, q.c.direction,
                  q.c.location, q.c.source_key, q.c.field, q.c.reason,
                  q.c.created_at).where(q.c.status == "open")
    if system:
        stmt = stmt.where(q.c.system == system)
    return [jsonable(dict(r._mapping)) for r in conn.execute(stmt.order_by(q.c.id).limit(limit))]


# -- audit and reports ---------------------------------------------------------------------

def restricted_reads(conn: Any, entity: str, golden_id: str) -> list[dict[str, Any]]:
    """API, SCIM and dashboard responses that showed this record's restricted fields."""
    log = bulk.table_of(RestrictedReadLog)
    rows = conn.execute(select(log).where(log.c.entity == entity)
                        .order_by(log.c.id.desc()).limit(READ_LOG_WINDOW))
    return [{"at": r.at, "role": r.role, "token_id": r.token_id, "channel": r.channel,
             "fields": r.fields, "purpose": r.purpose}
            for r in rows if golden_id in (r.golden_ids or [])][::-1]


def transfers(hub: Any, since: dt.datetime | None = None, until: dt.datetime | None = None
              ) -> pd.DataFrame:
    """Field values moved, per direction, system, category and action."""
    facts = field_facts(hub.engine, since, until)
    if facts.empty:
        return pd.DataFrame(columns=["kind", "system", "category", "action", "n"])
    return facts.groupby(["kind", "system", "category", "action"], as_index=False)["n"].sum()


# -- the steward's review queue ------------------------------------------------------------

def actor(caller: Caller) -> str:
    """How a decision by this caller is signed in the merge log and the pair."""
    return f"{caller.name} (token {caller.token_id})"


def decide(hub: Any, pair_id: int, decision: str, caller: Caller) -> dict[str, Any]:
    """Apply a decision to an open pair; 404 for an unknown pair, 409 for a decided one
    or one that can no longer be merged."""
    t = bulk.table_of(ReviewPair)
    with hub.engine.connect() as conn:
        status = conn.execute(select(t.c.status).where(t.c.id == pair_id)).scalar()
    if status is None:
        raise NotFound(f"review pair {pair_id}")
    if status != "open":
        raise Conflict(f"review pair {pair_id} is {status} already")
    try:
        return review.decide(hub, pair_id, decision, actor=actor(caller))
    except MergeError as exc:  # decided meanwhile, or a record of the pair is gone
        raise Conflict(str(exc)) from None
