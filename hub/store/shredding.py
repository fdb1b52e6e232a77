"""Make erased personal data unreadable in the store file itself, not only in queries.

SQLite keeps deleted and overwritten rows in free pages and in the write-ahead log until
they happen to be reused, so anyone who reads ``kontor.db`` raw would still find an erased
person's name. ``secure_delete`` zeroes freed content as it is freed; a truncating
checkpoint then moves the new pages into the file and empties the log. PostgreSQL keeps
dead row versions until VACUUM reclaims them (autovacuum does, within minutes; run
``VACUUM`` on the xref, record_history and golden tables for an immediate guarantee).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from hub.store import search_index


@contextmanager
def zeroing_deletes(conn: Connection) -> Iterator[None]:
    """Within this block, what SQLite deletes or overwrites is zeroed on disk."""
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        conn.exec_driver_sql("PRAGMA secure_delete = OFF")


def flush_log(engine: Engine, entity: str) -> None:
    """Merge the name index's segments (an erased name's trigrams sit in older ones), copy
    committed pages into the database file and truncate the log, so the old page images
    an erasure replaced leave the disk (SQLite in WAL mode; elsewhere nothing)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as conn, zeroing_deletes(conn):
        search_index.compact(conn, entity)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
