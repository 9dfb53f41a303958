"""quarantined_rows.file_sha256: a re-import of the same file replaces its quarantined rows instead of adding them

A file is "the same" when its name and its bytes (SHA-256) are: a corrected file, or next month's export under the
same name, is another file whose refused rows are kept apart. Rows quarantined before this revision have no hash
and are never replaced.

Revision ID: 0009_quarantine_file_hash
Revises: 0008_nudge_delivery
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_quarantine_file_hash"
down_revision = "0008_nudge_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantined_rows") as batch:
        batch.add_column(sa.Column("file_sha256", sa.String(length=64), nullable=True))
    op.create_index("ix_quarantined_rows_file", "quarantined_rows", ["file", "file_sha256"])


def downgrade() -> None:
    op.drop_index("ix_quarantined_rows_file", table_name="quarantined_rows")
    with op.batch_alter_table("quarantined_rows") as batch:
        batch.drop_column("file_sha256")
