"""Checkpoint retention on the SQLite and PostgreSQL checkpointers: keep the newest N checkpoints of a thread, and
delete whole threads.

LangGraph only ever resumes a thread from its newest checkpoint, which holds every channel's current value (the
whole conversation), so older checkpoints are history nobody reads here. Checkpoint ids are time-ordered (uuid6):
"older" is "smaller id". Neither saver offers keep-the-last-N (PostgresSaver.prune keeps one), hence this SQL.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

# PostgreSQL: a blob is a channel's value at one version. Delete the versions no kept checkpoint references, but only
# those older than the newest kept one, so a concurrent put whose blobs land before its checkpoint row keeps them.
_PG_KEEP = (
    "DELETE FROM checkpoints WHERE thread_id = %(t)s AND checkpoint_ns = %(ns)s AND checkpoint_id < %(cut)s",
    "DELETE FROM checkpoint_writes WHERE thread_id = %(t)s AND checkpoint_ns = %(ns)s AND checkpoint_id < %(cut)s",
    """DELETE FROM checkpoint_blobs b WHERE b.thread_id = %(t)s AND b.checkpoint_ns = %(ns)s
       AND NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id
                       AND c.checkpoint_ns = b.checkpoint_ns
                       AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)
       AND b.version < (SELECT max(c.checkpoint -> 'channel_versions' ->> b.channel) FROM checkpoints c
                        WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = b.checkpoint_ns)""",
)
_SQLITE_KEEP = (
    "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id < ?",
    "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id < ?",
)


def is_postgres(saver: BaseCheckpointSaver[Any]) -> bool:
    from langgraph.checkpoint.postgres import PostgresSaver

    return isinstance(saver, PostgresSaver)


def keep_latest(saver: BaseCheckpointSaver[Any], thread_id: str, keep: int, checkpoint_ns: str = "") -> None:
    """Delete all but the newest `keep` checkpoints of one thread (and their pending writes and unreferenced blobs)."""
    if is_postgres(saver):
        with saver._cursor() as cur:  # type: ignore[attr-defined]
            row = cur.execute("SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = %s "
                              "ORDER BY checkpoint_id DESC LIMIT 1 OFFSET %s",
                              (thread_id, checkpoint_ns, keep - 1)).fetchone()
            if row is None:
                return
            with cur.connection.transaction():
                for sql in _PG_KEEP:
                    cur.execute(sql, {"t": thread_id, "ns": checkpoint_ns, "cut": row["checkpoint_id"]})
        return
    with saver.cursor() as cur:  # type: ignore[attr-defined]
        row = cur.execute("SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
                          "ORDER BY checkpoint_id DESC LIMIT 1 OFFSET ?", (thread_id, checkpoint_ns, keep - 1)
                          ).fetchone()
        if row is None:
            return
        for sql in _SQLITE_KEEP:
            cur.execute(sql, (thread_id, checkpoint_ns, row[0]))


def thread_ids(saver: BaseCheckpointSaver[Any]) -> list[str]:
    """Every thread the checkpointer holds."""
    if is_postgres(saver):
        with saver._cursor() as cur:  # type: ignore[attr-defined]
            return [r["thread_id"] for r in cur.execute("SELECT DISTINCT thread_id FROM checkpoints").fetchall()]
    with saver.cursor(transaction=False) as cur:  # type: ignore[attr-defined]
        return [r[0] for r in cur.execute("SELECT DISTINCT thread_id FROM checkpoints").fetchall()]


def checkpoint_count(saver: BaseCheckpointSaver[Any], thread_id: str) -> int:
    if is_postgres(saver):
        with saver._cursor() as cur:  # type: ignore[attr-defined]
            row = cur.execute("SELECT COUNT(*) AS n FROM checkpoints WHERE thread_id = %s", (thread_id,)).fetchone()
            return int(row["n"])
    with saver.cursor(transaction=False) as cur:  # type: ignore[attr-defined]
        return int(cur.execute("SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?", (thread_id,)).fetchone()[0])


def vacuum(saver: BaseCheckpointSaver[Any]) -> None:
    """Give the space of deleted rows back to the file system (SQLite; PostgreSQL's autovacuum reuses it)."""
    if is_postgres(saver):
        return
    with saver.lock:  # type: ignore[attr-defined]
        saver.conn.execute("VACUUM")  # type: ignore[attr-defined]


__all__ = ["checkpoint_count", "is_postgres", "keep_latest", "thread_ids", "vacuum"]
