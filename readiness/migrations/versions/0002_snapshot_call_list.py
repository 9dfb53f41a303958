"""score_snapshots: pam_id, revenue_at_stake, on_call_list + index, so a PAM's call list is an index range scan

Revision ID: 0002_snapshot_call_list
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_snapshot_call_list"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("score_snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pam_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("revenue_at_stake", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("on_call_list", sa.Boolean(), nullable=True))
        batch_op.create_index("ix_snapshot_call_list", ["as_of", "pam_id", "on_call_list", "revenue_at_stake"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("score_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_snapshot_call_list")
        batch_op.drop_column("on_call_list")
        batch_op.drop_column("revenue_at_stake")
        batch_op.drop_column("pam_id")
