"""subject keys: per-record data keys for restricted fields sealed at rest

Revision ID: 0003_subject_keys
Revises: 0002_api_auth
Create Date: 2026-11-28
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003_subject_keys"
down_revision = "0002_api_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_key",
        sa.Column("entity", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("golden_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("wrapped", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("entity", "golden_id"),
    )


def downgrade() -> None:
    op.drop_table("subject_key")
