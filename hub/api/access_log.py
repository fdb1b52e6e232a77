"""Note every read of restricted fields: who, which records, which fields (never values).

A seam for the audit trail (issue 6), which will take these facts into its hash chain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Engine

from hub.auth.roles import PURPOSES
from hub.auth.tables import RestrictedReadLog
from hub.auth.tokens import Caller
from hub.store import bulk


def record_restricted_read(engine: Engine, *, caller: Caller, channel: str, entity: str,
                           golden_ids: Iterable[str], fields: Iterable[str]) -> None:
    """Write one row for one response that released restricted fields to ``caller``."""
    with engine.begin() as conn:
        conn.execute(bulk.table_of(RestrictedReadLog).insert().values(
            at=dt.datetime.now(dt.UTC), token_id=caller.token_id, role=caller.role.value,
            channel=channel, entity=entity, golden_ids=sorted(set(golden_ids)),
            fields=sorted(set(fields)), purpose=PURPOSES[caller.role]))
