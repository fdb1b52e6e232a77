"""Note every read of restricted fields: who, which records, which fields (never values).

Each read goes into the audit trail's hash chain (kind `read.restricted`, one entry per
record) and, for quick per-token look-ups, into the restricted-read log table.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterable

from sqlalchemy import Engine

from hub.audit.record import AuditLog
from hub.auth.roles import PURPOSES
from hub.auth.tables import RestrictedReadLog
from hub.auth.tokens import Caller
from hub.store import bulk
from hub.store.db import make_engine
from policies.keys import Keyring

# The log is written while the request may still hold a connection of the store's pool;
# taking a second one from the same pool could deadlock under load (every connection held
# by a request waiting for another). The log therefore has a small pool of its own.
_log_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _log_engine(engine: Engine) -> Engine:
    if engine not in _log_engines:
        _log_engines[engine] = make_engine(engine.url.render_as_string(hide_password=False))
    return _log_engines[engine]


def record_restricted_read(engine: Engine, *, caller: Caller, channel: str, entity: str,
                           golden_ids: Iterable[str], fields: Iterable[str],
                           keyring: Keyring | None = None) -> None:
    """Write one row for one response that released restricted fields to ``caller``, and
    (with ``keyring``) one audit entry per record, in the same transaction."""
    ids, names = sorted(set(golden_ids)), sorted(set(fields))
    now = dt.datetime.now(dt.UTC)
    with _log_engine(engine).begin() as conn:
        conn.execute(bulk.table_of(RestrictedReadLog).insert().values(
            at=now, token_id=caller.token_id, role=caller.role.value,
            channel=channel, entity=entity, golden_ids=ids,
            fields=names, purpose=PURPOSES[caller.role]))
        if keyring is not None:
            log = AuditLog(keyring, f"api:token {caller.token_id} ({caller.role.value})")
            for golden_id in ids:
                log.add("read.restricted", "shown", at=now, destination=f"{channel}:"
                        f"{caller.role.value}", entity=entity, golden_id=golden_id,
                        purpose=PURPOSES[caller.role], detail={"fields": names})
            log.flush(conn)
