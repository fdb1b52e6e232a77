"""Fields a mapping dropped (``on_invalid: drop_field``): one quarantine entry each.

The record itself was stored without the field. Its entry names system, stream, record key,
field and reason, and keeps the invalid value's own source columns so that a steward can
see what the source holds (sealed like every quarantine payload, shown masked by
`kontor quarantine show`), except when a column feeds a restricted field: then no value at
all is kept. A dropped value is never stored anywhere else.

A dropped field is no news from its source, not "the source cleared it": a record this
system sent before keeps, for that field, the value it last sent valid (its xref's values,
which survivorship counts), so the golden record does not change because of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from hub.canonical import FieldSpec
from hub.errors import RecordProblem
from hub.records import Incoming
from hub.store import bulk
from hub.store.quarantine_kinds import dropped_reason
from hub.store.tables import Xref
from hub.survivorship.sources import typed
from mappings.engine import CompiledMapping, DroppedField


def has_drops(item: Incoming) -> bool:
    return bool(item.extra.get("dropped"))


def entries(items: list[Incoming], *, system: str, stream: str, mapping: CompiledMapping,
            specs: Mapping[str, FieldSpec]) -> list[tuple[RecordProblem, dict[str, Any] | None]]:
    """(problem, kept columns or None) for every dropped field of ``items``."""
    out: list[tuple[RecordProblem, dict[str, Any] | None]] = []
    for item in items:
        drops: list[DroppedField] = item.extra.get("dropped") or []
        for d in drops:
            problem = RecordProblem(dropped_reason(d.reason), system, stream,
                                    source_key=item.source_key, location=item.location,
                                    field=d.field)
            out.append((problem, _evidence(d.field, item.extra.get("raw") or {}, mapping,
                                           specs)))
    return out


def _evidence(field: str, raw: Mapping[str, Any], mapping: CompiledMapping,
              specs: Mapping[str, FieldSpec]) -> dict[str, Any] | None:
    """The dropped value's own columns, or None when any of them feeds a restricted field."""
    columns = mapping.columns_of_field(field)
    fed = {f for c in columns for f in mapping.fields_of_column(c)} | {field}
    if not columns or any(specs[f].restricted for f in fed if f in specs):
        return None
    return {c: raw.get(c) for c in columns}


def carry_forward(conn: Connection, items: list[Incoming], *, system: str, entity: str,
                  specs: Mapping[str, FieldSpec]) -> None:
    """Give each dropped field of a changed, linked record the value its system last sent
    valid (kept per xref; restricted fields are not kept there, and the golden record keeps
    theirs anyway). The record's hash stays that of what was read."""
    todo = {i.source_key: i for i in items if i.linked and has_drops(i)
            and i.previous_hash != i.source_hash}
    if not todo:
        return
    t = bulk.table_of(Xref)
    for part in bulk.chunks(sorted(todo)):
        for key, data in conn.execute(select(t.c.source_key, t.c.data).where(
                t.c.system == system, t.c.entity == entity, t.c.source_key.in_(part))):
            item = todo[key]
            item.extra["received"] = dict(item.values)  # what the audit trail hashes
            for d in item.extra["dropped"]:
                value = (data or {}).get(d.field)
                if value is not None and d.field in specs:
                    item.values[d.field] = typed(specs[d.field].type, value)
