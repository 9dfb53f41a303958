"""Writing validated rows inside the import's single transaction.

Small tables (PAMs, partners, GTM profiles, opportunities) go through SQLAlchemy Core with an upsert
decided in Python, because their rows must be compared field by field (the CRM is the source of truth).
Activity is append-only and can be millions of rows, so it goes through the raw DBAPI cursor in batches:
insert-or-ignore first, then look at only the ids that were not inserted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, select

from readiness.activity_days import BulkLoad
from readiness.dataversion import mark_changed
from readiness.importers.fastpath import ActivityTuple
from readiness.importers.lock import acquire_import_lock
from readiness.importers.report import FileCounts
from readiness.models import Base

LOOKUP_CHUNK = 500
ACTIVITY_INDEX = "ix_activity_partner_kind_day"
_ACTIVITY_COLUMNS = "event_id, partner_id, occurred_at, day, kind, detail, value, known_kind"


def table(name: str) -> Table:
    return Base.metadata.tables[name]


@contextmanager
def import_transaction(engine: Engine, lock_wait_s: float) -> Iterator[Connection]:
    """One transaction for the whole import, committed only if everything succeeded, holding the store's import
    lock (`readiness.importers.lock`; `ImportBusy` after `lock_wait_s` of waiting for another import).

    pysqlite does not open a transaction before DDL or SELECT by itself; an explicit BEGIN IMMEDIATE makes the
    index drop/recreate part of the transaction and takes the write lock up front instead of mid-import.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Bulk-load settings for this connection only; they are reset before it goes back to the pool.
            conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MiB page cache: the PK index stays hot
            conn.exec_driver_sql("PRAGMA temp_store=MEMORY")  # index rebuild sorts in memory
            conn.commit()
        try:
            with conn.begin():
                acquire_import_lock(conn, lock_wait_s)
                yield conn
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA cache_size=-2000")
                conn.exec_driver_sql("PRAGMA temp_store=DEFAULT")
                conn.commit()


def existing_ids(conn: Connection, table_name: str, key: str) -> set[str]:
    t = table(table_name)
    return set(conn.execute(select(t.c[key])).scalars())


def upsert(conn: Connection, table_name: str, key: str, rows: Sequence[dict[str, Any]],
           touched: set[str] | None = None) -> FileCounts:
    """Insert new ids, update ids whose content differs, leave identical rows alone. `touched` collects the
    partner ids whose data this changed (for the incremental rescore after an import)."""
    t = table(table_name)
    counts = FileCounts()
    if not rows:
        return counts
    columns = list(rows[0])
    stored: dict[str, dict[str, Any]] = {}
    for start in range(0, len(rows), LOOKUP_CHUNK):
        ids = [r[key] for r in rows[start:start + LOOKUP_CHUNK]]
        for rec in conn.execute(select(*(t.c[c] for c in columns)).where(t.c[key].in_(ids))).mappings():
            stored[rec[key]] = dict(rec)
    new = [r for r in rows if r[key] not in stored]
    changed = [r for r in rows if r[key] in stored and stored[r[key]] != r]
    if touched is not None and "partner_id" in columns:
        touched.update(r["partner_id"] for r in new + changed)
        touched.update(stored[r[key]]["partner_id"] for r in changed)  # a row that moved to another partner
    if new:
        conn.execute(t.insert(), new)
    if changed:
        stmt = (
            t.update()
            .where(t.c[key] == bindparam("_key"))
            .values({c: bindparam(c) for c in columns if c != key})
        )
        conn.execute(stmt, [{**r, "_key": r[key]} for r in changed])
    counts.inserted = len(new)
    counts.updated = len(changed)
    counts.unchanged = len(rows) - len(new) - len(changed)
    return counts


class ActivityWriter:
    """Append-only batched insert of activity events with conflict detection.

    Within a batch ids are made unique first (later duplicates are judged against the first). After the
    insert-or-ignore, `rowcount` says how many went in; only when some were ignored are the stored rows
    for the batch's ids read back: a stored row that differs is a conflict, quarantined with a reason
    that says whether it came from earlier in this input or from the store before this run.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if self.dialect == "sqlite":
            # Rows inserted by this run have a rowid above the largest one present when it started.
            start = self.cursor.execute("SELECT coalesce(max(rowid), 0) FROM activity_events").fetchone()[0]
            self._start_rowid = int(start)
            self._fresh = f"rowid > {self._start_rowid}"
            self._insert = f"INSERT OR IGNORE INTO activity_events ({_ACTIVITY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)"
        else:
            # PostgreSQL: rows written by the current transaction carry its id in xmin.
            self._fresh = "xmin = pg_current_xact_id()::xid"
            self._insert = (
                f"INSERT INTO activity_events ({_ACTIVITY_COLUMNS}) SELECT * FROM unnest("
                "%s::varchar[], %s::varchar[], %s::timestamptz[], %s::int[], %s::varchar[], %s::text[], "
                "%s::float8[], %s::bool[]) ON CONFLICT (event_id) DO NOTHING"
            )
        self.index_dropped = False
        self.days = BulkLoad(self.cursor) if self.dialect == "sqlite" else None

    def stored_rows_estimate(self) -> int:
        """About how many events the table held before this run (cheap: no full count)."""
        if self.dialect == "sqlite":
            return self._start_rowid
        self.cursor.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE relname = 'activity_events'")
        found = self.cursor.fetchone()
        return int(found[0]) if found else 0

    def drop_index(self) -> None:
        """For a big load: maintaining the (partner, kind, day) index row by row costs more than one rebuild."""
        self.cursor.execute(f"DROP INDEX IF EXISTS {ACTIVITY_INDEX}")
        self.index_dropped = True

    def defer_day_lists(self) -> None:
        """For a load large next to the store: SQLite's per-(partner, kind) day lists (`readiness.activity_days`)
        are rebuilt once by `restore_index` instead of by a trigger per row (out-of-order rows rebuild their
        partner's list each time)."""
        if self.days is not None:
            self.days.suspend()

    def restore_index(self) -> None:
        if self.index_dropped:
            self.cursor.execute(f"CREATE INDEX {ACTIVITY_INDEX} ON activity_events (partner_id, kind, day)")
            self.index_dropped = False
        if self.days is not None:
            self.days.resume()  # after the index: the rebuild reads it in order

    def write(
        self, rows: list[ActivityTuple], numbers: list[int], counts: FileCounts, touched: set[str] | None = None
    ) -> list[tuple[int, str]]:
        """Insert a batch; return (row number, reason) of the rows refused as conflicts. `touched` collects the
        partner ids of the events this batch inserted."""
        first: dict[str, int] = {}
        repeats: list[int] = []
        for i, r in enumerate(rows):
            if r[0] in first:
                repeats.append(i)
            else:
                first[r[0]] = i
        repeat_set = set(repeats)
        unique = rows if not repeats else [rows[i] for i in first.values()]
        inserted = self._insert_rows(unique)
        mark_changed(self.conn, inserted)  # written through the driver's cursor: the data version must still move
        counts.inserted += inserted
        refused: dict[str, str] = {}  # event_id -> reason
        quarantined: list[tuple[int, str]] = []
        if touched is not None and inserted == len(unique):
            touched.update(r[1] for r in unique)
        if inserted < len(unique):
            stored = self._stored([r[0] for r in unique])
            if touched is not None:  # inserted by this run (now or earlier in it): the others were there before
                touched.update(r[1] for r in unique if r[0] in stored and stored[r[0]][1])
            for i, r in enumerate(rows):
                if i in repeat_set:
                    continue
                found = stored.get(r[0])
                if found is None or found[0] == self._content(r):
                    continue
                reason = (
                    "event_id: duplicate id with conflicting content earlier in this input"
                    if found[1]
                    else "event_id: already in the store with different content (activity is append-only)"
                )
                refused[r[0]] = reason
                quarantined.append((numbers[i], reason))
            counts.unchanged += len(unique) - inserted - len(refused)
        for i in repeats:
            r = rows[i]
            if r[0] in refused:
                quarantined.append((numbers[i], refused[r[0]]))
            elif rows[first[r[0]]][1:8] != r[1:8]:
                quarantined.append(
                    (numbers[i], "event_id: duplicate id with conflicting content earlier in this input")
                )
            else:
                counts.unchanged += 1
        counts.quarantined += len(quarantined)
        return quarantined

    def _content(self, r: ActivityTuple) -> tuple[Any, ...]:
        ts: Any = r[8] if self.dialect == "sqlite" else r[2]
        return (r[1], ts, r[4], r[5], r[6])

    def _insert_rows(self, rows: list[ActivityTuple]) -> int:
        if not rows:
            return 0
        if self.dialect == "sqlite":
            self.cursor.executemany(
                self._insert, [(e, p, text, d, k, x, v, kk) for e, p, _, d, k, x, v, kk, text in rows]
            )
        else:
            self.cursor.execute(self._insert, [list(col) for col in list(zip(*rows, strict=True))[:8]])
        return int(self.cursor.rowcount)

    def _stored(self, ids: list[str]) -> dict[str, tuple[tuple[Any, ...], bool]]:
        """Stored content of these ids and whether the row was written by this run."""
        out: dict[str, tuple[tuple[Any, ...], bool]] = {}
        mark = "?" if self.dialect == "sqlite" else "%s"
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[start:start + LOOKUP_CHUNK]
            self.cursor.execute(
                f"SELECT event_id, partner_id, occurred_at, kind, detail, value, {self._fresh} "
                f"FROM activity_events WHERE event_id IN ({','.join([mark] * len(chunk))})",
                chunk,
            )
            for eid, pid, ts, kind, detail, value, fresh in self.cursor.fetchall():
                out[eid] = ((pid, ts, kind, detail, value), bool(fresh))
        return out
