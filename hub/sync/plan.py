"""`kontor plan` / `kontor apply`: what a sync would change, without changing anything.

The plan runs the real sync inside one database transaction that is rolled back at the
end, with every target replaced by a recorder; the store and the targets are untouched.
Each planned write is compared with what the target holds now (the golden record as it was
before the plan, through today's gate and mapping), field by field; each planned delete
names the key it would remove. The plan counts per source what would come into the store
(created, updated, deleted, retired, matched to an existing record, new review pairs,
refused) and per target what would leave (create, update, delete, deactivate). It carries a
hash of every planned change; `apply` plans again and runs the sync only if the hash is the
same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Engine, func, select

from connectors.base import Connector, Record, StreamSpec, WriteResult
from hub.config import Deployment, Stream
from hub.records import jsonable, to_json
from hub.store import bulk, goldens
from hub.store.db import make_engine
from hub.store.matching_tables import ReviewPair
from hub.store.tables import Delivery
from hub.sync import lease

if TYPE_CHECKING:
    from hub.sync.runner import RunObserver

RESTRICTED = "‹restricted value›"


class _OneConnection:
    """Looks like an Engine to the sync, but every transaction is a savepoint inside one
    outer transaction that the plan rolls back."""

    def __init__(self, conn: Connection):
        self._conn = conn
        self.dialect = conn.dialect
        self.url = conn.engine.url

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield self._conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self._conn.begin_nested():
            yield self._conn

    def dispose(self) -> None:
        pass


#: What a change does at its target, in the order a plan lists them.
ACTIONS = ("create", "update", "deactivate", "delete")
#: Per source, the counts of the planned run a plan keeps (then ``merged``: matched to a
#: record another source made, ``reviews``: new review pairs, ``failed``: refused).
SOURCE_COUNTS = ("read", "created", "updated", "unchanged", "deleted", "retired",
                 "held_deletes")
#: Per target, besides the changes it lists: kept (gone from the hub, the target keeps its
#: copy), skipped (not for this target), refused (the record could not be prepared).
TARGET_COUNTS = ("kept", "skipped", "failed")


@dataclass
class Change:
    target: str
    action: str  # create | update | deactivate | delete
    key: str
    golden_id: str
    fields: dict[str, Any] = field(default_factory=dict)  # field -> [old, new]


@dataclass
class Plan:
    created_at: str
    changes: list[Change]
    inbound: dict[str, dict[str, int]]
    #: target -> {"create": n, "update": n, "deactivate": n, "delete": n, "kept": n, ...}
    outbound: dict[str, dict[str, int]] = field(default_factory=dict)
    #: stream -> why it could not be planned (cannot be read, the read ended early)
    errors: dict[str, str] = field(default_factory=dict)
    digest: str = ""

    @property
    def store_changes(self) -> int:
        """Records the sync would create, change, delete or retire in the master store."""
        return sum(c[k] for c in self.inbound.values()
                   for k in ("created", "updated", "deleted", "retired"))

    @property
    def has_changes(self) -> bool:
        return bool(self.changes) or self.store_changes > 0

    def as_dict(self) -> dict[str, Any]:
        return {"created_at": self.created_at, "digest": self.digest, "inbound": self.inbound,
                "outbound": self.outbound, "errors": self.errors,
                "changes": [c.__dict__ for c in self.changes]}


class _Recorder(Connector):
    """Stands in for a target: remembers what would be written or deleted, changes nothing.

    ``Planner.wrap`` gives each a subclass with the real connector's capabilities, so the
    sync decides (delete, or keep what the target cannot delete) as it would for real.
    """

    kind = "plan-recorder"

    def __init__(self, real: Connector, on_write: Any, on_delete: Any):
        self.real, self.on_write, self.on_delete = real, on_write, on_delete
        self.system, self.settings, self.base_dir = real.system, real.settings, real.base_dir

    def check(self) -> None:
        self.real.check()

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[Any]:
        return self.real.read(stream, since=since, batch_size=batch_size)

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        self.on_write(stream, records)
        return WriteResult(written=len(records))

    def delete(self, stream: StreamSpec, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        texts = [k if isinstance(k, str) else "|".join(str(v) for v in k) for k in keys]
        self.on_delete(texts)
        return WriteResult(written=len(texts))

    def close(self) -> None:
        self.real.close()


class Planner:
    def __init__(self, deployment: Deployment, engine: Engine):
        self.deployment, self.engine = deployment, engine
        self.changes: list[Change] = []

    def wrap(self, stream: Stream, push: Any, connector: Connector) -> Connector:
        deactivating: set[str] = set()  # keys the sync marks inactive rather than updates
        prepare = push._deactivated

        def deactivated(gid: str, key: str, row: Any) -> Any:
            deactivating.add(key)
            return prepare(gid, key, row)

        push._deactivated = deactivated  # each deactivation is prepared here: note its key

        def record(spec: StreamSpec, records: list[Record]) -> None:
            self._diff(stream, push, spec, records, deactivating)

        def delete(keys: list[str]) -> None:
            owners = self._owners(stream, keys)
            self.changes.extend(Change(stream.label, "delete", k, owners.get(k, ""))
                                for k in keys)

        recorder = type("Recorder", (_Recorder,), {"capabilities": connector.capabilities})
        return cast(Connector, recorder(connector, record, delete))

    def _owners(self, stream: Stream, keys: list[str]) -> dict[str, str]:
        """target key -> the golden id delivered under it (committed, pre-plan state)."""
        d = bulk.table_of(Delivery)
        owners: dict[str, str] = {}
        with self.engine.connect() as conn:
            for part in bulk.chunks(keys):
                owners.update({r.target_key: r.golden_id for r in conn.execute(
                    select(d.c.target_key, d.c.golden_id).where(
                        d.c.system == stream.system, d.c.stream == stream.name,
                        d.c.target_key.in_(part)))})
        return owners

    def _diff(self, stream: Stream, push: Any, spec: StreamSpec, records: list[Record],
              deactivating: set[str]) -> None:
        """Compare each planned record with what the target got from the committed state."""
        keys = ["|".join(str(r.get(k)) for k in spec.key) for r in records]
        owners = self._owners(stream, keys)
        with self.engine.connect() as conn:  # the real engine: committed, pre-plan state
            before = goldens.read(conn, push.sealer, stream.entity, list(owners.values()))
        restricted: set[str] = set()
        for name, spec_ in self.deployment.fields[stream.entity].items():
            mapped = stream.mapping.spec.fields.get(name)
            if spec_.restricted and mapped is not None and mapped.column:
                restricted.add(mapped.column)
        for key, new in zip(keys, records, strict=True):
            gid = owners.get(key)
            if gid is None or gid not in before:
                self.changes.append(Change(stream.label, "create", key, "",
                                           {c: [None, _show(c, v, restricted)]
                                            for c, v in new.items()}))
                continue
            old = push._prepare(before[gid]) or {}
            diff = {c: [_show(c, old.get(c), restricted), _show(c, v, restricted)]
                    for c, v in new.items() if old.get(c) != v}
            action = "deactivate" if key in deactivating else "update"
            self.changes.append(Change(stream.label, action, key, gid, diff))


def _show(column: str, value: Any, restricted: set[str]) -> Any:
    """Restricted columns never appear on a screen, only that they change."""
    if value is None or column not in restricted:
        return jsonable({"v": value})["v"]
    return RESTRICTED


def make_plan(deployment: Deployment, engine: Engine, systems: Sequence[str] | None,
              *, hold_leases: bool = True, observer: RunObserver | None = None) -> Plan:
    """Plan a sync of ``systems`` (all when None); ``observer`` sees its progress."""
    from hub.sync.runner import RunObserver, _run

    inbound = deployment.streams("inbound", list(systems) if systems else None)
    outbound = deployment.streams("outbound", list(systems) if systems else None)
    planner = Planner(deployment, engine)
    names = [f"sync:{s.system}" for s in inbound + outbound] if hold_leases else []
    nesting = make_engine(engine.url.render_as_string(hide_password=False), savepoints=True)
    with lease.held(engine, names), nesting.connect() as conn:
        outer = conn.begin()
        try:
            result = _run(deployment, cast(Engine, _OneConnection(conn)), inbound, outbound,
                          observer or RunObserver(), "plan", "plan", wrap=planner.wrap,
                          learn=False)
            reviews = _review_pairs(conn, result.run_id)
        finally:
            outer.rollback()  # nothing of the plan stays in the store
    nesting.dispose()
    summary = {s.label: {k: getattr(s, k) for k in SOURCE_COUNTS} | {
        "merged": s.merged, "reviews": reviews.get((s.system, s.entity), 0),
        "failed": s.failed} for s in result.streams if s.direction == "inbound"}
    changes = sorted(planner.changes, key=lambda c: (c.target, c.key, c.action))
    targets: dict[str, dict[str, int]] = {}
    for s in result.streams:
        if s.direction == "outbound":
            targets[s.label] = {**{a: 0 for a in ACTIONS},
                                **{k: getattr(s, k) for k in TARGET_COUNTS}}
    for c in changes:
        targets.setdefault(c.target, {a: 0 for a in ACTIONS})[c.action] += 1
    errors = {s.label: s.error or s.incomplete or "" for s in result.streams
              if s.error or s.incomplete}
    plan = Plan(dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), changes, summary,
                targets, errors)
    plan.digest = "sha256:" + hashlib.sha256(to_json(
        [c.__dict__ for c in changes] + [summary]).encode()).hexdigest()
    return plan


def _review_pairs(conn: Connection, run_id: int) -> dict[tuple[str, str], int]:
    """New review pairs the planned run queued, per (system, entity), before the rollback."""
    r = bulk.table_of(ReviewPair)
    return {(system, entity): int(n) for system, entity, n in conn.execute(
        select(r.c.system, r.c.entity, func.count()).where(r.c.run_id == run_id)
        .group_by(r.c.system, r.c.entity))}


def load_plan(text: str) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(text))
