"""The latest values of every live source record of a golden record, for survivorship.

Match & merge keeps, per xref, the record's mapped values as its system last sent them
(``xref.data``: unrestricted fields only, with ``_at``, the business time). That is what
most_frequent counts. Restricted values are not there (they exist only sealed, inside the
golden record), so survivorship decides restricted fields between the golden record's
value and the incoming one (see ``hub.survivorship.rules``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from hub.store import bulk
from hub.store.tables import Xref


def typed(type_name: str, value: Any) -> Any:
    """A value as JSON stored it (dates, decimals as text), typed for its field again."""
    if not isinstance(value, str):
        return value
    if type_name == "date":
        return dt.date.fromisoformat(value)
    if type_name == "datetime":
        return dt.datetime.fromisoformat(value)
    if type_name == "decimal":
        return Decimal(value)
    return value


@dataclass
class SourceRecord:
    """One source record's latest values. ``known``: False for an xref stored before
    Kontor kept source values (it holds none: it cannot be counted)."""

    system: str
    key: str
    at: str
    values: dict[str, Any]
    run: int | None = None
    known: bool = True
    seq: int = 0  # arrival order among the golden record's sources: the last tie-break

    def source(self) -> dict[str, Any]:
        return {"system": self.system, "key": self.key, "run": self.run}


@dataclass
class Sources:
    """The live source records of one golden record, by (system, source key)."""

    records: dict[tuple[str, str], SourceRecord] = field(default_factory=dict)
    _seq: int = 0

    def put(self, record: SourceRecord) -> None:
        """Add ``record``, or replace the same record's earlier values; it arrived last."""
        self._seq += 1
        record.seq = self._seq
        self.records[(record.system, record.key)] = record

    def absorb(self, other: Sources) -> None:
        """``other``'s records too (two golden records merged), in their arrival order."""
        for record in sorted(other.records.values(), key=lambda r: r.seq):
            self.put(SourceRecord(record.system, record.key, record.at, dict(record.values),
                                  record.run, record.known))

    def __len__(self) -> int:
        return len(self.records)


def record_of(source: Mapping[str, Any], at: str, values: Mapping[str, Any],
              voted: Iterable[str]) -> SourceRecord:
    """The incoming record as a source record: its ``voted`` (unrestricted) values only."""
    return SourceRecord(str(source.get("system")), str(source.get("key")), at,
                        {f: values[f] for f in voted if values.get(f) is not None},
                        source.get("run"))


def load(conn: Connection, entity: str, ids: Sequence[str], types: Mapping[str, str]
         ) -> dict[str, Sources]:
    """golden id -> its live source records (xrefs not deleted), values typed by
    ``types`` (field -> type name; fields not in it are left out)."""
    t = bulk.table_of(Xref)
    found: dict[str, Sources] = {gid: Sources() for gid in ids}
    for part in bulk.chunks(sorted(set(ids))):
        for r in conn.execute(select(t.c.golden_id, t.c.system, t.c.source_key, t.c.data,
                                     t.c.last_run).where(
                t.c.entity == entity, t.c.golden_id.in_(part), t.c.deleted_at.is_(None))
                .order_by(t.c.updated_at, t.c.id)):
            data = dict(r.data or {})
            at = str(data.pop("_at", ""))
            values = {f: typed(types[f], v) for f, v in data.items()
                      if f in types and v is not None}
            found[r.golden_id].put(SourceRecord(r.system, r.source_key, at, values,
                                                r.last_run, known=r.data is not None))
    return found
