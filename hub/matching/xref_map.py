"""The linkage map: which record of which system is which golden record, streamed.

One row per source record (xref): entity, system, source key, golden id and a state. No
field value of any record is read, so none can leave this way. The rows come from a
server-side cursor a batch at a time, so a million xrefs never sit in memory at once.

States, the first that applies:

- ``deleted``: the system deleted its record (only listed when asked for);
- ``retired``: the golden record is retired (erased, or every source deleted it);
- ``merged``: a merge (not undone) moved this source record into its golden record;
- ``live``: otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from sqlalchemy import ColumnElement, Connection, exists, func, select

from hub.store import bulk
from hub.store.matching_tables import GoldenMerge, GoldenRetired
from hub.store.tables import Xref

COLUMNS = ("entity", "system", "source_key", "golden_id", "state")
BATCH = 5000


class Link(NamedTuple):
    entity: str
    system: str
    source_key: str
    golden_id: str
    state: str


def _scope(entities: Sequence[str], system: str | None, deleted: bool
           ) -> list[ColumnElement[bool]]:
    x = bulk.table_of(Xref)
    where: list[ColumnElement[bool]] = [x.c.entity.in_(list(entities))]
    if system is not None:
        where.append(x.c.system == system)
    if not deleted:
        where.append(x.c.deleted_at.is_(None))
    return where


def count(conn: Connection, entities: Sequence[str], *, system: str | None = None,
          deleted: bool = False) -> int:
    """How many rows ``links`` yields for the same arguments (for a progress bar)."""
    x = bulk.table_of(Xref)
    return int(conn.execute(select(func.count()).select_from(x).where(
        *_scope(entities, system, deleted))).scalar_one())


def _moved(conn: Connection, survivors: set[tuple[str, str]]
           ) -> set[tuple[str, str, str, str]]:
    """(entity, system, source key, survivor) of every xref that a merge (not undone) moved
    into one of ``survivors`` (entity, golden id).

    A merge lists every xref it moved to its survivor; after a chain (A into B, B into C)
    the last merge lists A's xrefs too, so looking up merges by the current golden id is
    enough."""
    m = bulk.table_of(GoldenMerge)
    moved: set[tuple[str, str, str, str]] = set()
    for entity in sorted({e for e, _ in survivors}):
        ids = sorted(g for e, g in survivors if e == entity)
        for part in bulk.chunks(ids):
            for survivor, xrefs in conn.execute(select(m.c.survivor_id, m.c.moved_xrefs).where(
                    m.c.entity == entity, m.c.survivor_id.in_(part), m.c.undone_at.is_(None))):
                moved.update((entity, str(s), str(k), survivor) for s, k in xrefs or [])
    return moved


def links(conn: Connection, entities: Sequence[str], *, system: str | None = None,
          deleted: bool = False, batch: int = BATCH) -> Iterator[Link]:
    """Every source record's link, ordered by system, entity and source key.

    ``deleted``: also the records their system deleted (state ``deleted``)."""
    x, r, m = bulk.table_of(Xref), bulk.table_of(GoldenRetired), bulk.table_of(GoldenMerge)
    # per row, by the index (entity, survivor_id): is its golden record a merge's survivor?
    # Only those rows' merges are read, a batch at a time.
    survivor = exists().where(m.c.entity == x.c.entity, m.c.survivor_id == x.c.golden_id,
                              m.c.undone_at.is_(None))
    stmt = (select(x.c.entity, x.c.system, x.c.source_key, x.c.golden_id, x.c.deleted_at,
                   r.c.golden_id.label("retired"), survivor.label("survivor"))
            .select_from(x.outerjoin(r, (r.c.entity == x.c.entity)
                                     & (r.c.golden_id == x.c.golden_id)))
            .where(*_scope(entities, system, deleted))
            # the order of the unique index (system, entity, source_key): no sort needed
            .order_by(x.c.system, x.c.entity, x.c.source_key))
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(stmt)
    for part in result.partitions():
        survivors = {(row[0], row[3]) for row in part if row[6]}
        moved = _moved(conn, survivors) if survivors else set()
        for entity, system_name, key, golden_id, deleted_at, retired, _ in part:
            if deleted_at is not None:
                state = "deleted"
            elif retired is not None:
                state = "retired"
            elif moved and (entity, system_name, key, golden_id) in moved:
                state = "merged"
            else:
                state = "live"
            yield Link(entity, system_name, key, golden_id, state)
