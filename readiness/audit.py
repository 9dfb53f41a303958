"""Audit trail: every write the product makes on someone's behalf records who, what, when and from which thread."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from readiness.models import AuditLog


def audit(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int | None,
    thread_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    """Add an audit row in the caller's transaction, so the write and its audit commit or roll back together."""
    row = AuditLog(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        thread_id=thread_id,
        detail=detail or {},
    )
    session.add(row)
    return row


__all__ = ["audit"]
