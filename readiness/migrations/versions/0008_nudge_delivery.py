"""nudge_deliveries, nudge_unsubscribes, chat_conversations: nudges that reach people, and OpenAI-style chats

- nudge_deliveries: the delivery log; a partial unique index keeps each nudge to one live delivery per recipient,
  channel and reminder window (failed attempts do not count, so the next run retries them).
- nudge_unsubscribes: recipients who asked for no more nudges.
- chat_conversations: which checkpointer thread a stateless OpenAI-style client's conversation continues.

Revision ID: 0008_nudge_delivery
Revises: 0005_api_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_nudge_delivery"
down_revision = "0005_api_keys"  # chained after the api branch merged here (brief: 0003; lead re-chains)
branch_labels = None
depends_on = None

LIVE = sa.text("status != 'failed'")


def upgrade() -> None:
    op.create_table(
        "nudge_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("audience", sa.String(length=10), nullable=False),
        sa.Column("due_since", sa.Date(), nullable=False),
        sa.Column("window_index", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("uq_nudge_delivery_window", "nudge_deliveries",
                    ["channel", "recipient", "partner_id", "code", "due_since", "window_index"], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)
    op.create_table(
        "nudge_unsubscribes",
        sa.Column("recipient", sa.String(length=200), primary_key=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "chat_conversations",
        sa.Column("key", sa.String(length=64), primary_key=True),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("thread_id", sa.String(length=128), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chat_conversations")
    op.drop_table("nudge_unsubscribes")
    op.drop_index("uq_nudge_delivery_window", table_name="nudge_deliveries")
    op.drop_table("nudge_deliveries")
