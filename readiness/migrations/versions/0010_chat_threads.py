"""chat_threads: the conversation thread listing, kept by the checkpointer as it writes each thread's checkpoint

One row per thread (owner, title, message count, last update), indexed on (owner, updated_at) for `GET /threads`
and on updated_at for the retention sweep. Threads written before this revision are listed once
`partnerpilot threads prune` has indexed them.

Revision ID: 0010_chat_threads
Revises: 0008_nudge_delivery
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_chat_threads"
down_revision = "0009_quarantine_file_hash"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_threads",
        sa.Column("thread_id", sa.String(length=128), primary_key=True),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chat_threads_owner_updated", "chat_threads", ["owner", "updated_at"])
    op.create_index("ix_chat_threads_updated", "chat_threads", ["updated_at"])


def downgrade() -> None:
    op.drop_table("chat_threads")
