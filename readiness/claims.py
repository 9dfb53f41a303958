"""What a PAM has to confirm or reject: milestones partners claimed, and partner-reported signals not yet reviewed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased

from readiness.models import ActivationPlan, Milestone, Partner, ReadinessSignal


class ClaimedMilestone(BaseModel):
    partner_id: str
    name: str
    plan_id: int
    key: str
    title: str
    phase: int
    claimed_by: str | None
    claimed_at: datetime | None
    evidence: list[str] = Field(default_factory=list)


class ClaimedSignal(BaseModel):
    signal_id: int
    partner_id: str
    name: str
    dimension: str
    level: str | None
    value: float | None
    evidence: str | None
    actor: str
    created_at: datetime


class ClaimsAwaiting(BaseModel):
    milestones: list[ClaimedMilestone]
    signals: list[ClaimedSignal]


def claims_awaiting(session: Session, partner_ids: Sequence[str] | None = None) -> ClaimsAwaiting:
    """Open claims among these partners (None: the whole program), oldest first."""
    mq = (select(Milestone, ActivationPlan.partner_id, Partner.name)
          .join(ActivationPlan, Milestone.plan_id == ActivationPlan.id)
          .join(Partner, Partner.partner_id == ActivationPlan.partner_id)
          .where(ActivationPlan.status == "active", Milestone.status == "claimed")
          .order_by(Milestone.claimed_at, Milestone.id))
    review = aliased(ReadinessSignal)
    sq = (select(ReadinessSignal, Partner.name)
          .join(Partner, Partner.partner_id == ReadinessSignal.partner_id)
          .where(ReadinessSignal.status == "claimed",
                 ~exists().where(and_(review.supersedes_id == ReadinessSignal.id)))
          .order_by(ReadinessSignal.created_at, ReadinessSignal.id))
    if partner_ids is not None:
        ids = list(partner_ids)
        mq = mq.where(ActivationPlan.partner_id.in_(ids))
        sq = sq.where(ReadinessSignal.partner_id.in_(ids))
    milestones = [
        ClaimedMilestone(partner_id=pid, name=name, plan_id=m.plan_id, key=m.key, title=m.title, phase=m.phase,
                         claimed_by=m.claimed_by, claimed_at=m.claimed_at, evidence=list(m.evidence or []))
        for m, pid, name in session.execute(mq)
    ]
    signals = [
        ClaimedSignal(signal_id=r.id, partner_id=r.partner_id, name=name, dimension=r.dimension, level=r.level,
                      value=r.value, evidence=r.evidence, actor=r.actor, created_at=r.created_at)
        for r, name in session.execute(sq)
    ]
    return ClaimsAwaiting(milestones=milestones, signals=signals)


__all__ = ["ClaimedMilestone", "ClaimedSignal", "ClaimsAwaiting", "claims_awaiting"]
