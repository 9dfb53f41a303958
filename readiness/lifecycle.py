"""Partner lifecycle as of a date: prospect -> signed -> onboarding -> activated -> productive.

Each stage is evidenced by data, never by a flag someone set:
- signed: `joined_on` on or before as_of;
- onboarding: first `onboarding_started`, `training_completed` or `certification_earned` event;
- activated: first `deal_registered` event or first SOURCED opportunity created;
- productive: first closed-won SOURCED opportunity (influenced wins do not make a partner productive).
The current stage is the furthest one evidenced; an earlier stage with no evidence was skipped (entered_on None).
A partner with no joined_on and no evidence is a prospect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from statistics import median

from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from readiness.models import ActivityEvent, Opportunity, Partner
from readiness.pipeline import scoped

STAGES = ("prospect", "signed", "onboarding", "activated", "productive")
ONBOARDING_KINDS = ("onboarding_started", "training_completed", "certification_earned")
EPOCH = date(1970, 1, 1)


class StallThresholds(BaseModel):
    """Days in a stage after which a partner counts as stalled there."""

    signed: int = 45
    onboarding: int = 60
    activated: int = 180

    def limit(self, stage: str) -> int | None:
        return getattr(self, stage, None)


class StageEntry(BaseModel):
    stage: str
    entered_on: date | None


class Lifecycle(BaseModel):
    partner_id: str
    name: str | None = None
    as_of: date
    stage: str
    entered_on: date | None
    days_in_stage: int | None
    history: list[StageEntry] = Field(description="every stage in order; entered_on None = not reached or skipped")
    stalled: bool
    stalled_reason: str | None = None


class StageCount(BaseModel):
    stage: str
    current: int = Field(description="partners in this stage now")
    reached: int = Field(description="partners that reached this stage or a later one")
    conversion_to_next: float | None
    median_days_to_next: float | None
    stalled: int


class LifecycleReport(BaseModel):
    as_of: date
    partners: int
    stages: list[StageCount]
    bottleneck: str | None = Field(description="stage with the lowest conversion to the next one")
    bottleneck_reason: str | None
    thresholds: StallThresholds
    stalled: list[Lifecycle]


def _first_days(session: Session, ids: Sequence[str] | None, kinds: Sequence[str], as_of: date) -> dict[str, int]:
    q = (
        select(ActivityEvent.partner_id, func.min(ActivityEvent.day))
        .where(ActivityEvent.kind.in_(kinds), ActivityEvent.day <= (as_of - EPOCH).days)
        .group_by(ActivityEvent.partner_id)
    )
    return {pid: d for pid, d in scoped(session, q, ActivityEvent.partner_id, ids)}


def _first_sourced(
    session: Session, ids: Sequence[str] | None, column: InstrumentedAttribute[date | None], as_of: date,
    won_only: bool = False,
) -> dict[str, date]:
    """Earliest `column` date (<= as_of) of each partner's sourced opportunities."""
    conds = [Opportunity.attribution == "sourced", column <= as_of]
    if won_only:
        conds.append(Opportunity.stage == "closed_won")
    q = select(Opportunity.partner_id, func.min(column)).where(*conds).group_by(Opportunity.partner_id)
    return {pid: d for pid, d in scoped(session, q, Opportunity.partner_id, ids)}


def _as_dates(days: dict[str, int]) -> dict[str, date]:
    return {p: EPOCH + timedelta(days=d) for p, d in days.items()}


class LifecycleFacts:
    """First evidence dates per partner, loaded with a handful of grouped queries."""

    def __init__(self, session: Session, as_of: date, partner_ids: Sequence[str] | None = None) -> None:
        self.as_of = as_of
        q = select(Partner.partner_id, Partner.joined_on, Partner.name)
        rows = list(scoped(session, q, Partner.partner_id, partner_ids))
        self.joined: dict[str, date | None] = {pid: joined for pid, joined, _ in rows}
        self.names: dict[str, str] = {pid: name for pid, _, name in rows}
        ids = partner_ids
        self.onboarding = _as_dates(_first_days(session, ids, ONBOARDING_KINDS, as_of))
        deal_events = _as_dates(_first_days(session, ids, ("deal_registered",), as_of))
        sourced = _first_sourced(session, ids, Opportunity.created_on, as_of)
        self.first_deal = {
            p: min(d for d in (deal_events.get(p), sourced.get(p)) if d) for p in {*deal_events, *sourced}
        }
        self.first_win = _first_sourced(session, ids, Opportunity.close_date, as_of, won_only=True)

    def lifecycle(self, partner_id: str, thresholds: StallThresholds | None = None) -> Lifecycle:
        thresholds = thresholds or StallThresholds()
        joined = self.joined.get(partner_id)
        entries = {
            "prospect": None,
            "signed": joined if joined and joined <= self.as_of else None,
            "onboarding": self.onboarding.get(partner_id),
            "activated": self.first_deal.get(partner_id),
            "productive": self.first_win.get(partner_id),
        }
        stage = next((s for s in reversed(STAGES) if entries[s] is not None), "prospect")
        entered = entries[stage]
        days = (self.as_of - entered).days if entered else None
        limit = thresholds.limit(stage)
        stalled = limit is not None and days is not None and days > limit
        return Lifecycle(
            partner_id=partner_id, name=self.names.get(partner_id), as_of=self.as_of, stage=stage, entered_on=entered,
            days_in_stage=days,
            history=[StageEntry(stage=s, entered_on=entries[s]) for s in STAGES], stalled=stalled,
            stalled_reason=f"{days} days in {stage} (limit {limit})" if stalled else None,
        )


def has_customers(session: Session, partner_id: str, as_of: date) -> bool:
    """Whether the partner has won a customer on the vendor's platform by as_of (a closed-won deal it sourced or
    influenced): what an installed-base playbook presupposes."""
    won = select(Opportunity.opportunity_id).where(
        Opportunity.partner_id == partner_id, Opportunity.stage == "closed_won",
        or_(Opportunity.close_date.is_(None), Opportunity.close_date <= as_of))
    return session.scalar(select(won.exists())) is True


def lifecycle_of(
    session: Session, partner_id: str, as_of: date, thresholds: StallThresholds | None = None
) -> Lifecycle:
    facts = LifecycleFacts(session, as_of, [partner_id])
    if partner_id not in facts.joined:
        raise KeyError(f"unknown partner {partner_id!r}")
    return facts.lifecycle(partner_id, thresholds)


def program_lifecycle(
    session: Session, as_of: date, partner_ids: list[str] | None = None, thresholds: StallThresholds | None = None
) -> LifecycleReport:
    """Stage counts, stage-to-stage conversion, the bottleneck stage and stalled partners."""
    thresholds = thresholds or StallThresholds()
    facts = LifecycleFacts(session, as_of, partner_ids)
    lifecycles = [facts.lifecycle(pid, thresholds) for pid in sorted(facts.joined)]
    current = Counter(lc.stage for lc in lifecycles)
    stalled_by = Counter(lc.stage for lc in lifecycles if lc.stalled)
    rank = {s: k for k, s in enumerate(STAGES)}
    reached = [sum(1 for lc in lifecycles if rank[lc.stage] >= k) for k in range(len(STAGES))]
    stages: list[StageCount] = []
    for k, s in enumerate(STAGES):
        conv = round(reached[k + 1] / reached[k], 4) if k + 1 < len(STAGES) and reached[k] else None
        gaps = [
            (nxt - cur).days
            for lc in lifecycles
            if k + 1 < len(STAGES)
            and (cur := lc.history[k].entered_on) is not None
            and (nxt := next((h.entered_on for h in lc.history[k + 1 :] if h.entered_on), None)) is not None
            and nxt >= cur
        ]
        stages.append(StageCount(stage=s, current=current[s], reached=reached[k], conversion_to_next=conv,
                                 median_days_to_next=float(median(gaps)) if gaps else None, stalled=stalled_by[s]))
    # The bottleneck is judged among stages a partner can be stuck in after signing; prospects are a sales funnel.
    candidates = [st for st in stages[1:4] if st.conversion_to_next is not None and st.reached > 0]
    bottleneck = min(candidates, key=lambda st: st.conversion_to_next or 0.0) if candidates else None
    return LifecycleReport(
        as_of=as_of, partners=len(lifecycles), stages=stages,
        bottleneck=bottleneck.stage if bottleneck else None,
        bottleneck_reason=(
            f"only {bottleneck.conversion_to_next:.0%} of {bottleneck.reached} partners that reached "
            f"{bottleneck.stage} moved on; {bottleneck.current} are there now, {bottleneck.stalled} stalled"
            if bottleneck else None
        ),
        thresholds=thresholds,
        stalled=sorted((lc for lc in lifecycles if lc.stalled), key=lambda lc: -(lc.days_in_stage or 0)),
    )
