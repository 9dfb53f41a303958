"""Which thread a stateless chat client's conversation continues.

OpenAI-style clients send the whole conversation with every request and no thread id. After each turn the server
records `hash(owner, transcript so far)` → thread, where the transcript is the user and assistant texts the
client will send back; the next request's history (everything before its last user message) hashes to the same
key. A history the server does not know (started elsewhere, edited, regenerated from an earlier point) becomes a
new thread seeded with that history, so the agent still sees the context the user sees.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from agent.memory import run_config
from agent.services import get_services
from readiness.models import ChatConversation

# A client can send any history; only the newest part seeds a new thread, each message capped.
SEED_MAX_MESSAGES = 40


class Said(BaseModel):
    """One user or assistant message of a conversation, as plain text."""

    role: Literal["user", "assistant"]
    text: str


def _normal(text: str) -> str:
    # Clients re-send what they displayed: whitespace may differ from what the server produced.
    return " ".join(text.split())


def conversation_key(owner: str, transcript: Sequence[Said]) -> str:
    raw = json.dumps([owner, [[s.role, _normal(s.text)] for s in transcript]], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def find_thread(owner: str, history: Sequence[Said]) -> tuple[str, int] | None:
    """(thread, its user-message count then) for the thread whose conversation reached `history` on this server."""
    with get_services().session() as s:
        row = s.execute(select(ChatConversation.thread_id, ChatConversation.turns).where(
            ChatConversation.key == conversation_key(owner, history), ChatConversation.owner == owner)).first()
    return (row[0], row[1]) if row else None


def remember(owner: str, transcript: Sequence[Said], thread_id: str, turns: int) -> None:
    """Record where this transcript lives. The same transcript reached twice keeps its first thread."""
    key = conversation_key(owner, transcript)
    try:
        with get_services().session() as s:
            if s.get(ChatConversation, key) is None:
                s.add(ChatConversation(key=key, owner=owner, thread_id=thread_id, turns=turns))
    except IntegrityError:
        pass  # a concurrent request recorded it first: either thread holds this transcript


def user_turns(graph: Any, thread_id: str, owner: str) -> int:
    """How many user messages the thread holds (a thread that has more than when it was recorded moved on:
    a regenerate, an edit, another tab)."""
    values = graph.get_state(run_config(thread_id, owner)).values
    return sum(1 for m in values.get("messages", []) if isinstance(m, HumanMessage))


def seed_thread(graph: Any, thread_id: str, owner: str, history: Sequence[Said], max_chars: int) -> int:
    """Start a thread holding the client's earlier messages, so the next turn runs with that context; returns how
    many user messages it holds."""
    recent = list(history)[-SEED_MAX_MESSAGES:]
    while recent and recent[0].role != "user":
        recent = recent[1:]  # a history always starts with the user
    messages: list[BaseMessage] = [
        HumanMessage(content=s.text[:max_chars]) if s.role == "user"
        else AIMessage(content=s.text[:max_chars], additional_kwargs={"seeded": True})
        for s in recent
    ]
    if messages:
        # As if the finish node wrote them: the thread is at rest, the next input starts a normal turn.
        graph.update_state(run_config(thread_id, owner), {"messages": messages}, as_node="finish")
    return sum(1 for m in messages if isinstance(m, HumanMessage))


__all__ = ["Said", "conversation_key", "find_thread", "remember", "seed_thread", "user_turns"]
