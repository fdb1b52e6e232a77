"""outbox and leases

Revision ID: 0006_outbox
Revises: 0005_audit
Create Date: 2026-11-28
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006_outbox'
down_revision = '0005_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_lease',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('outbox',
    sa.Column('system', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('stream', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('golden_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('enqueued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('system', 'stream', 'golden_id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['system', 'stream', 'status', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox')
    op.drop_table('job_lease')
