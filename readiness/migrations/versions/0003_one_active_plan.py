"""activation_plans: at most one active plan per partner, enforced by a partial unique index

Two requests creating a partner's plan at once (a chat and a PAM, say) both found none and both inserted one.
Older duplicates left by that are marked superseded first, keeping the newest.

Revision ID: 0003_one_active_plan
Revises: 0002_snapshot_call_list
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_one_active_plan"
down_revision = "0002_snapshot_call_list"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    op.execute(
        "UPDATE activation_plans SET status = 'superseded' WHERE status = 'active' AND id NOT IN "
        "(SELECT MAX(id) FROM activation_plans WHERE status = 'active' GROUP BY partner_id)"
    )
    op.create_index("uq_plan_one_active", "activation_plans", ["partner_id"], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade() -> None:
    op.drop_index("uq_plan_one_active", table_name="activation_plans")
