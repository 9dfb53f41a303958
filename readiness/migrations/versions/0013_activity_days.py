"""activity_days (SQLite only): every (partner, kind)'s event days in one row, kept by triggers

A full rescore aggregates the activity of every partner. On SQLite that was a scan of the (partner, kind, day)
index, about 10.8M entries for 100,000 partners, with six aggregates evaluated per entry; the scoring module now
reads one row per (partner, kind) instead (about 0.9M) and computes the same statistics with numpy, bit for bit
(`readiness.scoring.activity`). The days are the row's text, one character per event whose code point is the day
number (days since 1970-01-01, 1..55295, i.e. until 2121; any other day is stored as U+FFFD and the scoring reads
the events table for that store instead), in ascending order: UTF-8 keeps code-point order, so the text's last
character is its latest day.

Kept exact by triggers on activity_events, whatever writes it (imports, the seed loader, deletes): an insert
appends its day when it is not earlier than the row's latest one, else the row is rebuilt from the index (an
out-of-order backfill); a delete or update rebuilds the rows it touched. A bulk load drops the triggers and rebuilds
the whole table once (`readiness.activity_days`). PostgreSQL aggregates the events table on the server with
parallel workers and has no such table.

Revision ID: 0013_activity_days
Revises: 0012_data_version
"""

from alembic import op

revision = "0013_activity_days"
down_revision = "0012_data_version"
branch_labels = None
depends_on = None

# A day as its character: U+FFFD (never a day) outside the range a code point can carry as valid UTF-8 text.
_CHAR = "char(CASE WHEN {day} BETWEEN 1 AND 55295 THEN {day} ELSE 65533 END)"


def _days_of(row: str) -> str:
    """The day text of `row`'s (partner, kind), from the (partner, kind, day) index in ascending day order."""
    return (f"(SELECT group_concat({_CHAR.format(day='e.day')}, '') FROM (SELECT day FROM activity_events "
            f"WHERE partner_id = {row}.partner_id AND kind = {row}.kind ORDER BY day) AS e)")


def _rebuild_rows(row: str) -> str:
    return (f"UPDATE activity_days SET days = coalesce({_days_of(row)}, '') "
            f"WHERE partner_id = {row}.partner_id AND kind = {row}.kind;\n"
            f"  DELETE FROM activity_days WHERE partner_id = {row}.partner_id AND kind = {row}.kind AND days = '';")


TRIGGERS = {
    "activity_days_insert": (
        "CREATE TRIGGER activity_days_insert AFTER INSERT ON activity_events BEGIN\n"
        f"  INSERT INTO activity_days (partner_id, kind, days) VALUES (new.partner_id, new.kind, "
        f"{_CHAR.format(day='new.day')})\n"
        "  ON CONFLICT (partner_id, kind) DO UPDATE SET days = CASE\n"
        "    WHEN substr(activity_days.days, -1) <= excluded.days THEN activity_days.days || excluded.days\n"
        f"    ELSE {_days_of('new')} END;\n"
        "END"
    ),
    "activity_days_delete": (
        "CREATE TRIGGER activity_days_delete AFTER DELETE ON activity_events BEGIN\n"
        f"  {_rebuild_rows('old')}\n"
        "END"
    ),
    "activity_days_update": (
        "CREATE TRIGGER activity_days_update AFTER UPDATE OF partner_id, kind, day ON activity_events BEGIN\n"
        "  INSERT INTO activity_days (partner_id, kind, days) VALUES (new.partner_id, new.kind, '')\n"
        "  ON CONFLICT (partner_id, kind) DO NOTHING;\n"
        f"  {_rebuild_rows('new')}\n"
        f"  {_rebuild_rows('old')}\n"
        "END"
    ),
}

REBUILD = (
    "INSERT INTO activity_days (partner_id, kind, days) "
    f"SELECT partner_id, kind, group_concat({_CHAR.format(day='day')}, '') FROM "
    "(SELECT partner_id, kind, day FROM activity_events ORDER BY partner_id, kind, day) GROUP BY partner_id, kind"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TABLE activity_days (partner_id VARCHAR(64) NOT NULL, kind VARCHAR(40) NOT NULL, "
        "days TEXT NOT NULL, PRIMARY KEY (partner_id, kind)) WITHOUT ROWID"
    )
    op.execute(REBUILD)  # existing stores: one pass over the index
    for sql in TRIGGERS.values():
        op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE activity_days")
