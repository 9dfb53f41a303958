"""turn_threads, turn_idempotency: one owner per conversation thread, and chat turns that a retry never repeats

- turn_threads: a thread id claimed by the principal that started it (primary key: two principals starting the same
  client-chosen id at once cannot both get it).
- turn_idempotency: an `Idempotency-Key` of a chat turn, per principal, with the request it came with and, once the
  turn finished, its result (a retry gets that result back and nothing is written twice).

Revision ID: 0011_turn_idempotency
Revises: 0010_chat_threads
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_turn_idempotency"
down_revision = "0010_chat_threads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "turn_threads",
        sa.Column("thread_id", sa.String(length=128), primary_key=True),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "turn_idempotency",
        sa.Column("owner", sa.String(length=100), primary_key=True),
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("thread_id", sa.String(length=128), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("turn_idempotency")
    op.drop_table("turn_threads")
