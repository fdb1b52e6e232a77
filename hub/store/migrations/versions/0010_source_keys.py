"""source_key: match keys per source record (xref), so matching meets every source record

Revision ID: 0010_source_keys
Revises: 0009_employee_user_name
Create Date: 2026-12-08
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010_source_keys'
down_revision = '0009_employee_user_name'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Starts empty: keys are keyed digests (the key lives outside the database), so they
    # are written as records arrive. Until its sources have keys, a golden record is found
    # by its own values' keys (match_key), as before.
    op.create_table('source_key',
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('xref_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('entity', 'value', 'xref_id')
    )
    op.create_index('ix_source_key_xref', 'source_key', ['xref_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_source_key_xref', table_name='source_key')
    op.drop_table('source_key')
