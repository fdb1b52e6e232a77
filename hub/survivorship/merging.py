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

from sqlalchemy import Connection, delete, select, update

from hub.audit.record import AuditLog
from hub.canonical import builtin_fields
from hub.context import Hub
from hub.errors import HubError
from hub.golden.rows import history_row
from hub.golden.writer import GoldenWriter, fetch_overrides
from hub.matching import settings as mm
from hub.records import jsonable
from hub.store import bulk, goldens
from hub.store import matching_store as ms
from hub.store.matching_tables import GoldenMerge, GoldenOverride, ReviewPair
from hub.store.tables import Xref
from hub.survivorship import sources
from hub.survivorship.rules import Sources, Survivorship
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

    def _fold(self, values: dict[str, Any], prov: dict[str, Any], other: dict[str, Any],
              other_prov: dict[str, Any], overrides: dict[str, Any], sources: Sources
              ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``other``'s values compete, each with the source and time it came with; then
        every field is decided again over the source records of both (``sources``)."""
        for field, value in other.items():
            stamp = other_prov.get(field) or {}
            source = {k: stamp.get(k) for k in ("system", "key", "run")}
            values, prov, _ = self.rules.merge(values, prov, {field: value},
                                               observed_at=str(stamp.get("at", "")),
                                               source=source, overrides=overrides)
        values, prov, _ = self.rules.resolve(values, prov, sources, overrides)
        return values, prov

    def _pair_status(self, conn: Connection, a: str, b: str, status: str, actor: str,
                     now: dt.datetime) -> None:
        x, y = ms.ordered(a, b)
        t = bulk.table_of(ReviewPair)
        found = conn.execute(update(t).where(t.c.entity == self.entity, t.c.golden_a == x,
                                             t.c.golden_b == y).values(
            status=status, decided_at=now, decided_by=actor))
        if not found.rowcount:
            bulk.insert_rows(conn, t, [{
                "entity": self.entity, "golden_a": x, "golden_b": y, "score": 1.0,
                "evidence": {"decided": "by steward"}, "system": None, "source_key": None,
                "run_id": None, "status": status, "created_at": now, "decided_at": now,
                "decided_by": actor}])

    # -- merge ---------------------------------------------------------------------------------

    def merge(self, survivor: str, merged: str, *, actor: str, run_id: int | None = None
              ) -> int:
        """Merge ``merged`` into ``survivor``; return the merge's id (for an unmerge)."""
        if survivor == merged:
            raise MergeError("a golden record cannot be merged with itself")
        now = dt.datetime.now(dt.UTC)
        writer = self.writer(actor)
        with self.hub.engine.begin() as conn:
            writer.lock(conn)
            raw = bulk.fetch_goldens(conn, self.entity, [survivor, merged])
            missing = [g for g in (survivor, merged) if g not in raw]
            if missing:
                raise MergeError(f"no {self.entity} {missing[0]}")
            opened = goldens.read(conn, self.hub.sealer, self.entity, [survivor, merged])
            keep, gone = opened[survivor], opened[merged]
            overrides = fetch_overrides(conn, self.entity, [survivor, merged], self.types)
            mine, theirs = overrides.get(survivor, {}), overrides.get(merged, {})
            moved_overrides = {f: v for f, v in theirs.items() if f not in mine}
            both = sources.load(conn, self.entity, [survivor, merged], self.types)
            both[survivor].absorb(both[merged])
            values, prov = self._fold(self._values(keep), dict(keep["provenance"] or {}),
                                      self._values(gone), gone["provenance"] or {},
                                      {**mine, **moved_overrides}, both[survivor])
            row = self._row(keep, values, prov, now)
            system = "steward" if actor != "auto" else "merge"
            writer.save(conn, updates=[row], before={survivor: keep},
                        history=[history_row(self.entity, row, self.builtin, system=system,
                                             run_id=run_id, now=now)],
                        event=self.event("merged", run_id=run_id))
            x = bulk.table_of(Xref)
            moved = [[r.system, r.source_key] for r in conn.execute(
                select(x.c.system, x.c.source_key).where(x.c.entity == self.entity,
                                                         x.c.golden_id == merged))]
            conn.execute(update(x).where(x.c.entity == self.entity, x.c.golden_id == merged)
                         .values(golden_id=survivor))
            o = bulk.table_of(GoldenOverride)
            if moved_overrides:
                conn.execute(update(o).where(o.c.entity == self.entity, o.c.golden_id == merged,
                                             o.c.field.in_(list(moved_overrides)))
                             .values(golden_id=survivor))
            conn.execute(delete(o).where(o.c.entity == self.entity, o.c.golden_id == merged))
            # merged away: its row goes, and each target drops (or keeps) its copy
            writer.remove(conn, [merged], system=system, run_id=run_id, now=now,
                          versions={merged: gone["version"]},
                          event=self.event("merged_away", run_id=run_id))
            r = bulk.table_of(ReviewPair)
            conn.execute(update(r).where(r.c.entity == self.entity, r.c.status == "open",
                                         (r.c.golden_a == merged) | (r.c.golden_b == merged))
                         .values(status="obsolete", decided_at=now))
            self._pair_status(conn, survivor, merged, "merged", actor, now)
            result = conn.execute(bulk.table_of(GoldenMerge).insert().values(
                entity=self.entity, survivor_id=survivor, merged_id=merged,
                survivor_row=_jsonable(raw[survivor]), merged_row=_jsonable(raw[merged]),
                moved_xrefs=moved, actor=actor, run_id=run_id, merged_at=now))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

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
            self._pair_status(conn, survivor, merged, "kept_apart", actor, now)
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


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return jsonable(row)


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
