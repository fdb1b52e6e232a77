"""Alembic environment: the master store's schema, from SQLModel's metadata."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

# Every table registers on SQLModel.metadata when its module is imported: gathered here,
# so that tables need not import each other across layers.
import hub.audit.tables
import hub.auth.tables
import hub.store.tables  # noqa: F401
from hub.store import search_index
from hub.store.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
        compare_type=True,
        # Kept by SQL, not by a model: the search index's tables, triggers and indexes.
        include_object=lambda obj, name, kind, reflected, other: not (
            reflected and other is None and search_index.owned(name, kind)),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")
run_migrations_online()
