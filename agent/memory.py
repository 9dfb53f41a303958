"""Conversation memory: the LangGraph checkpointer, and thread ownership recorded in checkpoint metadata.

SQLite (a file under PARTNERPILOT_HOME) by default; PostgreSQL when the store itself is on PostgreSQL, through a
pool with health checks because idle PostgresSaver connections get dropped by servers and proxies.

A thread belongs to the principal that started it: every turn is run with `{"owner": "role:id"}` in the run
metadata, which LangGraph copies into each checkpoint's metadata, so ownership survives restarts and can be
filtered on by any checkpointer.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import BaseModel
from sqlalchemy.engine import make_url

from readiness.settings import Settings, get_settings

OWNER_KEY = "owner"
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
    if is_postgres_url(url):
        from langgraph.checkpoint.postgres import PostgresSaver
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
            saver = PostgresSaver(pool)  # type: ignore[arg-type]
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
        return

    from langgraph.checkpoint.sqlite import SqliteSaver

    path = s.checkpoint_path
    path.parent.mkdir(parents=True, exist_ok=True)
    # One connection shared by the server's worker threads; SqliteSaver serialises access with its own lock.
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


def _try_lock(conn: Any, key: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (key,)).fetchone()
    return bool(row["got"])  # the pool's connections return dict rows


def run_config(thread_id: str, owner: str) -> dict[str, Any]:
    """The config for one turn: the thread, and its owner stamped into the checkpoint metadata."""
    return {"configurable": {"thread_id": thread_id}, "metadata": {OWNER_KEY: owner}}


def thread_owner(checkpointer: BaseCheckpointSaver[Any], thread_id: str) -> str | None:
    """Who started this thread, or None when it has no checkpoint yet (a new thread)."""
    latest = checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
    if latest is None:
        return None
    owner = (latest.metadata or {}).get(OWNER_KEY)
    # A thread written without an owner (e.g. by `langgraph dev`) belongs to nobody: nobody may continue it here.
    return str(owner) if owner else ""


class ThreadSummary(BaseModel):
    thread_id: str
    updated_at: datetime | None
    title: str
    messages: int


def _title(messages: list[BaseMessage]) -> str:
    first = next((m for m in messages if isinstance(m, HumanMessage)), None)
    text = str(first.content) if first else ""
    return text if len(text) <= 60 else text[:57] + "..."


def list_threads(checkpointer: BaseCheckpointSaver[Any], owner: str, limit: int = 20) -> list[ThreadSummary]:
    """This owner's threads, most recently updated first (one row per thread, from its latest checkpoint)."""
    seen: dict[str, ThreadSummary] = {}
    for tup in checkpointer.list(None, filter={OWNER_KEY: owner}):
        thread_id = str(tup.config["configurable"]["thread_id"])
        ts = tup.checkpoint.get("ts")
        updated = datetime.fromisoformat(ts) if ts else None
        current = seen.get(thread_id)
        # Checkpointers list newest first; keep a thread's first (latest) row unless a newer one shows up.
        if current is not None and (updated is None or (current.updated_at and current.updated_at >= updated)):
            continue
        messages = list(tup.checkpoint.get("channel_values", {}).get("messages", []))
        seen[thread_id] = ThreadSummary(thread_id=thread_id, updated_at=updated, title=_title(messages),
                                        messages=len(messages))
    ordered = sorted(seen.values(), key=lambda t: t.updated_at.timestamp() if t.updated_at else 0.0, reverse=True)
    return ordered[:limit]


__all__ = ["ThreadSummary", "is_postgres_url", "list_threads", "open_checkpointer", "run_config", "thread_owner"]
