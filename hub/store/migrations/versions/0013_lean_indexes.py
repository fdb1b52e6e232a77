"""leaner writes: drop the unused ix_audit_dest; key-only tables WITHOUT ROWID on SQLite

Revision ID: 0013_lean_indexes
Revises: 0012_match_keyset
Create Date: 2026-11-29

Every new record writes two audit entries; ``ix_audit_dest`` cost each of them a b-tree
insert (~40 bytes a record) and no query can use it: the only filter on ``destination``
(``hub.audit.query.search``) ORs it with ``source``, which has no index, so both SQLite and
PostgreSQL scan anyway.

``match_key``, ``source_key``, ``delivery`` and ``outbox`` have a composite text primary key
and small rows. On SQLite such a table is stored twice over: the rows in a rowid b-tree and
the key again in its primary-key index. WITHOUT ROWID keeps the rows in the primary key's
b-tree: one b-tree insert per row instead of two, about half the bytes. SQLite only (a
table copy); PostgreSQL has no rowid.
"""
from alembic import op

revision = '0013_lean_indexes'
# After 0012 (the match keyset, which adds an index to match_key: this copy keeps it).
down_revision = '0012_match_keyset'
branch_labels = None
depends_on = None

_KEY_ONLY = ('match_key', 'source_key', 'delivery', 'outbox')


def _recreate(with_rowid: bool) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for name in _KEY_ONLY:
        # Copies the table (its indexes come along): on a large store this takes a while,
        # once.
        with op.batch_alter_table(name, recreate='always',
                                  table_kwargs={'sqlite_with_rowid': with_rowid}):
            pass


def upgrade() -> None:
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_dest')
    _recreate(with_rowid=False)


def downgrade() -> None:
    _recreate(with_rowid=True)
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_dest', ['destination'], unique=False)
