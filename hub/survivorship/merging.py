"""Merge two golden records into one, and split a wrong merge apart again.

A merge keeps the survivor's id: the other record's values compete field by field under
the entity's survivorship rules (each with the source and business time it came with),
then every unrestricted field is decided again over the source records of both; its
xrefs move to the survivor, its overrides too where the survivor has none, and both rows
as they were go into ``golden_merge``. An unmerge restores the merged record from that
snapshot (same id, its restricted values still sealed under its own key), moves its xrefs
back, and decides both records again over the source records each has then; the pair is
then remembered as "kept apart".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, update

from hub.audit.record import AuditLog
from hub.canonical import builtin_fields
from hub.context import Hub
from hub.errors import HubError
from hub.golden.rows import history_row
from hub.golden.writer import GoldenWriter, fetch_overrides
from hub.matching import settings as mm
from hub.store import bulk, goldens
from hub.store import matching_store as ms
from hub.store.matching_tables import GoldenMerge
from hub.store.tables import Xref
from hub.survivorship import sources
from hub.survivorship.rules import Survivorship
from policies.envelope import is_sealed


class MergeError(HubError):
    """A merge or unmerge that cannot be done (missing record, already undone, ...)."""


class Steward:
    """Merge, unmerge and decide review pairs for one entity of an open hub."""

    def __init__(self, hub: Hub, entity: str):
        self.hub, self.entity = hub, entity
        specs = hub.deployment.fields[entity]
        self.builtin = [n for n, s in specs.items() if not s.custom]
        self.custom = [n for n, s in specs.items() if s.custom]
        self.types = {n: s.type for n, s in specs.items()}
        cfg = hub.deployment.config
        self.rules = Survivorship(mm.survivorship_for(cfg, entity), specs)

    def writer(self, actor: str) -> GoldenWriter:
        """The single write path, with an audit log in the steward's name."""
        return GoldenWriter(self.hub.deployment, self.hub.sealer, self.entity,
                            audit=AuditLog(self.hub.sealer.keyring, f"steward:{actor}"))

    @staticmethod
    def event(outcome: str, **detail: Any) -> dict[str, Any]:
        return {"kind": "steward", "outcome": outcome, "source": "steward",
                "destination": "hub", **detail}

    # -- helpers -----------------------------------------------------------------------------

    def _values(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**{f: row.get(f) for f in self.builtin}, **(row.get("custom") or {})}

    def _row(self, base: dict[str, Any], values: dict[str, Any], prov: dict[str, Any],
             now: dt.datetime) -> dict[str, Any]:
        return {**base, **{f: values.get(f) for f in self.builtin},
                "custom": {f: values[f] for f in self.custom if values.get(f) is not None},
                "provenance": prov, "version": base["version"] + 1, "updated_at": now}

    # -- merge ---------------------------------------------------------------------------------

    def merge(self, survivor: str, merged: str, *, actor: str, run_id: int | None = None
              ) -> int:
        """Merge ``merged`` into ``survivor``; return the merge's id (for an unmerge).
        The write path's merge, the one the sync's automatic merges use too."""
        if survivor == merged:
            raise MergeError("a golden record cannot be merged with itself")
        writer = self.writer(actor)
        with self.hub.engine.begin() as conn:
            writer.lock(conn)
            found = bulk.fetch_goldens(conn, self.entity, [survivor, merged])
            missing = [g for g in (survivor, merged) if g not in found]
            if missing:
                raise MergeError(f"no {self.entity} {missing[0]}")
            event = {k: v for k, v in self.event("", run_id=run_id).items() if k != "outcome"}
            return writer.merge(conn, survivor, merged, actor=actor, run_id=run_id,
                                now=dt.datetime.now(dt.UTC), event=event)

    # -- unmerge -------------------------------------------------------------------------------

    def unmerge(self, merge_id: int, *, actor: str) -> tuple[str, str]:
        """Split merge ``merge_id``; return (survivor, restored id)."""
        now = dt.datetime.now(dt.UTC)
        m = bulk.table_of(GoldenMerge)
        writer = self.writer(actor)
        with self.hub.engine.begin() as conn:
            writer.lock(conn)
            rec = conn.execute(select(m).where(m.c.id == merge_id,
                                               m.c.entity == self.entity)).first()
            if rec is None:
                raise MergeError(f"no merge #{merge_id} of {self.entity} records")
            if rec.undone_at is not None:
                raise MergeError(f"merge #{merge_id} was undone already")
            survivor, merged = rec.survivor_id, rec.merged_id
            current = goldens.read(conn, self.hub.sealer, self.entity, [survivor])
            if survivor not in current:
                raise MergeError(f"{survivor} was merged into another record since: "
                                 "undo that merge first")
            x = bulk.table_of(Xref)
            for system, key in rec.moved_xrefs:
                conn.execute(update(x).where(x.c.entity == self.entity, x.c.system == system,
                                             x.c.source_key == key, x.c.golden_id == survivor)
                             .values(golden_id=merged))
            row = self._rebuilt(conn, current[survivor],
                                _restore(self.entity, rec.survivor_row), now)
            snapshot = _restore(self.entity, rec.merged_row)
            restored = self._rebuilt(conn, snapshot, dict(snapshot), now)
            history = [history_row(self.entity, r, self.builtin, system="steward", run_id=None,
                                   now=now) for r in (row, restored)]
            writer.save(conn, inserts=[restored], updates=[row], history=history,
                        before={survivor: current[survivor]}, event=self.event("unmerged"))
            ms.set_pair_status(conn, self.entity, survivor, merged, "kept_apart", actor, now)
            conn.execute(update(m).where(m.c.id == merge_id).values(undone_at=now))
        return survivor, merged

    def _rebuilt(self, conn: Connection, current: dict[str, Any], before: dict[str, Any],
                 now: dt.datetime) -> dict[str, Any]:
        """``before`` (a pre-merge snapshot), decided again over the record's live source
        records as they are now (what they sent since included): the next version of
        ``current``."""
        self.hub.sealer.open_goldens(conn, self.entity, [before])
        values, prov = self._values(before), dict(before.get("provenance") or {})
        overrides = fetch_overrides(conn, self.entity, [current["id"]],
                                    self.types).get(current["id"], {})
        own = sources.load(conn, self.entity, [current["id"]], self.types)[current["id"]]
        values, prov, _ = self.rules.resolve(values, prov, own, overrides)
        return self._row(current, values, prov, now)


def _restore(entity: str, snapshot: dict[str, Any]) -> dict[str, Any]:
    """A golden row from its JSON snapshot: dates and decimals typed again, sealed values
    left exactly as stored (they open only under their own record's key)."""
    row = dict(snapshot)
    for key in ("created_at", "updated_at"):
        if isinstance(row.get(key), str):
            row[key] = dt.datetime.fromisoformat(row[key])
    for name, spec in builtin_fields(entity).items():
        value = row.get(name)
        if not isinstance(value, str) or is_sealed(value):
            continue
        if spec.type == "date":
            row[name] = dt.date.fromisoformat(value)
        elif spec.type == "decimal":
            row[name] = Decimal(value)
    return row
