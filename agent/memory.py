"""Conversation memory: the LangGraph checkpointer, and thread ownership recorded in checkpoint metadata.

SQLite (a file under PARTNERPILOT_HOME) by default; PostgreSQL when the store itself is on PostgreSQL, through a
pool with health checks because idle PostgresSaver connections get dropped by servers and proxies.

A thread belongs to the principal that started it: every turn is run with `{"owner": "role:id"}` in the run
metadata, which LangGraph copies into each checkpoint's metadata, so ownership survives restarts and can be
filtered on by any checkpointer. The savers are agent.checkpointer's: each write of a thread's checkpoint also
updates the thread listing table and applies retention.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from agent import thread_index
from agent.checkpointer import OWNER_KEY, Keeping, KeptPostgresSaver, KeptSqliteSaver
from agent.thread_index import ThreadSummary
from readiness.settings import Settings, get_settings

# Passed to every turn's graph.invoke / graph.stream: one checkpoint per turn, written when the run ends, instead of
# one per step (a turn is 4-8 steps, each a full copy of the conversation on SQLite).
TURN_OPTIONS: dict[str, Any] = {"durability": "exit"}
SETUP_LOCK = 7_416_001  # PostgreSQL advisory lock id serialising checkpointer set-up across workers


def is_postgres_url(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://…`) as the plain libpq URL psycopg expects."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def open_checkpointer(settings: Settings | None = None) -> Iterator[BaseCheckpointSaver[Any]]:
    """Yield a ready (`setup()` done) checkpointer for the configured store; close it on exit."""
    s = settings or get_settings()
    url = s.resolved_database_url
    keeping = Keeping(keep=s.checkpoint_keep, retention_days=s.thread_retention_days)
    store = StoreEngine(url)
    if is_postgres_url(url):
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(
            libpq_url(url),
            min_size=1,
            max_size=10,
            check=ConnectionPool.check_connection,  # validate a pooled connection before handing it out
            timeout=s.db_pool_timeout_s,  # database down: fail (503) in seconds, not after psycopg's default 30 s
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row,
                    "connect_timeout": max(2, round(s.db_pool_timeout_s))},
            open=True,
        )
        try:
            saver = KeptPostgresSaver(pool)  # type: ignore[arg-type]
            saver.start_keeping(keeping, store)
            # Several workers start at once: setup() inserts its migration rows unguarded, so one at a time. Waiting
            # is a polling loop, not a blocking pg_advisory_lock: setup() builds an index CONCURRENTLY, which waits
            # for every open transaction, a blocked lock request included, and the two would wait for each other.
            with pool.connection() as lock:
                while not _try_lock(lock, SETUP_LOCK):
                    time.sleep(0.1)
                try:
                    saver.setup()
                finally:
                    lock.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))
            yield saver
        finally:
            pool.close()
            store.close()
        return

    path = s.checkpoint_path
    path.parent.mkdir(parents=True, exist_ok=True)
    # One connection shared by the server's worker threads; SqliteSaver serialises access with its own lock.
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        saver = KeptSqliteSaver(conn)
        saver.start_keeping(keeping, store)
        saver.setup()
        yield saver
    finally:
        conn.close()
        store.close()


class StoreEngine:
    """The store holding the thread listing: the process's services engine when it is the same database as the
    checkpointer's settings name (the server, the CLI), else an engine of its own (a checkpointer opened on another
    home's settings, as tests and tools do), disposed when the checkpointer closes."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self._own: Engine | None = None

    def __call__(self) -> Engine:
        from agent.services import get_services
        from readiness.db import make_engine

        shared = get_services().engine
        if shared.url == self.url:
            return shared
        if self._own is None:
            self._own = make_engine(self.url.render_as_string(hide_password=False))
        return self._own

    def close(self) -> None:
        if self._own is not None:
            self._own.dispose()


def _store_engine(checkpointer: BaseCheckpointSaver[Any] | None = None) -> Engine:
    engine_of = getattr(checkpointer, "engine_of", None)
    if callable(engine_of):
        return engine_of()  # type: ignore[no-any-return]
    from agent.services import get_services

    return get_services().engine


def _try_lock(conn: Any, key: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (key,)).fetchone()
    return bool(row["got"])  # the pool's connections return dict rows


def run_config(thread_id: str, owner: str) -> dict[str, Any]:
    """The config for one turn: the thread, and its owner stamped into the checkpoint metadata."""
    return {"configurable": {"thread_id": thread_id}, "metadata": {OWNER_KEY: owner}}


def thread_owner(checkpointer: BaseCheckpointSaver[Any], thread_id: str) -> str | None:
    """Who started this thread, or None when it has no checkpoint yet (a new thread). The listing table answers
    with one primary-key read; a thread it does not know (written before it existed) is read from its checkpoint."""
    owner = thread_index.owner_of(_store_engine(checkpointer), thread_id)
    if owner is not None:
        return owner
    latest = checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
    if latest is None:
        return None
    owner = (latest.metadata or {}).get(OWNER_KEY)
    # A thread written without an owner (e.g. by `langgraph dev`) belongs to nobody: nobody may continue it here.
    return str(owner) if owner else ""


def list_threads(checkpointer: BaseCheckpointSaver[Any], owner: str, limit: int = 20) -> list[ThreadSummary]:
    """This owner's threads, most recently updated first, from the listing table (kept by the checkpointer)."""
    return thread_index.list_for(_store_engine(checkpointer), owner, limit)


__all__ = ["TURN_OPTIONS", "ThreadSummary", "is_postgres_url", "list_threads", "open_checkpointer", "run_config",
           "thread_owner"]
