"""Bring a master-store database to the newest schema with Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url",
                            engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


#: Any constant: PostgreSQL advisory-lock id for "migrating Kontor's store".
_MIGRATION_LOCK = 0x4B6F6E746F72


def upgrade(engine: Engine) -> None:
    """Apply every pending migration (idempotent; safe on every start).

    Two processes starting at once on a fresh store (two `kontor sync` of different
    systems, two instances) must not both create the tables: the first takes the store's
    write lock (SQLite) or an advisory lock (PostgreSQL) for its whole migration, the
    other waits, then finds the schema at head and does nothing.
    """
    cfg = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                               {"k": _MIGRATION_LOCK})
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        _refuse_a_newer_schema(connection, engine)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def _refuse_a_newer_schema(connection: Connection, engine: Engine) -> None:
    """A store a newer Kontor migrated: say so in one line, before Alembic fails with
    "Can't locate revision" (every command opens the store through here)."""
    if not inspect(connection).has_table("alembic_version"):
        return  # a new store
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if revision is not None and not is_known_revision(revision):
        from hub.errors import StoreError
        from hub.store.db import safe_url

        url = engine.url.render_as_string(hide_password=False)
        raise StoreError(f"the master store ({safe_url(url)}) was written by a newer "
                         f"Kontor: its schema is {revision}, this Kontor knows up to "
                         f"{head_revision()}; upgrade Kontor")


def head_revision() -> str:
    """The schema revision this version of Kontor brings its store to."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package always ships its migrations
    return head


def is_known_revision(revision: str) -> bool:
    """Whether this version of Kontor ships ``revision`` (a newer Kontor's store: not)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False
