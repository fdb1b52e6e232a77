"""Training a deployment's model: its settings from kontor.yaml, and its store's records.

Shared by `kontor matching train` (from the store) and the sync, which trains a model by
itself once the store holds enough records and no model exists (hub/sync/auto_model.py).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from hub.matching import fs_fields, fs_model, fs_report
from hub.matching.settings import matching_for
from hub.store import bulk
from hub.store.tables import Xref


def model_settings(deployment: Any, entity: str) -> dict[str, Any]:
    """``fs_model.train`` keywords from the deployment's ``matching.<entity>.model``."""
    s = matching_for(deployment.config, entity).model
    fields = deployment.fields[entity]
    return {"comparisons": fs_fields.from_settings(s, fields),
            "blocking": [r if isinstance(r, str) else tuple(r) for r in s.blocking]
            if s.blocking is not None else None, "max_block": s.max_block,
            "term_frequencies": fs_fields.tf_fields(s, fields),
            "tf_min_count": s.tf_min_count}


class StoredRecords(NamedTuple):
    """The store's live source records of one entity, ordered by system and key."""

    keys: list[str]  # "system\\x1fsource key"
    values: list[dict[str, Any]]  # as kept for matching (xref.data)
    systems: list[str]
    golden_ids: list[str]


def stored_records(conn: Connection, entity: str) -> StoredRecords:
    t = bulk.table_of(Xref)
    found = conn.execute(select(t.c.system, t.c.source_key, t.c.data, t.c.golden_id).where(
        t.c.entity == entity, t.c.deleted_at.is_(None))
        .order_by(t.c.system, t.c.source_key)).all()
    return StoredRecords([f"{r.system}\x1f{r.source_key}" for r in found],
                         [dict(r.data or {}) for r in found], [r.system for r in found],
                         [r.golden_id for r in found])


def save(model: fs_model.Model, target: Path) -> Path:
    """Write the model and its HTML report (match weights as a chart) beside it, each
    whole or not at all; returns the report's path."""
    target.parent.mkdir(parents=True, exist_ok=True)
    report = target.with_suffix(".html")
    for path, write in ((target, model.save),
                        (report, lambda p: p.write_text(fs_report.render(model),
                                                        encoding="utf-8"))):
        # a name of its own: two syncs training at once must not write into one file
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            write(partial)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    return report


