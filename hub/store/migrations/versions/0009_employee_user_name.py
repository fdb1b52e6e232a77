"""employee user_name and external_id (SCIM userName and externalId, stored as given)

Revision ID: 0009_employee_user_name
Revises: 0008_web_sessions
Create Date: 2026-12-06
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009_employee_user_name'
down_revision = '0008_web_sessions'
branch_labels = None
depends_on = None

_COLUMNS = ('user_name', 'external_id')


def upgrade() -> None:
    # Nullable columns added in place (no table copy, no golden row rewritten): employees
    # without a user_name keep showing their work e-mail as SCIM userName.
    for name in _COLUMNS:
        op.add_column('golden_employee',
                      sa.Column(name, sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        op.create_index(f'ix_golden_employee_{name}', 'golden_employee', [name], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('golden_employee', schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.drop_index(f'ix_golden_employee_{name}')
            batch_op.drop_column(name)
