"""data_version: one counter row that every commit changing the store bumps, with a random stamp drawn anew each
time (readiness.dataversion)

Revision ID: 0012_data_version
Revises: 0011_turn_idempotency
"""

import uuid

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
        sa.Column("stamp", sa.String(length=32), nullable=False),
    )
    # `stamp` is drawn anew with each bump: (n, stamp) names one state of one store, even among copies of a store
    # or a database made again under the same name, so caches that several stores may share (Redis) key by both.
    op.bulk_insert(table, [{"id": 1, "n": 0, "stamp": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("data_version")
