"""The thread listing table (`chat_threads` in the store): one row per conversation thread with its owner, title,
message count and last update, written whenever the checkpointer writes the thread's checkpoint
(agent.checkpointer), read by `GET /threads` and by thread ownership checks.

A row is derived data: the checkpoint stays the truth, and `reindex` rebuilds rows from checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel
from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from readiness.db import session_scope
from readiness.models import ChatConversation, ChatThread, TurnIdempotency, TurnThread

TITLE_CHARS = 60


class ThreadSummary(BaseModel):
    thread_id: str
    updated_at: datetime | None
    title: str
    messages: int


class ThreadRow(BaseModel):
    """What one checkpoint says about its thread."""

    thread_id: str
    owner: str
    title: str
    messages: int
    updated_at: datetime


def title_of(messages: Sequence[BaseMessage]) -> str:
    first = next((m for m in messages if isinstance(m, HumanMessage)), None)
    text = first.content if first else ""
    text = text if isinstance(text, str) else " ".join(str(x) for x in text)
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 3] + "..."


def row_of(thread_id: str, owner: str, checkpoint: dict[str, Any]) -> ThreadRow | None:
    """The listing row a checkpoint implies, or None when it carries no conversation (no messages channel)."""
    messages = checkpoint.get("channel_values", {}).get("messages")
    if not isinstance(messages, list):
        return None
    ts = checkpoint.get("ts")
    updated = datetime.fromisoformat(ts) if isinstance(ts, str) else datetime.now(UTC)
    return ThreadRow(thread_id=thread_id, owner=owner, title=title_of(messages), messages=len(messages),
                     updated_at=updated if updated.tzinfo else updated.replace(tzinfo=UTC))


def upsert(engine: Engine, row: ThreadRow) -> None:
    """Insert or refresh the thread's row. The owner is the first writer's: a thread never changes hands."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(ChatThread).values(thread_id=row.thread_id, owner=row.owner, title=row.title,
                                     messages=row.messages, created_at=row.updated_at, updated_at=row.updated_at)
    stmt = stmt.on_conflict_do_update(index_elements=[ChatThread.thread_id],
                                      set_={"title": stmt.excluded.title, "messages": stmt.excluded.messages,
                                            "updated_at": stmt.excluded.updated_at})
    with engine.begin() as conn:
        conn.execute(stmt)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes of what was stored as UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def list_for(engine: Engine, owner: str, limit: int = 20) -> list[ThreadSummary]:
    """This owner's threads, most recently updated first: one range scan of (owner, updated_at)."""
    with session_scope(engine) as s:
        rows = s.execute(select(ChatThread.thread_id, ChatThread.updated_at, ChatThread.title, ChatThread.messages)
                         .where(ChatThread.owner == owner)
                         .order_by(ChatThread.updated_at.desc(), ChatThread.thread_id)
                         .limit(limit)).all()
    return [ThreadSummary(thread_id=r[0], updated_at=_aware(r[1]), title=r[2], messages=r[3]) for r in rows]


def owner_of(engine: Engine, thread_id: str) -> str | None:
    with session_scope(engine) as s:
        return s.execute(select(ChatThread.owner).where(ChatThread.thread_id == thread_id)).scalar_one_or_none()


def idle_since(engine: Engine, cutoff: datetime, limit: int) -> list[str]:
    """Threads whose last update is before `cutoff`, oldest first."""
    with session_scope(engine) as s:
        return list(s.execute(select(ChatThread.thread_id).where(ChatThread.updated_at < cutoff)
                              .order_by(ChatThread.updated_at).limit(limit)).scalars())


def indexed(engine: Engine) -> set[str]:
    with session_scope(engine) as s:
        return set(s.execute(select(ChatThread.thread_id)).scalars())


def forget(engine: Engine, thread_ids: Sequence[str]) -> None:
    """Drop deleted threads' rows: the listing's, the OpenAI-style conversations that continued them, the turn
    service's claims (the id is free again) and its stored Idempotency-Key results (they would replay a turn of a
    thread that no longer exists)."""
    ids = list(thread_ids)
    with engine.begin() as conn:
        conn.execute(delete(ChatThread).where(ChatThread.thread_id.in_(ids)))
        conn.execute(delete(ChatConversation).where(ChatConversation.thread_id.in_(ids)))
        conn.execute(delete(TurnThread).where(TurnThread.thread_id.in_(ids)))
        conn.execute(delete(TurnIdempotency).where(TurnIdempotency.thread_id.in_(ids)))


def expire_keys(engine: Engine, cutoff: datetime) -> int:
    """Drop Idempotency-Key results last touched before `cutoff` (a client retries within minutes, not months)."""
    with engine.begin() as conn:
        gone = conn.execute(delete(TurnIdempotency).where(TurnIdempotency.updated_at < cutoff))
    return int(gone.rowcount or 0)  # type: ignore[attr-defined]


__all__ = ["ThreadRow", "ThreadSummary", "expire_keys", "forget", "idle_since", "indexed", "list_for", "owner_of",
           "row_of", "title_of", "upsert"]
