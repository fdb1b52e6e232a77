"""web sessions (server-side dashboard sessions)

Revision ID: 0008_web_sessions
Revises: 0007_checkpoint_chain
Create Date: 2026-11-29
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008_web_sessions'
down_revision = '0007_checkpoint_chain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_session',
    sa.Column('id_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id_hash')
    )
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.create_index('ix_web_session_expires', ['expires_at'], unique=False)
        batch_op.create_index('ix_web_session_token', ['token_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.drop_index('ix_web_session_token')
        batch_op.drop_index('ix_web_session_expires')

    op.drop_table('web_session')
