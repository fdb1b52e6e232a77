"""checkpoint chain (audit checkpoints that cover each other)

Revision ID: 0007_checkpoint_chain
Revises: 0006_outbox
Create Date: 2026-11-29
"""
import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401
from alembic import op  # noqa: F401

revision = '0007_checkpoint_chain'
down_revision = '0006_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
