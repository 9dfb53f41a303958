"""Scope checks for the REST routes, from the authenticated principal only.

No existence oracle: a partner, signal or playbook outside the caller's scope and one that does not exist get the
same 404 with the same body. A route that a role may never use (a partner asking for a call list) is a 403 that
says nothing about any particular resource.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness.models import Pam, Partner
from readiness.scope import PROGRAM_ROLES, Principal, can_see

PARTNER_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
NOT_FOUND = "partner not found"


def not_found(what: str = NOT_FOUND) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=what)


def forbidden(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=detail)


def partner_in_scope(session: Session, principal: Principal, partner_id: str) -> Partner:
    """The partner, when the principal may see it; 404 for unknown and out-of-scope alike."""
    partner = session.get(Partner, partner_id)
    if partner is None or not can_see(session, principal, partner_id):
        raise not_found()
    return partner


def in_scope(principal: Principal, partner_id: str) -> Callable[[], None]:
    """`partner_in_scope` in a session of its own, as the check of a cached per-partner read."""
    def check() -> None:
        from agent.services import get_services

        with get_services().session() as s:
            partner_in_scope(s, principal, partner_id)

    return check


def book_of(session: Session, principal: Principal, pam: str | None) -> str | None:
    """Which PAM's book a book-level read covers: a PAM's own (asking for another is refused whatever it names),
    any PAM's or the whole program (None) for leaders and administrators."""
    if principal.role == "pam":
        if pam not in (None, principal.id):
            raise forbidden("a PAM key reads its own book only")
        return principal.id
    if principal.role not in PROGRAM_ROLES:
        raise forbidden("this route is for PAM, leader or admin keys")
    if pam is not None and session.get(Pam, pam) is None:
        raise not_found("PAM not found")
    return pam


def book_partner_ids(session: Session, pam_id: str | None) -> list[str] | None:
    """The partner ids of a book, or None for the whole program."""
    if pam_id is None:
        return None
    return list(session.scalars(select(Partner.partner_id).where(Partner.pam_id == pam_id)
                                .order_by(Partner.partner_id)))


def scoped_partner_ids(session: Session, principal: Principal, partner_id: str | None, pam: str | None
                       ) -> list[str] | None:
    """Partners a program-level read (pipeline) covers: one partner in scope, a book, or the program (None)."""
    if partner_id is not None:
        return [partner_in_scope(session, principal, partner_id).partner_id]
    if principal.role == "partner":
        return [principal.id]
    return book_partner_ids(session, book_of(session, principal, pam))


__all__ = ["NOT_FOUND", "PARTNER_ID", "book_of", "book_partner_ids", "forbidden", "in_scope", "not_found",
           "partner_in_scope", "scoped_partner_ids"]
