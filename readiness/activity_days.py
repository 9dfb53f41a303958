"""`activity_days` (SQLite stores, migration 0012): each (partner, kind)'s event days as one row, kept by triggers.

Scoring reads it instead of aggregating every event (`readiness.scoring.activity`). The triggers keep it exact for
any write; a bulk load (an import bigger than the store, the seed loader) drops them for the load and rebuilds the
table once at the end, which costs less than maintaining it row by row.
"""

from __future__ import annotations

from typing import Any

TRIGGER_PREFIX = "activity_days_"
TRIGGERS = 3  # insert, delete, update (migration 0012)
# A day is stored as the character with that code point; these days can be (see migration 0012).
FIRST_DAY, LAST_DAY = 1, 55295
_CHAR = f"char(CASE WHEN day BETWEEN {FIRST_DAY} AND {LAST_DAY} THEN day ELSE 65533 END)"
REBUILD = (
    f"INSERT INTO activity_days (partner_id, kind, days) SELECT partner_id, kind, group_concat({_CHAR}, '') FROM "
    "(SELECT partner_id, kind, day FROM activity_events ORDER BY partner_id, kind, day) GROUP BY partner_id, kind"
)


def _triggers(cursor: Any) -> list[tuple[str, str]]:
    cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'activity_events' "
                   "AND name LIKE ? ORDER BY name", (TRIGGER_PREFIX + "%",))
    return [(str(name), str(sql)) for name, sql in cursor.fetchall()]


def present(cursor: Any) -> bool:
    """Whether this SQLite store has the table with all its triggers (else it is missing or may be stale)."""
    cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'activity_days'")
    return bool(cursor.fetchone()[0]) and len(_triggers(cursor)) == TRIGGERS


class BulkLoad:
    """For a load of many events on a DBAPI cursor inside a transaction: `suspend()` drops the triggers (their
    definitions are kept from sqlite_master, so migration 0012 stays their only source), `resume()` rebuilds the
    table from the events and recreates them. A no-op on a store without the table."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.saved: list[tuple[str, str]] = []

    def suspend(self) -> None:
        if self.saved or not present(self.cursor):
            return
        self.saved = _triggers(self.cursor)
        for name, _ in self.saved:
            self.cursor.execute(f"DROP TRIGGER {name}")

    def resume(self) -> None:
        if not self.saved:
            return
        self.cursor.execute("DELETE FROM activity_days")
        self.cursor.execute(REBUILD)
        for _, sql in self.saved:
            self.cursor.execute(sql)
        self.saved = []
