"""Match & merge, part one: find the golden record each inbound record belongs to.

Order: the xref (this system has sent this record before), then an exact business key
(normalised email for customers, employee number for employees). Records of one batch that
share a business key and match nothing become one new golden record, not two.
"""

from __future__ import annotations

from sqlalchemy import Connection

from hub.canonical import business_key
from hub.records import Incoming
from hub.store import bulk


def match_batch(conn: Connection, system: str, entity: str, items: list[Incoming]) -> int:
    """Set ``golden_id`` on every item that matches; return how many need a new golden id.

    Items left with ``golden_id = None`` are new; items sharing a business key share the
    placeholder ``extra["group"]`` so that they receive the same new id.
    """
    xrefs = bulk.fetch_xrefs(conn, system, entity, [i.source_key for i in items])
    unlinked: list[Incoming] = []
    for item in items:
        hit = xrefs.get(item.source_key)
        if hit is None:
            unlinked.append(item)
        else:
            item.golden_id, item.previous_hash = hit
            item.linked = True

    key_field = business_key(entity)
    keys = sorted({i.values[key_field] for i in unlinked if i.values.get(key_field)})
    known = bulk.fetch_ids_by_field(conn, entity, key_field, keys) if keys else {}

    groups: dict[str, int] = {}
    new_count = 0
    for item in unlinked:
        value = item.values.get(key_field)
        if value and value in known:
            item.golden_id = known[value]
            continue
        if value and value in groups:
            item.extra["group"] = groups[value]
            continue
        item.extra["group"] = new_count
        if value:
            groups[value] = new_count
        new_count += 1
    return new_count
