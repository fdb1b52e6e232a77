"""Data-subject rights: access (GDPR Art. 15) and erasure (Art. 17, with Art. 19 notices).

Access gathers what Kontor holds on one person — through the privacy gate for the
`export:subject-access` destination — and where it sent it. Erasure crypto-shreds the
person's restricted values, blanks the golden record, drops its history, asks every
target that received it to delete it, and keeps in the trail only that it happened.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from connectors.base import Capability
from hub.audit import query
from hub.audit.record import AuditLog
from hub.context import Hub
from hub.golden.writer import GoldenWriter
from hub.records import jsonable
from hub.store import bulk, goldens
from hub.store import matching_store as ms
from hub.store.shredding import flush_log, zeroing_deletes
from hub.store.tables import Delivery, RecordHistory, Xref
from policies.engine import Destination

SUBJECT_ACCESS = Destination("export:subject-access", "export", "essential.legal_obligation")


def access_report(hub: Hub, entity: str, golden_id: str) -> dict[str, Any] | None:
    specs = hub.deployment.fields[entity]
    with hub.engine.connect() as conn:
        row = goldens.read(conn, hub.sealer, entity, [golden_id]).get(golden_id)
        if row is None:
            return None
        x = bulk.table_of(Xref)
        held_by = [dict(r._mapping) for r in conn.execute(
            select(x.c.system, x.c.source_key, x.c.first_run, x.c.last_run)
            .where(x.c.entity == entity, x.c.golden_id == golden_id))]
        trail = query.trace(conn, entity, golden_id)
    record = {**{f: row.get(f) for f in specs if not specs[f].custom}, **row["custom"]}
    released, decisions = hub.deployment.gate().release(entity, record, SUBJECT_ACCESS,
                                                        record=record, record_id=golden_id)
    withheld = sorted(d.field for d in decisions if d.field not in released
                      and record.get(d.field) is not None)
    sent = [{"when": r["at"], "to": r["destination"], "purpose": r["purpose"],
             "policy_version": r["policy_version"],
             "fields": {f["field"]: f["action"] for f in r["fields"] if f["action"] != "deny"}}
            for r in trail if r["kind"] == "transfer.out" and r["outcome"] == "sent"]
    received = [{"when": r["at"], "from": r["source"]} for r in trail
                if r["kind"] == "transfer.in"]
    return jsonable({"subject": golden_id, "entity": entity, "data": released,
                     "withheld_by_policy": withheld,
                     "categories": {f: specs[f].category.key for f in released},
                     "held_by_systems": held_by, "received_from": received, "sent_to": sent,
                     "generated_at": dt.datetime.now(dt.UTC)}, sort=False)


@dataclass
class Erasure:
    golden_id: str
    deleted_in: list[str] = field(default_factory=list)
    to_do_by_hand: list[str] = field(default_factory=list)  # targets that cannot delete
    failed: list[str] = field(default_factory=list)


def erase(hub: Hub, entity: str, golden_id: str, *, actor: str) -> Erasure | None:
    deployment, result = hub.deployment, Erasure(golden_id)
    d = bulk.table_of(Delivery)
    with hub.engine.connect() as conn:
        if not bulk.fetch_goldens(conn, entity, [golden_id]):
            return None
        held = [dict(r._mapping) for r in conn.execute(
            select(d).where(d.c.golden_id == golden_id))]
    streams = {(s.system, s.name): s for s in deployment.streams("outbound")}
    for delivery in held:  # Art. 19: tell every recipient
        stream = streams.get((delivery["system"], delivery["stream"]))
        label = f"{delivery['system']}.{delivery['stream']}"
        if stream is None:
            result.to_do_by_hand.append(f"{label} (no longer configured)")
            continue
        system = deployment.systems[stream.system]
        if Capability.DELETE not in system.connector_cls.capabilities:
            result.to_do_by_hand.append(f"{label} (its connector cannot delete)")
            continue
        try:
            with system.connect(deployment.base_dir) as connector:
                outcome = connector.delete(stream.spec, [delivery["target_key"]])
        except Exception as exc:  # noqa: BLE001 - one target down must not stop erasure
            result.failed.append(f"{label} ({type(exc).__name__})")
            continue
        (result.failed if outcome.rejected else result.deleted_in).append(label)

    log = AuditLog(deployment.keyring(), actor)
    writer = GoldenWriter(deployment, hub.sealer, entity, audit=log)
    now = dt.datetime.now(dt.UTC)
    with hub.engine.begin() as conn, zeroing_deletes(conn):
        writer.lock(conn)
        before = goldens.read(conn, hub.sealer, entity, [golden_id])[golden_id]
        blank = {**before, **{c: None for c in writer.builtin}, "custom": {},
                 "provenance": {}, "updated_at": now}
        # Blank, and retired: every target that still holds the person deletes them (or
        # keeps them, per its on_golden_delete), also the ones down right now.
        writer.save(conn, updates=[blank], before={golden_id: before})
        writer.retire(conn, [golden_id], reason="erased (Art. 17)", run_id=None, now=now)
        hub.sealer.forget(conn, entity, golden_id)  # after the save: no key survives it
        ms.forget_sources(conn, entity, [golden_id])  # what each system last sent, too
        h = bulk.table_of(RecordHistory)
        conn.execute(delete(h).where(h.c.entity == entity, h.c.golden_id == golden_id))
        for label in result.deleted_in:  # what is gone there needs no more delivery state
            sys_name, _, stream_name = label.partition(".")
            conn.execute(delete(d).where(d.c.golden_id == golden_id, d.c.system == sys_name,
                                         d.c.stream == stream_name))
        log.add("erasure", "done" if not (result.failed or result.to_do_by_hand) else "partial",
                entity=entity, golden_id=golden_id,
                detail={"deleted_in": result.deleted_in, "by_hand": result.to_do_by_hand,
                        "failed": result.failed})
        log.flush(conn)
    flush_log(hub.engine, entity)  # the replaced pages leave the write-ahead log too
    return result
