"""data_version: one counter row that every commit changing the store bumps (readiness.dataversion)

Revision ID: 0012_data_version
Revises: 0011_turn_idempotency
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_data_version"
down_revision = "0011_turn_idempotency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "data_version",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "n": 0}])


def downgrade() -> None:
    op.drop_table("data_version")
