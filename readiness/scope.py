"""Tenancy: who may see which partners. Identity comes from authentication, never from a model's arguments.

A partner principal sees only itself; a PAM sees the partners in their book; a channel leader (role ``leader``)
sees the whole program, and so does an administrator (role ``admin``: also imports data and manages keys).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel
from rapidfuzz import fuzz, process, utils
from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness.errors import OutOfScope, UnknownPartner, ValidationFailed
from readiness.models import Pam, Partner

Role = Literal["partner", "pam", "leader", "admin"]
# Roles that see the whole program.
PROGRAM_ROLES = frozenset({"leader", "admin"})

# Scores below this are not a match; within AMBIGUITY_MARGIN of the best, candidates are ambiguous.
MATCH_THRESHOLD = 80.0
# An explicit search shows candidates, so it tolerates heavier misspellings.
SEARCH_THRESHOLD = 70.0
AMBIGUITY_MARGIN = 3.0
_ID_PATTERN = re.compile(r"^[A-Za-z]{1,4}-?\d+$")


class Principal(BaseModel):
    role: Role
    id: str

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.id}"


def pam_id_of(actor: str) -> str:
    """The PAM id in an audit actor ("pam:pam-02" -> "pam-02"); a bare id is returned as it is."""
    role, sep, ident = actor.partition(":")
    return ident if sep and role == "pam" else actor


class PartnerRef(BaseModel):
    partner_id: str
    name: str
    pam_id: str | None = None


class AmbiguousPartner(ValidationFailed):
    """Several partners in scope match; the caller should ask which one."""

    def __init__(self, query: str, candidates: list[PartnerRef]) -> None:
        names = ", ".join(f"{c.name} ({c.partner_id})" for c in candidates)
        super().__init__(f"'{query}' matches several partners: {names}. Which one do you mean?")
        self.query = query
        self.candidates = candidates


def validate_principal(session: Session, principal: Principal) -> None:
    """Reject a principal whose id does not exist (a stale or forged identity)."""
    if principal.role == "partner" and session.get(Partner, principal.id) is None:
        raise OutOfScope(f"unknown partner principal {principal.id!r}")
    if principal.role == "pam" and session.get(Pam, principal.id) is None:
        raise OutOfScope(f"unknown PAM principal {principal.id!r}")


def visible_partners(session: Session, principal: Principal) -> list[PartnerRef]:
    q = select(Partner.partner_id, Partner.name, Partner.pam_id).order_by(Partner.partner_id)
    if principal.role == "partner":
        q = q.where(Partner.partner_id == principal.id)
    elif principal.role == "pam":
        q = q.where(Partner.pam_id == principal.id)
    return [PartnerRef(partner_id=r[0], name=r[1], pam_id=r[2]) for r in session.execute(q)]


def visible_partner_ids(session: Session, principal: Principal) -> list[str]:
    return [p.partner_id for p in visible_partners(session, principal)]


def can_see(session: Session, principal: Principal, partner_id: str) -> bool:
    if principal.role in PROGRAM_ROLES:
        return session.get(Partner, partner_id) is not None
    if principal.role == "partner":
        return partner_id == principal.id
    p = session.get(Partner, partner_id)
    return p is not None and p.pam_id == principal.id


def match_partners(
    query: str, refs: list[PartnerRef], limit: int = 5, threshold: float = MATCH_THRESHOLD
) -> list[tuple[PartnerRef, float]]:
    """Fuzzy matches of a name (or id) against partner refs, best first."""
    q = query.strip()
    if not q:
        return []
    exact = [r for r in refs if r.partner_id.lower() == q.lower() or r.name.lower() == q.lower()]
    if exact:
        return [(r, 100.0) for r in exact]
    choices = {i: r.name for i, r in enumerate(refs)}
    hits = process.extract(q, choices, scorer=fuzz.WRatio, processor=utils.default_process, limit=limit)
    return [(refs[key], float(score)) for _name, score, key in hits if score >= threshold]


def resolve_partner(session: Session, principal: Principal, ref: str | None) -> PartnerRef:
    """The partner a request is about, checked against the principal's scope.

    A partner principal always acts on itself; naming anyone else is refused. A PAM must name a partner in their book.
    The refusal does not say whether a partner outside the scope exists.
    """
    if principal.role == "partner":
        own = session.get(Partner, principal.id)
        if own is None:
            raise OutOfScope("your partner account is not known to this program")
        mine = PartnerRef(partner_id=own.partner_id, name=own.name, pam_id=own.pam_id)
        if ref is None or not ref.strip() or match_partners(ref, [mine]):
            return mine
        if _mentions_self(ref, mine):
            return mine
        raise OutOfScope("I can only share information about your own partner account.")
    if ref is None or not ref.strip():
        raise ValidationFailed("Which partner do you mean? Give a name or id.")
    refs = visible_partners(session, principal)
    hits = match_partners(ref, refs)
    if not hits:
        everyone = visible_partners(session, Principal(role="leader", id="*"))
        if principal.role not in PROGRAM_ROLES and match_partners(ref, everyone):
            raise OutOfScope("That partner is not in your book; I can only discuss partners you manage.")
        raise UnknownPartner(f"No partner in your book matches '{ref}'.")
    best = hits[0][1]
    close = [r for r, s in hits if best - s <= AMBIGUITY_MARGIN]
    if len(close) > 1 and best < 100.0:
        raise AmbiguousPartner(ref, close)
    return hits[0][0]


def _mentions_self(ref: str, mine: PartnerRef) -> bool:
    text = ref.lower()
    return text in {"me", "my", "mine", "us", "our", "ours", "self", "myself"} or bool(
        _ID_PATTERN.match(ref.strip()) and ref.strip().lower() == mine.partner_id.lower()
    )
