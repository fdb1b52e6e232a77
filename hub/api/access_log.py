"""Note every read of restricted fields: who, which records, which fields (never values).

A seam for the audit trail (issue 6), which will take these facts into its hash chain.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterable

from sqlalchemy import Engine

from hub.auth.roles import PURPOSES
from hub.auth.tables import RestrictedReadLog
from hub.auth.tokens import Caller
from hub.store import bulk
from hub.store.db import make_engine

# The log is written while the request may still hold a connection of the store's pool;
# taking a second one from the same pool could deadlock under load (every connection held
# by a request waiting for another). The log therefore has a small pool of its own.
_log_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _log_engine(engine: Engine) -> Engine:
    if engine not in _log_engines:
        _log_engines[engine] = make_engine(engine.url.render_as_string(hide_password=False))
    return _log_engines[engine]


def record_restricted_read(engine: Engine, *, caller: Caller, channel: str, entity: str,
                           golden_ids: Iterable[str], fields: Iterable[str]) -> None:
    """Write one row for one response that released restricted fields to ``caller``."""
    with _log_engine(engine).begin() as conn:
        conn.execute(bulk.table_of(RestrictedReadLog).insert().values(
            at=dt.datetime.now(dt.UTC), token_id=caller.token_id, role=caller.role.value,
            channel=channel, entity=entity, golden_ids=sorted(set(golden_ids)),
            fields=sorted(set(fields)), purpose=PURPOSES[caller.role]))
