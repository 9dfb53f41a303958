"""partner_attribute_history (dated attribute values read as of a date); score_snapshots: play and priority;
scoring_runs (a full rescore's baselines and activation curve, reused by incremental rescores)

Scoring as of a date reads headcount, customer overlap, competitive conflict and GTM profile fields as they were
on that date when an import brought dated values. Snapshots carry each partner's primary call play and its
call-list priority; the call lists are index range scans on (as_of, pam_id, play, priority), which replaces the
revenue-at-stake index of 0002.

Revision ID: 0004_attribute_history
Revises: 0003_one_active_plan
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_attribute_history"
down_revision = "0003_one_active_plan"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_attribute_history",
        sa.Column("entry_id", sa.String(length=200), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("attribute", sa.String(length=40), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.partner_id"]),
        sa.PrimaryKeyConstraint("entry_id"),
    )
    # SQLite: covering (whole-program scoring reads every pair's value from the index: max(valid_from) with its
    # row's value). PostgreSQL: newest first, the order DISTINCT ON reads it in (no sort); its btree rows could not
    # hold a long text value anyway.
    if op.get_bind().dialect.name == "sqlite":
        columns = [sa.text("attribute"), sa.text("partner_id"), sa.text("valid_from"), sa.text("value")]
    else:
        columns = [sa.text("attribute"), sa.text("partner_id"), sa.text("valid_from DESC")]
    op.create_index("ix_attribute_history_lookup", "partner_attribute_history", columns, unique=False)
    op.create_table(
        "scoring_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("partners", sa.Integer(), nullable=False),
        sa.Column("priors", sa.JSON(), nullable=False),
        sa.Column("curve", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("as_of", "config_hash", name="uq_scoring_run_date_config"),
    )
    with op.batch_alter_table("score_snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("play", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Float(), nullable=True))
        batch_op.drop_index("ix_snapshot_call_list")
        batch_op.create_index("ix_snapshot_play", ["as_of", "pam_id", "play", "priority"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("score_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_snapshot_play")
        batch_op.create_index("ix_snapshot_call_list", ["as_of", "pam_id", "on_call_list", "revenue_at_stake"],
                              unique=False)
        batch_op.drop_column("priority")
        batch_op.drop_column("play")
    op.drop_table("scoring_runs")
    op.drop_index("ix_attribute_history_lookup", table_name="partner_attribute_history")
    op.drop_table("partner_attribute_history")
