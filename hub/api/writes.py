"""Writes through the API and SCIM: one more source, merged by the sync's own rules.

A write is observed *now*, merges field by field with ``hub.golden.rows.merge_into``
(latest business time wins), bumps the version when a value changed, and goes through the
single write path (``hub.golden.writer``) exactly as a synced record does: history, match
keys, an outbox entry for every subscribed target, and an audit entry, in one transaction.
Its provenance names the channel and the token.
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
from sqlalchemy.exc import OperationalError

from hub.api.payloads import InvalidValue
from hub.api.problems import Conflict, NotFound, PreconditionFailed
from hub.audit.record import AuditLog
from hub.auth.tokens import Caller
from hub.canonical import business_key
from hub.context import Hub
from hub.golden.rows import history_row, merge_into, new_golden, split_fields
from hub.golden.writer import GoldenWriter, fetch_overrides, survivorship
from hub.store import bulk, goldens
from hub.store import matching_store as ms
from hub.store.sealing import Sealer
from hub.store.tables import Xref

T = TypeVar("T")
_ATTEMPTS = 8


@dataclass(frozen=True)
class WriteSource:
    """Who writes: the channel (``api`` or ``scim``) and the caller's token."""

    system: str
    caller: Caller

    def provenance(self) -> dict[str, Any]:
        return {"system": self.system, "key": f"token:{self.caller.token_id}", "run": None}

    def event(self) -> dict[str, Any]:
        """The audit entry of a write: received from this channel, into the hub."""
        return {"kind": "transfer.in", "outcome": "received", "source": self.system,
                "destination": "hub", "source_key": f"token:{self.caller.token_id}"}

    def writer(self, hub: Hub, entity: str) -> GoldenWriter:
        log = AuditLog(hub.sealer.keyring, f"{self.system}:token {self.caller.token_id}")
        return GoldenWriter(hub.deployment, hub.sealer, entity, audit=log)


def _now() -> tuple[dt.datetime, str]:
    now = dt.datetime.now(dt.UTC)
    return now, now.replace(tzinfo=None).isoformat(timespec="seconds")


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
    """A new golden record from ``values``; 409 when a unique field is taken, 422 when
    there is no value at all (callers check for identifying ones first)."""
    if all(v is None for v in values.values()):
        raise InvalidValue("a new record needs at least one value")
    return _retrying(lambda: _create(hub, entity, values, source, unique))


def _create(hub: Hub, entity: str, values: dict[str, Any], source: WriteSource,
            unique: Collection[str]) -> dict[str, Any]:
    writer = source.writer(hub, entity)
    now, observed = _now()
    with hub.engine.begin() as conn:
        writer.lock(conn)
        _check_unique(conn, entity, values, unique, None)
        golden_id = bulk.claim_ids(conn, entity, 1)[0]
        row, _ = merge_into(new_golden(golden_id, now, writer.builtin), values,
                            observed_at=observed, source=source.provenance(),
                            builtin=writer.builtin, custom=writer.custom,
                            rules=survivorship(hub.deployment, entity))
        row.update(version=1, updated_at=now)
        history = history_row(entity, row, writer.builtin, system=source.system, run_id=None,
                              now=now)
        writer.save(conn, inserts=[_copy(row)], history=[history], before={},
                    event=source.event())
    return row


def _copy(row: dict[str, Any]) -> dict[str, Any]:
    """A row the writer may seal in place, while the caller keeps the values in clear."""
    return {**row, "custom": dict(row["custom"])}


def update(hub: Hub, entity: str, golden_id: str, *, expected_version: int | None,
           values: dict[str, Any], clear: Collection[str], source: WriteSource,
           unique: Collection[str] = ()) -> dict[str, Any]:
    """Merge ``values`` into a golden record and clear ``clear``; 412 on a stale version."""
    return _retrying(lambda: _update(hub, entity, golden_id, expected_version, values, clear,
                                     source, unique))


def _update(hub: Hub, entity: str, golden_id: str, expected_version: int | None,
            values: dict[str, Any], clear: Collection[str], source: WriteSource,
            unique: Collection[str]) -> dict[str, Any]:
    writer = source.writer(hub, entity)
    builtin, custom = split_fields(hub.deployment.fields[entity])
    now, observed = _now()
    with hub.engine.begin() as conn:
        writer.lock(conn)  # before the read: no other writer commits in between
        row = load(conn, hub.sealer, entity, golden_id)
        if expected_version is not None and row["version"] != expected_version:
            raise PreconditionFailed(f"{entity} {golden_id} is at another version")
        _check_unique(conn, entity, values, unique, golden_id)
        held = {**{f: row.get(f) for f in builtin}, **(row["custom"] or {})}
        # Only what differs: restating a value must not claim its provenance.
        given = {k: v for k, v in values.items() if v is not None and held.get(k) != v}
        types = {n: s.type for n, s in hub.deployment.fields[entity].items()}
        merged, changed = merge_into(
            row, given, observed_at=observed, source=source.provenance(), builtin=builtin,
            custom=custom, rules=survivorship(hub.deployment, entity),
            overrides=fetch_overrides(conn, entity, [golden_id], types).get(golden_id))
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
        history = history_row(entity, merged, builtin, system=source.system, run_id=None,
                              now=now)
        writer.save(conn, updates=[_copy(merged)], history=[history],
                    before={golden_id: row}, event=source.event())
    return merged


def remove(hub: Hub, entity: str, golden_id: str, *, expected_version: int | None,
           source: WriteSource) -> None:
    """Delete a golden record and its xrefs, and shred its data key: the history stays,
    ending in an empty version, but its restricted values become unreadable. Every target
    that received the record deletes, deactivates or keeps it, per its
    ``on_golden_delete``."""
    _retrying(lambda: _remove(hub, entity, golden_id, expected_version, source))


def _remove(hub: Hub, entity: str, golden_id: str, expected_version: int | None,
            source: WriteSource) -> None:
    writer = source.writer(hub, entity)
    now, _ = _now()
    with hub.engine.begin() as conn:
        writer.lock(conn)
        row = load(conn, hub.sealer, entity, golden_id)
        if expected_version is not None and row["version"] != expected_version:
            raise PreconditionFailed(f"{entity} {golden_id} is at another version")
        writer.remove(conn, [golden_id], system=source.system, run_id=None, now=now,
                      versions={golden_id: row["version"]},
                      event={**source.event(), "outcome": "deleted"})
        hub.sealer.forget(conn, entity, golden_id)  # sealed values in its history: shredded
        ms.forget_sources(conn, entity, [golden_id])
        x = bulk.table_of(Xref)
        conn.execute(delete(x).where(x.c.entity == entity, x.c.golden_id == golden_id))
