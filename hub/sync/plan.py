"""`kontor plan` / `kontor apply`: what a sync would change, without changing anything.

The plan runs the real sync inside one database transaction that is rolled back at the
end, with every target replaced by a recorder; the store and the targets are untouched.
Each planned write is compared with what the target holds now (the golden record as it was
before the plan, through today's gate and mapping), field by field. The plan carries a hash
of every planned change; `apply` plans again and runs the sync only if the hash is the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Engine, select

from connectors.base import Connector, Record, StreamSpec, WriteResult
from hub.config import Deployment, Stream
from hub.records import jsonable, to_json
from hub.store import bulk, goldens
from hub.store.db import make_engine
from hub.store.tables import Delivery
from hub.sync import lease

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


@dataclass
class Change:
    target: str
    action: str  # create | update
    key: str
    golden_id: str
    fields: dict[str, Any] = field(default_factory=dict)  # field -> [old, new]


@dataclass
class Plan:
    created_at: str
    changes: list[Change]
    inbound: dict[str, dict[str, int]]
    digest: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"created_at": self.created_at, "digest": self.digest, "inbound": self.inbound,
                "changes": [c.__dict__ for c in self.changes]}


class _Recorder(Connector):
    """Stands in for a target: remembers what would be written, writes nothing."""

    kind = "plan-recorder"

    def __init__(self, real: Connector, on_write: Any):
        self.real, self.on_write = real, on_write
        self.system, self.settings, self.base_dir = real.system, real.settings, real.base_dir

    def check(self) -> None:
        self.real.check()

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[Any]:
        return self.real.read(stream, since=since, batch_size=batch_size)

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        self.on_write(stream, records)
        return WriteResult(written=len(records))

    def close(self) -> None:
        self.real.close()


class Planner:
    def __init__(self, deployment: Deployment, engine: Engine):
        self.deployment, self.engine = deployment, engine
        self.changes: list[Change] = []

    def wrap(self, stream: Stream, push: Any, connector: Connector) -> Connector:
        def record(spec: StreamSpec, records: list[Record]) -> None:
            self._diff(stream, push, spec, records)
        return _Recorder(connector, record)

    def _diff(self, stream: Stream, push: Any, spec: StreamSpec, records: list[Record]) -> None:
        """Compare each planned record with what the target got from the committed state."""
        keys = ["|".join(str(r.get(k)) for k in spec.key) for r in records]
        d = bulk.table_of(Delivery)
        with self.engine.connect() as conn:  # the real engine: committed, pre-plan state
            owners = {}
            for part in bulk.chunks(keys):
                owners.update({r.target_key: r.golden_id for r in conn.execute(
                    select(d.c.target_key, d.c.golden_id).where(
                        d.c.system == stream.system, d.c.stream == stream.name,
                        d.c.target_key.in_(part)))})
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
            self.changes.append(Change(stream.label, "update", key, gid, diff))


def _show(column: str, value: Any, restricted: set[str]) -> Any:
    """Restricted columns never appear on a screen, only that they change."""
    if value is None or column not in restricted:
        return jsonable({"v": value})["v"]
    return RESTRICTED


def make_plan(deployment: Deployment, engine: Engine, systems: Sequence[str] | None,
              *, hold_leases: bool = True) -> Plan:
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
                          RunObserver(), "plan", "plan", wrap=planner.wrap)
        finally:
            outer.rollback()  # nothing of the plan stays in the store
    nesting.dispose()
    summary = {f"{s.system}.{s.stream}": {k: getattr(s, k) for k in
                                          ("read", "created", "updated", "unchanged", "failed")}
               for s in result.streams if s.direction == "inbound"}
    changes = sorted(planner.changes, key=lambda c: (c.target, c.key))
    plan = Plan(dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), changes, summary)
    plan.digest = "sha256:" + hashlib.sha256(to_json(
        [c.__dict__ for c in changes] + [summary]).encode()).hexdigest()
    return plan


def load_plan(text: str) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(text))
