"""web sessions (server-side dashboard sessions)

Revision ID: 0008_web_sessions
Revises: 0007_checkpoint_chain
Create Date: 2026-11-29
"""
import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401
from alembic import op  # noqa: F401

revision = '0008_web_sessions'
down_revision = '0007_checkpoint_chain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
