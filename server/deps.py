"""What every conversational route shares: the authenticated principal, its agent context, the message size limit
and thread ownership. Used by the native routes (`/invoke`, `/stream`), the OpenAI-compatible API and MCP."""

from __future__ import annotations

import uuid

from fastapi import Depends, FastAPI, HTTPException, status

from agent.context import Context
from agent.memory import thread_owner
from agent.services import get_services
from readiness.errors import OutOfScope
from readiness.scope import Principal, validate_principal
from readiness.settings import Settings
from server.auth import require_principal


def current_principal(principal: Principal = Depends(require_principal)) -> Principal:
    """The authenticated principal, rejected when it no longer exists in the store (stale token)."""
    try:
        with get_services().session() as s:
            validate_principal(s, principal)
    except OutOfScope as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc
    return principal


def context_for(principal: Principal, settings: Settings) -> Context:
    return Context(role=principal.role, principal_id=principal.id, as_of=settings.today(),
                   provider=settings.resolved_provider, model=settings.model)


def check_size(message: str, settings: Settings) -> None:
    if len(message) > settings.max_input_chars:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"message is {len(message):,} characters long; the limit is {settings.max_input_chars:,}",
        )


def claim_thread(app: FastAPI, principal: Principal, thread_id: str | None) -> str:
    """A new thread id, or the given one when it is new or already this principal's. Someone else's thread is
    reported as not found, so thread ids cannot be probed."""
    if thread_id is None:
        return uuid.uuid4().hex
    owner = thread_owner(app.state.checkpointer, thread_id)
    if owner is not None and owner != principal.actor:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="thread not found")
    return thread_id


__all__ = ["check_size", "claim_thread", "context_for", "current_principal"]
