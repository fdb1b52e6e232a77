"""The single write path: every change to a golden record is one unit of work.

Inbound syncs, API and SCIM writes, a steward's merge, unmerge and override, erasure and
retirement all change golden records through ``GoldenWriter``, inside the caller's
transaction. In that one transaction it

1. takes the entity lock (``lock``), before the caller reads what it decides on, so two
   writers of one entity never match against each other's uncommitted records;
2. writes the golden rows (restricted fields sealed), their history and provenance;
3. keeps the match keys in step with the values, so matching finds the record later;
4. puts the record into the outbox of every subscribed target stream (a record removed or
   retired goes there too: the target then deletes, deactivates or keeps it);
5. appends the audit entries.

Nothing else writes the golden tables: ``tests/test_write_path.py`` fails any statement
that changes them outside ``GoldenWriter``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from hub.audit.record import AuditLog
from hub.canonical import MODELS
from hub.config import Deployment
from hub.errors import StoreError
from hub.golden.rows import history_row, split_fields, values_of
from hub.matching import fs_model
from hub.matching import settings as mm
from hub.matching.matcher import Matcher
from hub.records import jsonable
from hub.store import bulk, goldens, outbox
from hub.store import matching_store as ms
from hub.store.matching_tables import GoldenMerge, GoldenOverride, GoldenRetired, ReviewPair
from hub.store.sealing import Sealer
from hub.store.tables import RecordHistory, Xref
from hub.survivorship import sources as survivor_sources
from hub.survivorship.rules import Survivorship, typed
from policies.keys import Keyring

#: Set while a GoldenWriter writes: the test suite refuses golden-table writes without it.
writing: contextvars.ContextVar[bool] = contextvars.ContextVar("kontor_golden_writing",
                                                               default=False)


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    token = writing.set(True)
    try:
        yield
    finally:
        writing.reset(token)


def key_digest(deployment: Deployment, keyring: Keyring | None = None) -> ms.KeyDigest:
    """The digest for match keys, keyed by the deployment's first master key.

    The first key, not the active one: rotating keys must not make every stored match key
    unfindable. ``keyring``: the one already loaded (else it is read from its file).
    """
    keyring = keyring or deployment.keyring()
    first = next(iter(keyring.keys))
    return ms.KeyDigest(keyring.derive("kontor-match-keys", key_id=first))


def matcher_for(deployment: Deployment, entity: str, keyring: Keyring | None = None,
                model: fs_model.Model | None = None) -> Matcher:
    """The entity's matcher, scoring with ``model`` if given, else with the deployment's
    model file (if there is one)."""
    cfg = deployment.config
    # records are compared on what each source record's stored values hold: the
    # unrestricted fields (see MatchMerge.xref_state)
    compare = [n for n, spec in deployment.fields[entity].items() if not spec.restricted]
    return Matcher(entity, mm.matching_for(cfg, entity), mm.rules_for(cfg, entity),
                   key_digest(deployment, keyring),
                   model or fs_model.for_deployment(deployment.base_dir, entity),
                   compare_fields=compare)


def survivorship(deployment: Deployment, entity: str) -> Survivorship:
    """The entity's configured survivorship rules."""
    return Survivorship(mm.survivorship_for(deployment.config, entity),
                        deployment.fields[entity])  # the specs: custom fields by category


def fetch_overrides(conn: Connection, entity: str, ids: Sequence[str],
                    types: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """golden id -> {field: steward's value}, typed by ``types`` (field -> type name)."""
    t = bulk.table_of(GoldenOverride)
    found: dict[str, dict[str, Any]] = {}
    for part in bulk.chunks(list(ids)):
        for r in conn.execute(select(t.c.golden_id, t.c.field, t.c.value).where(
                t.c.entity == entity, t.c.golden_id.in_(part))):
            found.setdefault(r.golden_id, {})[r.field] = typed(
                (types or {}).get(r.field, "str"), r.value)
    return found


def subscribers(deployment: Deployment, entity: str) -> list[tuple[str, str]]:
    """(system, stream) of every outbound stream that receives ``entity``."""
    return [(s.system, s.name) for s in deployment.streams("outbound") if s.entity == entity]


class GoldenWriter:
    """Writes golden records of one entity; every method runs in the caller's transaction.

    ``audit``: where the writer's own entries go (a sync adds its transfer entries to the
    same log and flushes them in the same transaction).
    """

    def __init__(self, deployment: Deployment, sealer: Sealer, entity: str, *,
                 audit: AuditLog | None = None, matcher: Matcher | None = None):
        self.deployment, self.sealer, self.entity, self.audit = deployment, sealer, entity, audit
        self.builtin, self.custom = split_fields(deployment.fields[entity])
        self.subscribers = subscribers(deployment, entity)
        self.matcher = matcher or matcher_for(deployment, entity, sealer.keyring)

    def lock(self, conn: Connection) -> None:
        """Call first in the transaction: see ``bulk.lock_entity``."""
        bulk.lock_entity(conn, self.entity)

    # -- create and change ------------------------------------------------------------------

    def save(self, conn: Connection, *, inserts: Sequence[dict[str, Any]] = (),
             updates: Sequence[dict[str, Any]] = (), history: Sequence[dict[str, Any]] = (),
             before: Mapping[str, Mapping[str, Any]], keys: Mapping[str, set[str]] | None = None,
             event: dict[str, Any] | None = None) -> None:
        """Insert ``inserts``, update ``updates`` (whole rows, values in clear), append
        ``history``; match keys follow the values (``before``: id -> the row as it was;
        ``keys``: id -> keys already computed, for new records); every record enters the
        outbox of each subscribed target. ``event`` (kind, outcome, source, ...): one audit
        entry per record, naming the fields that changed, never their values."""
        rows = [*inserts, *updates]
        if not rows and not history:
            return
        noted = [(row["id"], row.get("version"), self._changed(before.get(row["id"]), row))
                 for row in rows] if event is not None and self.audit is not None else []
        with _writing():
            self._rekey(conn, rows, before, keys or {})  # on the values, before sealing
            goldens.write(conn, self.sealer, self.entity, inserts=list(inserts),
                          updates=list(updates), history=list(history),
                          outbox_streams=self.subscribers)
            if event is not None and self.audit is not None:
                for gid, version, fields in noted:
                    self.audit.add(**event, entity=self.entity, golden_id=gid,
                                   detail={"version": version, "fields": fields})
                self.audit.flush(conn)

    def _changed(self, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
        a = values_of(dict(old), self.builtin) if old else {}
        b = values_of(dict(new), self.builtin)
        return sorted(f for f in set(a) | set(b) if a.get(f) != b.get(f))

    def _rekey(self, conn: Connection, rows: Sequence[Mapping[str, Any]],
               before: Mapping[str, Mapping[str, Any]], given: Mapping[str, set[str]]) -> None:
        added: list[tuple[str, str]] = []
        removed: list[tuple[str, str]] = []
        for row in rows:
            gid = row["id"]
            new = given.get(gid)
            if new is None:
                new = self.matcher.keys_of(row)
            old = self.matcher.keys_of(before[gid]) if gid in before else set()
            added += [(k, gid) for k in new - old]
            removed += [(k, gid) for k in old - new]
        ms.remove_keys(conn, self.entity, removed)
        ms.add_keys(conn, self.entity, added)

    # -- merge ------------------------------------------------------------------------------

    def merge(self, conn: Connection, survivor: str, merged: str, *, actor: str,
              run_id: int | None, now: dt.datetime, event: dict[str, Any] | None = None,
              why: Mapping[str, Any] | None = None) -> int:
        """Merge golden record ``merged`` into ``survivor``; returns the merge's id.

        The caller holds the entity lock. ``merged``'s values compete under survivorship,
        its xrefs move to ``survivor``, its overrides too where ``survivor`` has none; it
        leaves every target; both rows as stored go into ``golden_merge`` (what
        ``kontor steward unmerge`` restores); the pair is remembered as merged and its
        open review pairs become obsolete. ``event``: the audit entries' kind, source,
        ... (outcomes "merged" and "merged_away"); ``why``: what linked the two (for an
        automatic merge: score, model, comparison levels, the source record), in the
        merged-away record's entry, text only.
        """
        entity = self.entity
        raw = bulk.fetch_goldens(conn, entity, [survivor, merged])
        missing = [g for g in (survivor, merged) if g not in raw]
        if missing or survivor == merged:
            raise StoreError(f"cannot merge {entity} {merged} into {survivor}: "
                             + (f"no {missing[0]}" if missing else "the same record"))
        opened = goldens.read(conn, self.sealer, entity, [survivor, merged])
        keep, gone = opened[survivor], opened[merged]
        types = {n: spec.type for n, spec in self.deployment.fields[entity].items()}
        overrides = fetch_overrides(conn, entity, [survivor, merged], types)
        mine, theirs = overrides.get(survivor, {}), overrides.get(merged, {})
        moved_overrides = {f: v for f, v in theirs.items() if f not in mine}
        both = survivor_sources.load(conn, entity, [survivor, merged], types)
        both[survivor].absorb(both[merged])
        row = self._folded(keep, gone, {**mine, **moved_overrides}, both[survivor], now)
        system = "steward" if actor != "auto" else "merge"
        event = event or {"kind": "record.merge", "source": system, "destination": "hub",
                          "run_id": run_id}
        self.save(conn, updates=[row], before={survivor: keep},
                  history=[history_row(entity, row, self.builtin, system=system,
                                       run_id=run_id, now=now)],
                  event={**event, "outcome": "merged"})
        x = bulk.table_of(Xref)
        moved = [[r.system, r.source_key] for r in conn.execute(
            select(x.c.system, x.c.source_key).where(x.c.entity == entity,
                                                     x.c.golden_id == merged))]
        conn.execute(update(x).where(x.c.entity == entity, x.c.golden_id == merged)
                     .values(golden_id=survivor))
        o = bulk.table_of(GoldenOverride)
        if moved_overrides:
            conn.execute(update(o).where(o.c.entity == entity, o.c.golden_id == merged,
                                         o.c.field.in_(list(moved_overrides)))
                         .values(golden_id=survivor))
        conn.execute(delete(o).where(o.c.entity == entity, o.c.golden_id == merged))
        merge_id = int(conn.execute(bulk.table_of(GoldenMerge).insert().values(
            entity=entity, survivor_id=survivor, merged_id=merged,
            survivor_row=jsonable(raw[survivor]), merged_row=jsonable(raw[merged]),
            moved_xrefs=moved, actor=actor, run_id=run_id, merged_at=now)
        ).inserted_primary_key[0])  # type: ignore[index]
        detail = {"into": survivor, "merge_id": str(merge_id),
                  **{k: str(v) for k, v in (why or {}).items()}}
        # merged away: its row goes, and each target drops (or keeps) its copy
        self.remove(conn, [merged], system=system, run_id=run_id, now=now,
                    versions={merged: gone["version"]},
                    event={**event, "outcome": "merged_away", "detail": detail})
        r = bulk.table_of(ReviewPair)
        conn.execute(update(r).where(r.c.entity == entity, r.c.status == "open",
                                     (r.c.golden_a == merged) | (r.c.golden_b == merged))
                     .values(status="obsolete", decided_at=now))
        ms.set_pair_status(conn, entity, survivor, merged, "merged", actor, now)
        return merge_id

    def _folded(self, keep: dict[str, Any], gone: dict[str, Any], overrides: dict[str, Any],
                sources: survivor_sources.Sources, now: dt.datetime) -> dict[str, Any]:
        """``keep``'s next version: ``gone``'s values compete, each with the source and
        time it came with; then every field is decided again over both records'
        sources (as ``Steward.merge`` does)."""
        rules = survivorship(self.deployment, self.entity)
        values = values_of(keep, self.builtin)
        prov = dict(keep["provenance"] or {})
        gone_prov = gone["provenance"] or {}
        for field, value in values_of(gone, self.builtin).items():
            stamp = gone_prov.get(field) or {}
            source = {k: stamp.get(k) for k in ("system", "key", "run")}
            values, prov, _ = rules.merge(values, prov, {field: value},
                                          observed_at=str(stamp.get("at", "")),
                                          source=source, overrides=overrides)
        values, prov, _ = rules.resolve(values, prov, sources, overrides)
        return {**keep, **{f: values.get(f) for f in self.builtin},
                "custom": {f: values[f] for f in self.custom if values.get(f) is not None},
                "provenance": prov, "version": keep["version"] + 1, "updated_at": now}

    # -- remove, retire, revive -------------------------------------------------------------

    def remove(self, conn: Connection, ids: Sequence[str], *, system: str,
               run_id: int | None, now: dt.datetime, versions: Mapping[str, int],
               event: dict[str, Any] | None = None) -> None:
        """Delete golden rows (an API/SCIM delete, a record merged into another): their
        match keys go, history ends in an empty version, and every target hears of it."""
        if not ids:
            return
        t = bulk.table_of(MODELS[self.entity])
        with _writing():
            outbox.enqueue(conn, self.entity, list(ids), self.subscribers)
            for part in bulk.chunks(list(ids)):
                conn.execute(delete(t).where(t.c.id.in_(part)))
            ms.remove_all_keys(conn, self.entity, list(ids))
            bulk.insert_rows(conn, bulk.table_of(RecordHistory), [{
                "entity": self.entity, "golden_id": gid, "version": versions[gid] + 1,
                "data": {}, "system": system, "run_id": run_id, "changed_at": now}
                for gid in ids])
            self._note(conn, ids, event)

    def retire(self, conn: Connection, ids: Sequence[str], *, reason: str,
               run_id: int | None, now: dt.datetime, event: dict[str, Any] | None = None
               ) -> list[str]:
        """Retire golden records (every source deleted them, or erased): they stay in the
        store, and every target deletes, deactivates or keeps them. Returns the newly
        retired."""
        fresh = sorted(set(ids) - ms.retired_ids(conn, self.entity, list(ids)))
        if not fresh:
            return []
        with _writing():
            bulk.insert_rows(conn, bulk.table_of(GoldenRetired), [
                {"entity": self.entity, "golden_id": g, "reason": reason[:200],
                 "run_id": run_id, "retired_at": now} for g in fresh])
            outbox.enqueue(conn, self.entity, fresh, self.subscribers)
            self._note(conn, fresh, event)
        return fresh

    def revive(self, conn: Connection, ids: Sequence[str]) -> None:
        """Retired records a source sends again live again, at the targets too."""
        t = bulk.table_of(GoldenRetired)
        back = sorted(ms.retired_ids(conn, self.entity, list(ids)))
        if not back:
            return
        with _writing():
            for part in bulk.chunks(back):
                conn.execute(t.delete().where(t.c.entity == self.entity,
                                              t.c.golden_id.in_(part)))
            outbox.enqueue(conn, self.entity, back, self.subscribers)

    # -- re-seal (no value changes) ---------------------------------------------------------

    def reseal(self, conn: Connection, rows: Sequence[dict[str, Any]],
               history: Sequence[dict[str, Any]] = ()) -> tuple[int, int]:
        """Rewrite the sealed columns of golden ``rows`` and the sealed values of
        ``history`` rows (all raw, as stored) in the current padded format.

        No value changes, so no new version, no outbox entry and no audit entry per record:
        only restricted columns, ``custom`` and ``provenance`` (whose entries for restricted
        fields are sealed too) are written. Returns (golden rows, history rows) rewritten.
        """
        sealer = self.sealer

        def copy(values: Mapping[str, Any]) -> dict[str, Any]:
            own = dict(values)
            for part in ("custom", "provenance"):
                if isinstance(own.get(part), dict):
                    own[part] = dict(own[part])
            return own

        changed = sealer.reseal(conn, self.entity, [copy(r) for r in rows], "id",
                                lambda r: (r, r.get("custom")))
        lived = sealer.reseal(conn, self.entity, [dict(h, data=copy(h["data"] or {}))
                                                  for h in history], "golden_id",
                              lambda h: (h["data"], h["data"].get("custom")))
        columns = sealer.builtin[self.entity]
        with _writing():
            if changed:
                bulk.update_goldens(conn, self.entity, [
                    {"id": r["id"], **{c: r[c] for c in columns}, "custom": r.get("custom"),
                     "provenance": r.get("provenance")} for r in changed])
            if lived:
                h = bulk.table_of(RecordHistory)
                conn.execute(h.update().where(h.c.id == bindparam("row_id"))
                             .values(data=bindparam("row_data")),
                             [{"row_id": r["id"], "row_data": r["data"]} for r in lived])
        return len(changed), len(lived)

    def _note(self, conn: Connection, ids: Sequence[str], event: dict[str, Any] | None) -> None:
        if event is None or self.audit is None:
            return
        for gid in ids:
            self.audit.add(**event, entity=self.entity, golden_id=gid)
        self.audit.flush(conn)
