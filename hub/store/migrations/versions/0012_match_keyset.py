"""match_keyset: the key configuration the stored match keys were made with; match keys
by golden id

Revision ID: 0012_match_keyset
Revises: 0011_search_index
Create Date: 2026-11-29
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012_match_keyset'
down_revision = '0011_search_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Starts empty: the first sync of a store that already holds keys re-keys it once,
    # since nothing says which configuration made them.
    op.create_table('match_keyset',
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('keyed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('entity')
    )
    # deleting a record's keys (a merge, a delete) read every key of the entity without it
    op.create_index('ix_match_key_golden', 'match_key', ['entity', 'golden_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_match_key_golden', table_name='match_key')
    op.drop_table('match_keyset')
