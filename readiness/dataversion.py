"""The store's data version: one counter (`data_version`, row 1) that goes up with every commit that changed a row,
with a random stamp drawn anew each time (so the pair names one state of one store, even among copies of it).

Readers that cache what they computed from the store (the server's key resolution and REST reads) key it by this
number, read before anything else in the request: an entry made under version n holds data at least as new as n,
and whatever commit changes the store afterwards also moves the number, so the next read misses. The counter lives
in the store itself, so a write by any process (another worker, the CLI, a test, an import) counts, with or without
Redis.

Every engine from `readiness.db.make_engine` watches its own statements: an INSERT, UPDATE, DELETE, MERGE, COPY or
TRUNCATE that touched rows (a row count other than 0; an upsert that changed nothing and `ON CONFLICT DO NOTHING` do
not count) marks the connection, and the commit of a marked transaction bumps the counter in that same transaction,
as its last statement (so the row lock is held only while committing: no waits on it that could deadlock). Writes
through the raw driver cursor (bulk loads) mark the connection with `mark_changed`. Tables that no cached read
depends on (chat threads and turn bookkeeping) do not count.
"""

from __future__ import annotations

import contextlib
import queue
import re
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

TABLE = "data_version"
CHANGED_KEY = _CHANGED = "pp_data_changed"  # in the pooled connection's info: this transaction changed a row
_HAS_TABLE = "pp_data_version_table"  # in the pooled connection's info: the counter table exists in this store
# Bookkeeping that no cached read depends on: writes there must not throw every cache away (a chat turn writes them).
IGNORED = frozenset({TABLE, "alembic_version", "turn_threads", "turn_idempotency", "chat_threads",
                     "chat_conversations"})
_DML = re.compile(r"^\s*(insert\s+into|update|delete\s+from|merge\s+into|truncate(?:\s+table)?|copy|with)\s+"
                  r"(?:only\s+)?\"?([A-Za-z_][\w$]*)", re.IGNORECASE)
# The stamp makes (n, stamp) name one state of one store even among copies of it (a restored backup, a copied
# SQLite file): caches shared by several stores (Redis) cannot mix them up.
_BUMP = {"sqlite": f"UPDATE {TABLE} SET n = n + 1, stamp = lower(hex(randomblob(16))) WHERE id = 1",
         "postgresql": f"UPDATE {TABLE} SET n = n + 1, stamp = md5(random()::text || clock_timestamp()::text) "
                       "WHERE id = 1"}
READ_SQL = _READ = f"SELECT n, stamp FROM {TABLE} WHERE id = 1"
CONNECT_TIMEOUT_S = 2


class StoreVersion(NamedTuple):
    """The store's data version: `n` counts the commits that changed it, `stamp` is random, new with each."""

    n: int
    stamp: str


def _changes_rows(statement: str, rowcount: int) -> bool:
    m = _DML.match(statement)
    if m is None:
        return False
    verb, table = m.group(1).lower(), m.group(2).lower()
    if verb == "with":  # a CTE: whatever it writes, conservatively
        return rowcount != 0 and re.search(r"\b(insert|update|delete)\b", statement, re.IGNORECASE) is not None
    return table not in IGNORED and rowcount != 0


def _autocommit(dbapi_conn: Any) -> bool:
    flag = getattr(dbapi_conn, "autocommit", None)  # psycopg; sqlite3 from 3.12 (-1: legacy mode)
    if flag is True:
        return True
    return getattr(dbapi_conn, "isolation_level", "") is None  # sqlite3's legacy autocommit


def has_table(dbapi_conn: Any, info: dict[str, Any], dialect: str) -> bool:
    """Whether the counter table exists (a store not migrated yet has none); remembered once it does."""
    if info.get(_HAS_TABLE):
        return True
    sql = ("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'data_version'" if dialect == "sqlite"
           else "SELECT count(*) FROM pg_catalog.pg_class WHERE oid = to_regclass('data_version')")
    cur = dbapi_conn.cursor()
    try:
        cur.execute(sql)
        found = bool(cur.fetchone()[0])
    finally:
        cur.close()
    if found:
        info[_HAS_TABLE] = True
    return found


def _bump(dbapi_conn: Any, info: dict[str, Any], dialect: str) -> None:
    if not has_table(dbapi_conn, info, dialect):
        return
    cur = dbapi_conn.cursor()
    try:
        cur.execute(_BUMP.get(dialect, _BUMP["sqlite"]))
    finally:
        cur.close()


def install(engine: Engine) -> None:
    """Watch this engine's statements and bump the counter on the commits that changed rows."""
    if getattr(engine, "_pp_data_version", False):
        return
    engine._pp_data_version = True  # type: ignore[attr-defined]
    dialect = engine.dialect.name

    @event.listens_for(engine, "after_cursor_execute")
    def _seen(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
              executemany: bool) -> None:
        if not _changes_rows(statement, getattr(cursor, "rowcount", -1)):
            return
        dbapi_conn = conn.connection.dbapi_connection
        if _autocommit(dbapi_conn):  # committed already: bump on its own
            _bump(dbapi_conn, conn.info, dialect)
        else:
            conn.info[_CHANGED] = True

    @event.listens_for(engine, "commit")
    def _commit(conn: Connection) -> None:
        if conn.info.pop(_CHANGED, False):
            _bump(conn.connection.dbapi_connection, conn.info, dialect)

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Connection) -> None:
        conn.info.pop(_CHANGED, None)

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        record.info.pop(_CHANGED, None)  # a connection returned mid-transaction was rolled back


def mark_changed(where: Session | Connection, rowcount: int = -1) -> None:
    """Rows were written through the raw driver cursor of this session's or connection's transaction: its commit
    bumps the counter (unless `rowcount` says nothing changed)."""
    if rowcount == 0:
        return
    conn = where.connection() if isinstance(where, Session) else where
    conn.info[_CHANGED] = True


class _Reader:
    """PostgreSQL: a few connections of its own in autocommit mode, for the one-row read every request makes (no
    pool checkout with its liveness ping, no transaction to open and end). A connection that fails is dropped and
    the read tried once on a new one (the store restarted)."""

    IDLE_MAX = 8

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        dbapi = engine.dialect.loaded_dbapi
        self.broken: tuple[type[BaseException], ...] = (dbapi.OperationalError, dbapi.InterfaceError)
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def close(self) -> None:
        while True:
            try:
                conn = self.idle.get_nowait()
            except queue.Empty:
                return
            with contextlib.suppress(Exception):
                conn.close()

    def _connect(self) -> Any:
        cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
        cparams.setdefault("connect_timeout", CONNECT_TIMEOUT_S)  # a store that does not answer: uncached, quickly
        conn = self.engine.dialect.connect(*cargs, **cparams)
        conn.autocommit = True
        return conn

    def read(self) -> tuple[Any, ...] | None:
        for attempt in range(2):
            try:
                conn = self.idle.get_nowait() if attempt == 0 else None
            except queue.Empty:
                conn = None
            try:
                if conn is None:
                    conn = self._connect()
                with conn.cursor() as cur:
                    cur.execute(_READ)
                    row = cur.fetchone()
            except self.broken:  # a connection the store dropped (or could not make): again on a new one
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                continue
            except Exception:  # the store answered (no counter table): the connection is fine
                self.idle.put(conn)
                raise
            if self.idle.qsize() < self.IDLE_MAX:
                self.idle.put(conn)
            else:
                conn.close()
            return tuple(row) if row is not None else None
        raise ConnectionError("the store does not answer")


def read_version(engine: Engine) -> StoreVersion | None:
    """The store's data version now, or None when the store has no counter (not migrated yet) or does not answer;
    None means: do not cache."""
    try:
        if engine.dialect.name == "postgresql":
            reader = getattr(engine, "_pp_version_reader", None)
            if reader is None:
                reader = engine._pp_version_reader = _Reader(engine)  # type: ignore[attr-defined]
            row = reader.read()
        else:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                row = conn.exec_driver_sql(_READ).first()
    except Exception:  # a missing table or a store that does not answer: read uncached (the route reports it)
        return None
    return None if row is None else StoreVersion(int(row[0]), str(row[1]))


__all__ = ["CHANGED_KEY", "IGNORED", "READ_SQL", "TABLE", "StoreVersion", "has_table", "install", "mark_changed",
           "read_version"]
