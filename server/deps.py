"""What every conversational route shares: the agent context of the authenticated principal, the message size limit
and thread ownership. Used by the native routes (`/invoke`, `/stream`), the OpenAI-compatible API and MCP; the
principal itself comes from `server.auth.current_principal`."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, status

from readiness.scope import Principal
from readiness.settings import Settings
from server.auth import agent_context

# An optional header of the chat routes: a retry with the same key returns the first turn's result.
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 200

# The agent's context for a turn: identity from authentication only (an admin converses as a leader).
context_for = agent_context


def check_size(message: str, settings: Settings) -> None:
    if len(message) > settings.max_input_chars:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"message is {len(message):,} characters long; the limit is {settings.max_input_chars:,}",
        )


def claim_thread(app: FastAPI, principal: Principal, thread_id: str | None) -> str:
    """A new thread id, or the given one when it is new (claimed now, atomically) or already this principal's.
    Someone else's thread is reported as not found, so thread ids cannot be probed."""
    from server.turn_service import claim_thread as claim

    return claim(app.state.checkpointer, principal.actor, thread_id)


__all__ = ["IDEMPOTENCY_HEADER", "IDEMPOTENCY_KEY_MAX", "check_size", "claim_thread", "context_for"]
