"""Writes through the API and SCIM: one more source, merged by the sync's own rules.

A write is observed *now*, merges field by field with ``hub.sync.inbound.merge_into``
(latest business time wins), bumps the version when a value changed, and leaves a history
row, exactly as a synced record would. Its provenance names the channel and the token.
Unlike a system's record, a write may also clear fields: a caller saying "no value" is a
statement, not an absence.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, delete
from sqlalchemy import update as sql_update
from sqlalchemy.exc import OperationalError

from hub.api.problems import Conflict, NotFound, PreconditionFailed
from hub.auth.tokens import Caller
from hub.canonical import MODELS, business_key
from hub.config import Deployment
from hub.context import Hub
from hub.store import bulk, goldens
from hub.store.sealing import Sealer
from hub.store.tables import RecordHistory, Xref
from hub.sync.inbound import history_row, merge_into, new_golden

T = TypeVar("T")
_ATTEMPTS = 8


@dataclass(frozen=True)
class WriteSource:
    """Who writes: the channel (``api`` or ``scim``) and the caller's token."""

    system: str
    caller: Caller

    def provenance(self) -> dict[str, Any]:
        return {"system": self.system, "key": f"token:{self.caller.token_id}", "run": None}


def _now() -> tuple[dt.datetime, str]:
    now = dt.datetime.now(dt.UTC)
    return now, now.replace(tzinfo=None).isoformat(timespec="seconds")


def _split(deployment: Deployment, entity: str) -> tuple[list[str], list[str]]:
    specs = deployment.fields[entity]
    return ([n for n, s in specs.items() if not s.custom],
            [n for n, s in specs.items() if s.custom])


def _check_unique(conn: Connection, entity: str, values: dict[str, Any],
                  unique: Collection[str], own_id: str | None) -> None:
    for name in {business_key(entity), *unique}:
        value = values.get(name)
        if value is None:
            continue
        holder = bulk.fetch_ids_by_field(conn, entity, name, [value]).get(value)
        if holder is not None and holder != own_id:
            raise Conflict(f"{entity} {holder} already has this {name}", scim_type="uniqueness")


def load(conn: Connection, sealer: Sealer, entity: str, golden_id: str) -> dict[str, Any]:
    """One golden row, restricted values opened; 404 when there is none."""
    row = goldens.read(conn, sealer, entity, [golden_id]).get(golden_id)
    if row is None:
        raise NotFound(f"{entity} {golden_id}")
    return row


def _sealed(sealer: Sealer, conn: Connection, entity: str, row: dict[str, Any],
            history: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Copies of a golden row and its history row with restricted values sealed."""
    row = {**row, "custom": dict(row["custom"])}
    history = {**history, "data": {**history["data"], "custom": dict(history["data"]["custom"])}}
    sealer.seal_goldens(conn, entity, [row])
    sealer.seal_history(conn, entity, [history])
    return row, history


def _retrying(write: Callable[[], T]) -> T:
    """Run a read-then-write transaction, again if SQLite refused its upgrade to a writer.

    A deferred SQLite transaction that read before another connection wrote cannot start
    writing ("database is locked", without waiting): repeating it reads the new state, so
    the version check then answers 412 where it should.
    """
    for attempt in range(_ATTEMPTS):
        try:
            return write()
        except OperationalError as exc:
            if "database is locked" not in str(exc.orig) or attempt == _ATTEMPTS - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


def create(hub: Hub, entity: str, values: dict[str, Any], source: WriteSource, *,
           unique: Collection[str] = ()) -> dict[str, Any]:
    """A new golden record from ``values``; 409 when a unique field is taken."""
    return _retrying(lambda: _create(hub, entity, values, source, unique))


def _create(hub: Hub, entity: str, values: dict[str, Any], source: WriteSource,
            unique: Collection[str]) -> dict[str, Any]:
    builtin, custom = _split(hub.deployment, entity)
    now, observed = _now()
    with hub.engine.begin() as conn:
        _check_unique(conn, entity, values, unique, None)
        golden_id = bulk.claim_ids(conn, entity, 1)[0]
        row, _ = merge_into(new_golden(golden_id, now, builtin), values, observed_at=observed,
                            source=source.provenance(), builtin=builtin, custom=custom)
        row.update(version=1, updated_at=now)
        sealed, history = _sealed(hub.sealer, conn, entity, row, history_row(
            entity, row, builtin, system=source.system, run_id=None, now=now))
        bulk.insert_rows(conn, bulk.table_of(MODELS[entity]), [sealed])
        bulk.insert_rows(conn, bulk.table_of(RecordHistory), [history])
    return row


def update(hub: Hub, entity: str, golden_id: str, *, expected_version: int | None,
           values: dict[str, Any], clear: Collection[str], source: WriteSource,
           unique: Collection[str] = ()) -> dict[str, Any]:
    """Merge ``values`` into a golden record and clear ``clear``; 412 on a stale version."""
    return _retrying(lambda: _update(hub, entity, golden_id, expected_version, values, clear,
                                     source, unique))


def _update(hub: Hub, entity: str, golden_id: str, expected_version: int | None,
            values: dict[str, Any], clear: Collection[str], source: WriteSource,
            unique: Collection[str]) -> dict[str, Any]:
    builtin, custom = _split(hub.deployment, entity)
    table = bulk.table_of(MODELS[entity])
    now, observed = _now()
    with hub.engine.begin() as conn:
        row = load(conn, hub.sealer, entity, golden_id)
        if expected_version is not None and row["version"] != expected_version:
            raise PreconditionFailed(f"{entity} {golden_id} is at another version")
        _check_unique(conn, entity, values, unique, golden_id)
        held = {**{f: row.get(f) for f in builtin}, **(row["custom"] or {})}
        # Only what differs: restating a value must not claim its provenance.
        given = {k: v for k, v in values.items() if v is not None and held.get(k) != v}
        merged, changed = merge_into(row, given, observed_at=observed,
                                     source=source.provenance(), builtin=builtin, custom=custom)
        for name in clear:
            held = merged[name] if name in builtin else merged["custom"].get(name)
            if held is None:
                continue
            if name in builtin:
                merged[name] = None
            else:
                merged["custom"] = {k: v for k, v in merged["custom"].items() if k != name}
            merged["provenance"] = {**merged["provenance"],
                                    name: {**source.provenance(), "at": observed}}
            changed = True
        if not changed:
            return row
        merged.update(version=row["version"] + 1, updated_at=now)
        sealed, history = _sealed(hub.sealer, conn, entity, merged, history_row(
            entity, merged, builtin, system=source.system, run_id=None, now=now))
        done = conn.execute(sql_update(table).where(table.c.id == golden_id,
                                                table.c.version == row["version"])
                            .values({k: v for k, v in sealed.items()
                                     if k not in ("id", "created_at")})).rowcount
        if done != 1:  # another writer committed between our read and this update
            raise PreconditionFailed(f"{entity} {golden_id} changed meanwhile")
        bulk.insert_rows(conn, bulk.table_of(RecordHistory), [history])
    return merged


def remove(hub: Hub, entity: str, golden_id: str, *, expected_version: int | None,
           source: WriteSource) -> None:
    """Delete a golden record and its xrefs, and shred its data key: the history stays,
    ending in an empty version, but its restricted values become unreadable.

    Targets that already received the record keep it: outbound deletes are not sent yet.
    """
    _retrying(lambda: _remove(hub, entity, golden_id, expected_version, source))


def _remove(hub: Hub, entity: str, golden_id: str, expected_version: int | None,
            source: WriteSource) -> None:
    table = bulk.table_of(MODELS[entity])
    now, _ = _now()
    with hub.engine.begin() as conn:
        row = load(conn, hub.sealer, entity, golden_id)
        if expected_version is not None and row["version"] != expected_version:
            raise PreconditionFailed(f"{entity} {golden_id} is at another version")
        conn.execute(delete(table).where(table.c.id == golden_id))
        hub.sealer.forget(conn, entity, golden_id)  # sealed values in its history: shredded
        x = bulk.table_of(Xref)
        conn.execute(delete(x).where(x.c.entity == entity, x.c.golden_id == golden_id))
        bulk.insert_rows(conn, bulk.table_of(RecordHistory), [{
            "entity": entity, "golden_id": golden_id, "version": row["version"] + 1,
            "data": {}, "system": source.system, "run_id": None, "changed_at": now}])
