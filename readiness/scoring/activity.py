"""Activity aggregation for scoring: one row per (partner, kind) from the (partner_id, kind, day) index.

This is the heaviest read of a full rescore (about 10M events for 100,000 partners). On a SQLite file the partner
range is split into shards read in parallel by forked worker processes, each with its own read-only connection:
SQLite runs one query on one core, and Python's sqlite3 hands the GIL back and forth once per result row, so
threads do not help (measured: 4.7 s alone, 4.3 s with two threads). Other databases aggregate in one statement
and parallelise on the server.

A SQLite store also keeps each (partner, kind)'s days in one row (`activity_days`, migration 0012): a scope of
`DAY_LISTS_MIN_IDS` partners or more reads those (0.9M rows grouped into 100,000 instead of 10.8M index entries
with six aggregates each: 2.5 s of CPU instead of 6 for a whole program) and computes the same numbers bit for bit
with numpy (`day_arrays`).
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, TypeVar

import numpy as np
import structlog
from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    func,
    select,
)
from sqlalchemy.orm import Session

from readiness import activity_days
from readiness.models import ActivityEvent, Partner
from readiness.scoring.rawsql import Query, compile_query, dbapi_connection, ids_params, in_ids, run_query

# Each statistic read per (partner, kind), in the column order of the aggregation statement after the two keys.
STATS = ("count", "decayed", "last", "first", "n90", "prev90")
OVERLAP_KIND = "customer_overlap_detected"  # the only kind whose event value scoring reads
# Below this many partners a worker process costs more than it saves: a range scan of the whole program, or (an
# incremental rescore) index seeks for a list of partners, which cost about 0.1 ms each at 100 events a partner.
SHARD_MIN_PARTNERS = 10_000
SHARD_MIN_IDS = 4_000
# PostgreSQL aggregates a whole program with parallel workers; with the default 4 MB of work memory its hash
# aggregate spills to disk in 32 partitions and the dated-attribute read sorts on disk (measured 7.6 s against
# 5.4 s with 256 MB for 10.8M events). Set for the transaction of a whole-program read only.
PG_AGGREGATE_WORK_MEM = "256MB"
# Below this many partners the events' index answers faster than day lists: their sums take one numpy step per
# position in the longest list (hundreds), whatever the number of partners.
DAY_LISTS_MIN_IDS = 500


def big_read_settings(session: Session) -> None:
    """Per-transaction settings for reading a whole program (PostgreSQL: work memory; others: none)."""
    if session.get_bind().dialect.name == "postgresql":
        with dbapi_connection(session).cursor() as cur:
            cur.execute(f"SET LOCAL work_mem = '{PG_AGGREGATE_WORK_MEM}'")
_IN_WORKER = False  # set in worker processes: they read on their own and never fork readers
T = TypeVar("T")
log = structlog.get_logger(__name__)


@dataclass
class ActivityRows:
    """Aggregated activity of a range of partners as arrays: positions in the partner list, kind indexes, the
    per-(partner, kind) statistics (rows x STATS), and the largest reported overlap per partner."""

    pos: np.ndarray
    kind: np.ndarray
    values: np.ndarray
    overlap_pos: np.ndarray
    overlap_value: np.ndarray


# Statements are built once per filter shape with bound parameters, so SQLAlchemy's compiled cache serves the
# small reads (a chat's one-partner rescore runs three of them) and values never touch the SQL text.
_DAY = bindparam("as_of_day", type_=Integer)
_RECENT = bindparam("recent_from", type_=Integer)  # as_of_day - 90
_PRIOR = bindparam("prior_from", type_=Integer)  # as_of_day - 180
_LAM = bindparam("lam", type_=Float)  # ln 2 / half-life


def _filtered(stmt: Select[Any], column: Any, shape: str, dialect: str) -> Select[Any]:
    """shape: "all", "ids" (a list of ids, see `in_ids`), or an id range "from" (>= lo), "below" (< hi),
    "between" (both)."""
    if shape == "ids":
        return stmt.where(in_ids(column, dialect))
    if shape in ("from", "between"):
        stmt = stmt.where(column >= bindparam("lo", type_=String))
    if shape in ("below", "between"):
        stmt = stmt.where(column < bindparam("hi", type_=String))
    return stmt


@cache
def activity_stmt(shape: str, kinds: tuple[str, ...], dialect: str) -> Select[Any]:
    """Only columns of the (partner_id, kind, day) index, so SQLite answers from the covering index. The kind comes
    back as its position in `kinds` (-1 for an unknown kind: kept in the store, scored as nothing), so every
    column after the partner id is a number and a million rows convert to arrays in C loops."""
    day = ActivityEvent.day
    kind_index = case({k: j for j, k in enumerate(kinds)}, value=ActivityEvent.kind, else_=-1)
    columns = [
        ActivityEvent.partner_id, kind_index, func.count(), func.sum(func.exp(-_LAM * (_DAY - day))),
        func.max(day), func.min(day),
        func.sum(case((day > _RECENT, 1), else_=0)),
        func.sum(case((and_(day > _PRIOR, day <= _RECENT), 1), else_=0)),
    ]
    if folds_overlap(dialect):
        columns.append(func.max(ActivityEvent.value))
    stmt = select(*columns).where(day <= _DAY).group_by(ActivityEvent.partner_id, ActivityEvent.kind)
    return _filtered(stmt, ActivityEvent.partner_id, shape, dialect)


# SQLite stores only (migration 0012): each (partner, kind)'s event days as one text, a character per day.
DAYS = Table("activity_days", MetaData(), Column("partner_id", String(64), primary_key=True),
             Column("kind", String(40), primary_key=True), Column("days", Text, nullable=False))


def _char(n: Any) -> Any:
    """The character with code point n, U+FFFD (read as "unreadable") where n cannot be one in valid UTF-8."""
    return func.char(case((n.between(1, activity_days.LAST_DAY), n), else_=0xFFFD))


@cache
def days_stmt(shape: str, kinds: tuple[str, ...], dialect: str) -> Select[Any]:
    """One row per partner: its (partner, kind) groups as three texts of one character per group or day, the
    kind (its position in `kinds` + 1, len(kinds) + 1 for an unknown kind), the number of days, and then all
    their days (see `day_arrays`). SQLite concatenates in C: 100,000 rows reach Python instead of 900,000, and
    every step of an aggregate visits the group's rows in the same order, so the three texts line up."""
    code = case({k: j + 1 for j, k in enumerate(kinds)}, value=DAYS.c.kind, else_=len(kinds) + 1)
    stmt = select(DAYS.c.partner_id, func.group_concat(func.char(code), ""),
                  func.group_concat(_char(func.length(DAYS.c.days)), ""), func.group_concat(DAYS.c.days, ""))
    return _filtered(stmt, DAYS.c.partner_id, shape, dialect).group_by(DAYS.c.partner_id)


def reads_day_lists(session: Session) -> bool:
    """Whether this store keeps per-(partner, kind) day lists that are exact: a SQLite store migrated to 0012 whose
    triggers are in place (a bulk load in another transaction drops them only where this one cannot see it)."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    cursor = dbapi_connection(session).cursor()
    try:
        return activity_days.present(cursor)
    finally:
        cursor.close()


def folds_overlap(dialect: str) -> bool:
    """Whether the activity statement also returns max(value) per group, so the largest reported overlap comes
    with it instead of from `overlap_stmt`. A database server reads the table's rows for the aggregate anyway
    (PostgreSQL: a parallel sequential scan), where one more aggregate is cheaper than 100,000 index seeks
    (measured: +0.5 s against 1.5 s); SQLite answers the aggregate from the covering index alone, which holds no
    value."""
    return dialect != "sqlite"


@cache
def overlap_stmt(shape: str, dialect: str) -> Select[Any]:
    """The largest overlap a `customer_overlap_detected` event reported, per partner: a correlated subquery seeks
    the index once per partner instead of scanning every event."""
    latest = (
        select(func.max(ActivityEvent.value))
        .where(ActivityEvent.partner_id == Partner.partner_id, ActivityEvent.kind == OVERLAP_KIND,
               ActivityEvent.day <= _DAY)
        .correlate(Partner)
        .scalar_subquery()
    )
    return _filtered(select(Partner.partner_id, latest), Partner.partner_id, shape, dialect)


def stmt_params(as_of_day: int, half_life: float) -> dict[str, Any]:
    return {"as_of_day": as_of_day, "recent_from": as_of_day - 90, "prior_from": as_of_day - 180,
            "lam": math.log(2) / half_life}


def to_arrays(rows: list[tuple[Any, ...]], overlap: list[tuple[Any, ...]] | None, ids: list[str], offset: int,
              overlap_kind: int = -1) -> ActivityRows:
    """Rows for partners `ids` (positions start at `offset`); rows of other partners or unknown kinds are dropped.
    `overlap`: (partner, largest overlap) rows, or None when the activity rows end with max(value) (see
    `folds_overlap`), the groups of kind `overlap_kind` giving it. Conversion in C loops (map, itemgetter,
    fromiter): about 0.3 s per million rows."""
    idx = {pid: offset + i for i, pid in enumerate(ids)}
    n, width = len(rows), 1 + len(STATS)
    pos = np.fromiter(map(idx.get, map(itemgetter(0), rows), repeat(-1, n)), dtype=np.int64, count=n)
    numbers = np.fromiter(chain.from_iterable(map(itemgetter(slice(1, 1 + width)), rows)), dtype=float,
                          count=n * width).reshape(n, width)
    kind, values = numbers[:, 0].astype(np.int64), numbers[:, 1:]
    ok = (pos >= 0) & (kind >= 0)
    if overlap is None:
        rows_of_kind = np.flatnonzero(ok & (kind == overlap_kind)).tolist()
        overlap = [(rows[r][0], rows[r][-1]) for r in rows_of_kind]
    opos = np.fromiter((idx.get(p, -1) if v is not None else -1 for p, v in overlap), dtype=np.int64,
                       count=len(overlap))
    oval = np.fromiter((v if v is not None else 0.0 for _, v in overlap), dtype=float, count=len(overlap))
    keep = opos >= 0
    return ActivityRows(pos[ok], kind[ok], values[ok], opos[keep], oval[keep])


class DaysUnreadable(Exception):
    """A day list holds a day (or a group a number of days) its text cannot carry: read the events instead."""


def _code_points(texts: list[str]) -> np.ndarray:
    return np.frombuffer("".join(texts).encode("utf-32-le"), dtype="<i4")


def _day_values(lengths: np.ndarray, days: np.ndarray, as_of_day: int, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """The statistics (groups x STATS) of groups of `lengths` days (concatenated in `days`), and which groups have
    a day <= as_of.

    Bit for bit what the aggregation statement returns on SQLite: counts are integers, first/last are days, and
    the decayed count adds the same terms in the same order (days ascending, as the index returns them), each term
    the same libm exp of the same product, one partial sum per group in one numpy addition per position."""
    g = len(lengths)
    if int(lengths.sum()) != days.size or (g and int(lengths.min()) < 1) or (days.size and (
            int(days.min()) < activity_days.FIRST_DAY or int(days.max()) > activity_days.LAST_DAY)):
        raise DaysUnreadable
    if not g:
        return np.zeros((0, len(STATS))), np.zeros(0, dtype=bool)
    starts = np.cumsum(lengths) - lengths
    falls = np.flatnonzero(days[1:] < days[:-1]) + 1
    if falls.size:
        first_of = np.zeros(days.size, dtype=bool)
        first_of[starts] = True
        if not first_of[falls].all():  # a group out of day order (the triggers keep it sorted): sort it
            days = days[np.lexsort((days, np.repeat(np.arange(g), lengths)))]
    upto = days <= as_of_day
    recent = days > as_of_day - 90
    count = np.add.reduceat(upto, starts, dtype=np.int64)
    n90 = np.add.reduceat(upto & recent, starts, dtype=np.int64)
    prev90 = np.add.reduceat((days > as_of_day - 180) & ~recent, starts, dtype=np.int64)
    last = days[starts + np.maximum(count, 1) - 1]  # the days <= as_of are each group's first `count`
    ago = np.maximum(as_of_day - days, 0)
    # The statement's term exp(-lam * (as_of - day)) for each distinct age, from the same libm exp.
    table = np.array([math.exp(-lam * float(a)) for a in range(int(ago.max()) + 1)])
    weight = table[ago]
    # Sequential sums: groups longest first, so those still adding at position k are a prefix.
    order = np.argsort(-count, kind="stable")
    length, begin = count[order], starts[order]
    acc = np.zeros(g)
    for k, m in enumerate(np.searchsorted(-length, -np.arange(int(length[0])), side="left").tolist()):
        acc[:m] += weight[begin[:m] + k]
    decayed = np.empty(g)
    decayed[order] = acc
    values = np.column_stack([count.astype(float), decayed, last.astype(float), days[starts].astype(float),
                              n90.astype(float), prev90.astype(float)])
    return values, count > 0


def day_arrays(rows: list[Any], overlap: list[tuple[Any, ...]], ids: list[str], offset: int,
               kinds: tuple[str, ...], as_of_day: int, lam: float) -> ActivityRows:
    """`to_arrays` for the rows of `days_stmt` (`overlap`: the overlap statement's rows)."""
    idx = {pid: offset + i for i, pid in enumerate(ids)}
    n = len(rows)
    groups = list(map(itemgetter(1), rows))
    per_partner = np.fromiter(map(len, groups), dtype=np.int64, count=n)
    pos = np.repeat(np.fromiter(map(idx.get, map(itemgetter(0), rows), repeat(-1, n)), dtype=np.int64, count=n),
                    per_partner)
    kind = _code_points(groups) - 1
    kind[kind >= len(kinds)] = -1  # a kind scoring does not know: kept in the store, scored as nothing
    values, has = _day_values(_code_points(list(map(itemgetter(2), rows))),
                              _code_points(list(map(itemgetter(3), rows))), as_of_day, lam)
    ok = has & (pos >= 0) & (kind >= 0)
    opos = np.fromiter((idx.get(p, -1) if v is not None else -1 for p, v in overlap), dtype=np.int64,
                       count=len(overlap))
    oval = np.fromiter((v if v is not None else 0.0 for _, v in overlap), dtype=float, count=len(overlap))
    found = opos >= 0
    return ActivityRows(pos[ok], kind[ok].astype(np.int64), values[ok], opos[found], oval[found])


@dataclass(frozen=True)
class Job:
    """One shard's read: the aggregation statement, the overlap statement (None: folded into the first), its
    partner ids and first position, the overlap kind's index; on a store with day lists, their statement (read
    first; the aggregation only if a day cannot be read from them), the kinds, as_of and the decay rate."""

    activity: Query
    overlap: Query | None
    ids: list[str]
    offset: int
    overlap_kind: int
    days: Query | None = None
    kinds: tuple[str, ...] = ()
    as_of_day: int = 0
    lam: float = 0.0


def _read(conn: Any, job: Job) -> ActivityRows:
    overlap = None if job.overlap is None else run_query(conn, job.overlap)
    if job.days is not None and overlap is not None:
        try:
            return day_arrays(run_query(conn, job.days), overlap, job.ids, job.offset, job.kinds, job.as_of_day,
                              job.lam)
        except DaysUnreadable:
            log.info("activity.day_lists_unreadable")
    return to_arrays(run_query(conn, job.activity), overlap, job.ids, job.offset, job.overlap_kind)


def _read_shard(db_path: str, job: Job) -> ActivityRows:
    """Worker: its own read-only connection (a forked process must not use its parent's)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return _read(conn, job)
    finally:
        conn.close()


def can_fork_readers(session: Session) -> bool:
    """Whether worker processes may read this store beside the session: a SQLite file (a server database
    parallelises on its own), fork available, not already inside a worker, and no uncommitted writes on the
    session's connection (a worker's own connection would not see them)."""
    bind = session.get_bind()
    if _IN_WORKER or bind.dialect.name != "sqlite" or bind.url.database in (None, "", ":memory:"):
        return False
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    dbapi = dbapi_connection(session)
    return dbapi is not None and not getattr(dbapi, "in_transaction", True)


def shard_count(session: Session, n_partners: int, workers: int | None, minimum: int | None = None) -> int:
    """How many shards to read in parallel: one per CPU (at most 8) for a big read, else 1."""
    wanted = min(workers if workers is not None else (os.cpu_count() or 1), 8)
    if wanted < 2 or n_partners < (SHARD_MIN_PARTNERS if minimum is None else minimum) \
            or not can_fork_readers(session):
        return 1
    return wanted


@contextmanager
def in_worker(fn: Callable[..., T], *args: Any, background: bool = False) -> Iterator[Future[T]]:
    """Run `fn(*args)` in a forked worker process (which never forks workers of its own) while the block runs;
    the block collects the result from the future. The worker is gone when the block ends.

    `background`: the worker runs at the lowest CPU priority, so it takes the cores the block leaves idle and
    does not slow the block's own parallel reads."""
    with _fork_pool(1, niceness=19 if background else 0) as pool:
        yield pool.submit(fn, *args)


@contextmanager
def in_thread(fn: Callable[..., T], *args: Any) -> Iterator[Future[T]]:
    """Run `fn(*args)` in a thread while the block runs (for work that waits on a database server)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(fn, *args)


def _fork_pool(workers: int, niceness: int = 0) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_mark_worker, initargs=(niceness,))


def _mark_worker(niceness: int = 0) -> None:
    global _IN_WORKER
    _IN_WORKER = True
    # A worker reads one bounded scope and exits: no cyclic collection, which would also traverse (and copy on
    # write) every object inherited from the parent.
    gc.disable()
    if niceness:
        os.nice(niceness)


def _shape(k: int, shards: int) -> str:
    if shards == 1:
        return "all"
    return "below" if k == 0 else "from" if k == shards - 1 else "between"


def _overlap_kind(kinds: tuple[str, ...]) -> int:
    return kinds.index(OVERLAP_KIND) if OVERLAP_KIND in kinds else -1


def _concat(parts: list[ActivityRows]) -> ActivityRows:
    return ActivityRows(*(np.concatenate([getattr(p, name) for p in parts])
                          for name in ("pos", "kind", "values", "overlap_pos", "overlap_value")))


def _jobs(session: Session, ids: list[str], params: dict[str, Any], kinds: tuple[str, ...], shards: int,
          in_list: bool) -> list[Job]:
    dialect = session.get_bind().dialect.name
    day_lists = len(ids) >= DAY_LISTS_MIN_IDS and reads_day_lists(session)
    cuts = [len(ids) * k // shards for k in range(shards + 1)]
    jobs: list[Job] = []
    for k in range(shards):
        part = ids[cuts[k]:cuts[k + 1]]
        # An IN list per shard, or index range scans split at partner ids: no lower bound before the first shard
        # and no upper one after the last, so events of partners outside `ids` are read and dropped.
        shape = "ids" if in_list else _shape(k, shards)
        p = {**params, **ids_params(part, dialect), "lo": ids[cuts[k]],
             "hi": ids[cuts[k + 1]] if k + 1 < shards else None}
        jobs.append(Job(compile_query(session, activity_stmt(shape, kinds, dialect), p),
                        None if folds_overlap(dialect) else compile_query(session, overlap_stmt(shape, dialect), p),
                        part, cuts[k], _overlap_kind(kinds),
                        compile_query(session, days_stmt(shape, kinds, dialect), p) if day_lists else None, kinds,
                        params["as_of_day"], params["lam"]))
    return jobs


class PendingActivity:
    """An aggregation running in worker processes while the caller reads the rest of the store; `result()`
    collects it (a shard whose worker failed is read here instead: slower, never wrong) and ends the workers."""

    def __init__(self, session: Session, jobs: list[Job]) -> None:
        self._conn = dbapi_connection(session)
        self._jobs = jobs
        self._pool = _fork_pool(len(jobs))
        path = str(session.get_bind().url.database)
        self._futures = [self._pool.submit(_read_shard, path, job) for job in jobs]

    def result(self) -> ActivityRows:
        try:
            parts = []
            for job, future in zip(self._jobs, self._futures, strict=True):
                try:
                    parts.append(future.result())
                except Exception as exc:  # any worker failure: this process reads the shard
                    log.warning("activity.shard_worker_failed", error=str(exc))
                    parts.append(_read(self._conn, job))
            return _concat(parts)
        finally:
            self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _read_on(engine: Engine, job: Job) -> ActivityRows:
    with engine.connect() as conn:  # its own connection and transaction, rolled back when done
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{PG_AGGREGATE_WORK_MEM}'")
        return _read(conn.connection.dbapi_connection, job)


class ThreadedActivity:
    """A database server's aggregation on a connection of its own, waited for in a thread, while the caller reads
    partners, dated attributes and opportunities on the session's: the server works on both at once (measured on
    PostgreSQL: the aggregation takes most of a whole-program read, the other reads a few seconds more). A failed
    read is redone on the session's connection: slower, never wrong."""

    def __init__(self, session: Session, job: Job) -> None:
        self._conn = dbapi_connection(session)
        self._job = job
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._future = self._pool.submit(_read_on, session.get_bind(), job)

    def result(self) -> ActivityRows:
        try:
            try:
                return self._future.result()
            except Exception as exc:  # any failure there means reading here
                log.warning("activity.reader_thread_failed", error=str(exc))
                return _read(self._conn, self._job)
        finally:
            self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def can_read_alongside(session: Session) -> bool:
    """Whether a second connection may read this store beside the session: a PostgreSQL engine, not inside a
    worker, and nothing written yet in the session's transaction (no transaction id assigned, nothing pending in
    the session), which another connection could not see."""
    bind = session.get_bind()
    if _IN_WORKER or not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return False
    if session.new or session.dirty or session.deleted:
        return False
    with dbapi_connection(session).cursor() as cur:
        cur.execute("SELECT pg_current_xact_id_if_assigned() IS NULL")
        row = cur.fetchone()
    return bool(row and row[0])


def start(session: Session, ids: list[str], as_of_day: int, half_life: float, kinds: tuple[str, ...],
          in_list: bool, workers: int | None = None) -> PendingActivity | ThreadedActivity | None:
    """Start reading the activity of partners `ids` (sorted) in worker processes (every shard, none in this
    process, which meanwhile reads partners, opportunities and baselines), or on a database server on a second
    connection; None when the store cannot be read that way or the scope is too small to gain from it.
    `in_list`: these partners only (an incremental rescore), else the whole program."""
    if len(ids) >= (SHARD_MIN_IDS if in_list else SHARD_MIN_PARTNERS) and can_read_alongside(session):
        return ThreadedActivity(session, _jobs(session, ids, stmt_params(as_of_day, half_life), kinds, 1,
                                               in_list)[0])
    shards = shard_count(session, len(ids), workers, SHARD_MIN_IDS if in_list else SHARD_MIN_PARTNERS)
    if shards < 2:
        return None
    return PendingActivity(session, _jobs(session, ids, stmt_params(as_of_day, half_life), kinds, shards, in_list))


def aggregate(session: Session, ids: list[str], as_of_day: int, half_life: float, kinds: tuple[str, ...],
              in_list: bool, workers: int | None = None) -> ActivityRows:
    """Activity statistics of partners `ids` (sorted, as the partner list is) as of a day.

    `in_list`: restrict the statements to these ids instead of reading every partner."""
    params = stmt_params(as_of_day, half_life)
    shards = shard_count(session, len(ids), workers)
    if shards == 1 and in_list:  # a small scope: cached compiled statements, typed rows
        conn = session.connection()
        dialect = session.get_bind().dialect.name
        p = {**params, **ids_params(ids, dialect)}
        overlap = None if folds_overlap(dialect) else conn.execute(overlap_stmt("ids", dialect), p).all()
        if overlap is not None and len(ids) >= DAY_LISTS_MIN_IDS and reads_day_lists(session):
            try:
                return day_arrays(conn.execute(days_stmt("ids", kinds, dialect), p).all(), overlap,  # type: ignore[arg-type]
                                  ids, 0, kinds, as_of_day, params["lam"])
            except DaysUnreadable:
                log.info("activity.day_lists_unreadable")
        return to_arrays(conn.execute(activity_stmt("ids", kinds, dialect), p).all(),  # type: ignore[arg-type]
                         overlap, ids, 0, _overlap_kind(kinds))  # type: ignore[arg-type]
    jobs = _jobs(session, ids, params, kinds, shards, in_list)
    conn = dbapi_connection(session)
    if shards == 1:
        return _read(conn, jobs[0])
    path = str(session.get_bind().url.database)
    # The parent reads the first shard itself while the workers read the rest; a shard whose worker failed (a
    # killed process, no memory to fork) is read here instead: slower, never wrong.
    with _fork_pool(shards - 1) as pool:
        futures: list[Future[ActivityRows]] = [pool.submit(_read_shard, path, job) for job in jobs[1:]]
        parts = [_read(conn, jobs[0])]
        for job, future in zip(jobs[1:], futures, strict=True):
            try:
                parts.append(future.result())
            except Exception as exc:  # any worker failure: this process reads the shard
                log.warning("activity.shard_worker_failed", error=str(exc))
                parts.append(_read(conn, job))
    return _concat(parts)
