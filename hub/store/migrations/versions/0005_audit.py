"""audit trail

Revision ID: 0005_audit
Revises: 0004_matching
Create Date: 2026-11-28
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0005_audit'
down_revision = '0004_matching'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_checkpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('audit_decision_set',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('audit_entry',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('destination', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('golden_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('source_key', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('decisions', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('policy_version', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('value_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_dest', ['destination'], unique=False)
        batch_op.create_index('ix_audit_subject', ['entity', 'golden_id'], unique=False)

    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # The chain starts from a fixed genesis hash; the row is what every writer locks.
    op.bulk_insert(sa.table("audit_head", sa.column("id", sa.Integer),
                            sa.column("seq", sa.Integer), sa.column("hash", sa.String)),
                   [{"id": 1, "seq": 0, "hash": "0" * 64}])


def downgrade() -> None:
    op.drop_table('audit_head')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_subject')
        batch_op.drop_index('ix_audit_dest')
        batch_op.drop_index('ix_audit_at')

    op.drop_table('audit_entry')
    op.drop_table('audit_decision_set')
    op.drop_table('audit_checkpoint')
