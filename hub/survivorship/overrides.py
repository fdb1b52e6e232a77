"""A data steward's overrides: one field of one golden record, fixed until cleared.

The override is applied to the golden record at once (a new version, provenance
"steward") and re-applied on every later merge, so no sync beats it. Clearing it keeps
the value until a source sends a new one. Restricted fields cannot be overridden: the
override table would hold the value in clear, beside records that keep it sealed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete

from hub.context import Hub
from hub.golden.rows import history_row
from hub.store import bulk, goldens
from hub.store.matching_tables import GoldenOverride
from hub.survivorship.merging import MergeError, Steward
from hub.survivorship.rules import STEWARD


def parse_value(type_name: str, text: str | None) -> Any:
    """A steward's text as the field's type; ``MergeError`` naming the expected form."""
    if text is None or text == "":
        return None
    try:
        if type_name == "date":
            return dt.date.fromisoformat(text)
        if type_name == "datetime":
            return dt.datetime.fromisoformat(text)
        if type_name == "decimal":
            return Decimal(text)
        if type_name == "int":
            return int(text)
        if type_name == "bool":
            if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "yes", "1")
    except (ValueError, InvalidOperation):
        raise MergeError(f"not a valid {type_name} value (dates as YYYY-MM-DD)") from None
    return text


def set_override(hub: Hub, entity: str, golden_id: str, field: str, text: str | None, *,
                 actor: str, reason: str = "") -> None:
    """Fix ``field`` of ``golden_id`` to the steward's value."""
    spec = hub.deployment.fields[entity].get(field)
    if spec is None:
        raise MergeError(f"unknown field {field!r} of {entity}")
    if spec.restricted:
        raise MergeError(f"{field} is restricted ({spec.category.key}): correct it at its "
                         "source system, not by an override")
    value = parse_value(spec.type, text)
    steward = Steward(hub, entity)
    now = dt.datetime.now(dt.UTC)
    writer = steward.writer(actor)
    with hub.engine.begin() as conn:
        writer.lock(conn)
        rows = goldens.read(conn, hub.sealer, entity, [golden_id])
        if golden_id not in rows:
            raise MergeError(f"no {entity} {golden_id}")
        before = rows[golden_id]
        values = steward._values(before)
        values[field] = value
        prov = {**(before["provenance"] or {}),
                field: {"system": STEWARD, "key": actor, "at": now.isoformat()}}
        row = steward._row(before, values, prov, now)
        writer.save(conn, updates=[row], before={golden_id: before}, history=[
            history_row(entity, row, steward.builtin, system=STEWARD, run_id=None, now=now)],
            event=steward.event("override"))
        bulk.upsert(conn, bulk.table_of(GoldenOverride), [{
            "entity": entity, "golden_id": golden_id, "field": field,
            "value": bulk_json(value), "reason": reason, "actor": actor, "set_at": now}],
            ["entity", "golden_id", "field"])


def clear_override(hub: Hub, entity: str, golden_id: str, field: str) -> bool:
    """Remove the override; the next source value competes normally again."""
    t = bulk.table_of(GoldenOverride)
    with hub.engine.begin() as conn:
        result = conn.execute(delete(t).where(t.c.entity == entity, t.c.golden_id == golden_id,
                                              t.c.field == field))
    return bool(result.rowcount)


def bulk_json(value: Any) -> Any:
    """The override as JSON stores it: dates as ISO text, decimals as text."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value
