"""checkpoint chain (audit checkpoints that cover each other)

Revision ID: 0007_checkpoint_chain
Revises: 0006_outbox
Create Date: 2026-11-29

Checkpoints signed before this revision keep ``n`` and ``prev`` NULL: they stay valid as
legacy, unchained checkpoints, and the first chained checkpoint links to the last of them.
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007_checkpoint_chain'
down_revision = '0006_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_checkpoint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('n', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev', sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=True))
        batch_op.create_unique_constraint('uq_audit_checkpoint_n', ['n'])


def downgrade() -> None:
    # Chained checkpoints are kept (audit evidence is never destroyed by a tool); the older
    # code cannot check their signatures, so export them first (`kontor audit
    # export-checkpoints`) and verify with the newer release.
    with op.batch_alter_table('audit_checkpoint', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_checkpoint_n', type_='unique')
        batch_op.drop_column('prev')
        batch_op.drop_column('n')
