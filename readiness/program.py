"""Program health a channel leader reviews: time to first deal, enablement effect, churn risk, revenue per partner/PAM.

Definitions (all as of `as_of`):
- first deal = earliest `deal_registered` event or sourced opportunity creation (see readiness.lifecycle);
  time to first deal counts only partners that joined on or after the earliest recorded event;
- enablement effect of a course or certification = share of partners holding it who created a SOURCED
  opportunity on or after earning it, against the share of partners without it who created any;
- ACTIVE partner = created a sourced opportunity or won sourced revenue in the trailing 365 days; it is at
  churn risk when its events in the last 90 days fell by at least `churn_drop` versus the 90 days before;
- sourced revenue = closed-won SOURCED amount closed in the trailing 365 days (influenced is reported apart).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from statistics import median

from pydantic import BaseModel, Field
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from readiness.lifecycle import EPOCH, LifecycleFacts
from readiness.models import ActivityEvent, Opportunity, Pam, Partner
from readiness.pipeline import TRAILING_DAYS, scoped

ENABLEMENT_KINDS = ("training_completed", "certification_earned")


class EnablementEffect(BaseModel):
    kind: str
    detail: str | None = Field(description="course or certification name; None = any of this kind")
    with_partners: int
    with_produced: int
    with_rate: float | None
    without_partners: int
    without_produced: int
    without_rate: float | None
    lift: float | None = Field(description="with_rate / without_rate")


class ChurnRisk(BaseModel):
    partner_id: str
    name: str
    pam_id: str | None
    events_last_90: int
    events_prev_90: int
    change: float = Field(description="relative change, -0.6 = 60% fewer events")
    sourced_revenue_trailing: float


class PamRevenue(BaseModel):
    pam_id: str | None
    name: str | None
    partners: int
    activated_partners: int = Field(description="partners with a first deal (the lifecycle's activated stage or later)")
    activation_rate: float | None = Field(description="activated_partners / partners")
    churn_risk: int = Field(description="partners of this book at churn risk")
    productive_partners: int
    sourced_revenue: float
    revenue_per_partner: float


class ProgramHealth(BaseModel):
    as_of: date
    partners: int
    trailing_days: int = TRAILING_DAYS
    time_to_first_deal_median_days: float | None
    partners_with_first_deal: int = Field(description="partners whose time to first deal is observed (joined inside "
                                          "the data's history); the median is over them")
    activated_partners: int = Field(description="partners with a first deal registered or sourced opportunity: the "
                                    "lifecycle's activated stage or later")
    activation_rate: float | None = Field(description="activated_partners / partners")
    enablement: list[EnablementEffect]
    active_partners: int
    churn_risk: list[ChurnRisk]
    sourced_revenue_trailing: float
    influenced_revenue_trailing: float
    sourced_revenue_per_partner: float
    sourced_revenue_per_productive_partner: float | None
    per_pam: list[PamRevenue]


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _enablement(
    session: Session, ids: Sequence[str] | None, partners: set[str], sourced_created: dict[str, list[date]],
    as_of: date,
) -> list[EnablementEffect]:
    q = (
        select(ActivityEvent.partner_id, ActivityEvent.kind, ActivityEvent.detail, func.min(ActivityEvent.day))
        .where(ActivityEvent.kind.in_(ENABLEMENT_KINDS), ActivityEvent.day <= (as_of - EPOCH).days)
        .group_by(ActivityEvent.partner_id, ActivityEvent.kind, ActivityEvent.detail)
    )
    earned: dict[tuple[str, str | None], dict[str, date]] = defaultdict(dict)
    for pid, kind, detail, day in scoped(session, q, ActivityEvent.partner_id, ids):
        if pid not in partners:
            continue
        when = EPOCH + timedelta(days=day)
        for key in ((kind, detail or None), (kind, None)):
            prev = earned[key].get(pid)
            earned[key][pid] = min(prev, when) if prev else when
    latest = {p: max(ds) for p, ds in sourced_created.items() if ds}
    out = []
    for (kind, detail), holders in earned.items():
        with_prod = sum(1 for p, d in holders.items() if p in latest and latest[p] >= d)
        without = partners - holders.keys()
        without_prod = sum(1 for p in without if p in latest)
        wr, wo = _rate(with_prod, len(holders)), _rate(without_prod, len(without))
        out.append(EnablementEffect(
            kind=kind, detail=detail, with_partners=len(holders), with_produced=with_prod, with_rate=wr,
            without_partners=len(without), without_produced=without_prod, without_rate=wo,
            lift=round(wr / wo, 3) if wr is not None and wo else None,
        ))
    out.sort(key=lambda e: (e.kind, e.detail is not None, e.detail or ""))
    return out


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def program_health(
    session: Session, as_of: date, partner_ids: list[str] | None = None, churn_drop: float = 0.5,
    churn_min_prev_events: int = 5,
) -> ProgramHealth:
    ids = partner_ids
    info = {
        pid: (name, pam)
        for pid, name, pam in scoped(
            session, select(Partner.partner_id, Partner.name, Partner.pam_id), Partner.partner_id, ids
        )
    }
    partners = set(info)
    facts = LifecycleFacts(session, as_of, ids)
    # Left-censoring: for partners who signed before the data's earliest record, an earlier first deal may
    # simply be missing, so only partners who joined inside the observed history count.
    history_start = session.execute(select(func.min(ActivityEvent.day))).scalar()
    observed_from = EPOCH + timedelta(days=history_start) if history_start is not None else None
    ttfd = [
        (first - joined).days
        for pid, first in facts.first_deal.items()
        if (joined := facts.joined.get(pid)) is not None and first >= joined
        and observed_from is not None and joined >= observed_from
    ]

    start = as_of - timedelta(days=TRAILING_DAYS)
    oq = select(Opportunity.partner_id, Opportunity.attribution, Opportunity.stage, Opportunity.amount,
                Opportunity.created_on, Opportunity.close_date).where(Opportunity.attribution != "none")
    sourced_created: dict[str, list[date]] = defaultdict(list)
    won_sourced: dict[str, float] = defaultdict(float)
    influenced_won = 0.0
    active: set[str] = set()
    for pid, attribution, stage, amount, created, closed in scoped(session, oq, Opportunity.partner_id, ids):
        if pid not in partners:
            continue
        if attribution == "sourced" and created and created <= as_of:
            sourced_created[pid].append(created)
            if created > start:
                active.add(pid)
        won_in_window = stage == "closed_won" and closed is not None and start < closed <= as_of
        if won_in_window and attribution == "sourced":
            won_sourced[pid] += amount or 0.0
            active.add(pid)
        elif won_in_window and attribution == "influenced":
            influenced_won += amount or 0.0

    today = (as_of - EPOCH).days
    recent = func.sum(case((ActivityEvent.day > today - 90, 1), else_=0))
    earlier = func.sum(case((ActivityEvent.day <= today - 90, 1), else_=0))
    eq = (
        select(ActivityEvent.partner_id, recent, earlier)
        .where(ActivityEvent.day > today - 180, ActivityEvent.day <= today, ActivityEvent.known_kind.is_(True))
        .group_by(ActivityEvent.partner_id)
    )
    churn = []
    for pid, last90, prev90 in scoped(session, eq, ActivityEvent.partner_id, ids):
        last90, prev90 = int(last90 or 0), int(prev90 or 0)
        if pid in active and prev90 >= churn_min_prev_events and last90 <= prev90 * (1 - churn_drop):
            churn.append(ChurnRisk(
                partner_id=pid, name=info[pid][0], pam_id=info[pid][1], events_last_90=last90,
                events_prev_90=prev90, change=round(last90 / prev90 - 1, 3),
                sourced_revenue_trailing=won_sourced.get(pid, 0.0)))
    churn.sort(key=lambda c: (-c.sourced_revenue_trailing, c.change, c.partner_id))

    pam_names = dict(session.execute(select(Pam.pam_id, Pam.name)).all())
    by_pam: dict[str | None, list[str]] = defaultdict(list)
    for pid, (_, pam) in info.items():
        by_pam[pam].append(pid)
    activated = {p for p in facts.first_deal if p in partners}
    at_risk = Counter(c.pam_id for c in churn)
    per_pam = []
    for pam, members in sorted(by_pam.items(), key=lambda kv: kv[0] or ""):
        revenue = sum(won_sourced.get(p, 0.0) for p in members)
        book_activated = sum(1 for p in members if p in activated)
        per_pam.append(PamRevenue(
            pam_id=pam, name=pam_names.get(pam) if pam else None, partners=len(members),
            activated_partners=book_activated, activation_rate=_rate(book_activated, len(members)),
            churn_risk=at_risk[pam], productive_partners=sum(1 for p in members if won_sourced.get(p)),
            sourced_revenue=revenue, revenue_per_partner=round(revenue / len(members), 2)))
    total = sum(won_sourced.values())
    productive = sum(1 for v in won_sourced.values() if v > 0)
    return ProgramHealth(
        as_of=as_of, partners=len(partners),
        time_to_first_deal_median_days=float(median(ttfd)) if ttfd else None, partners_with_first_deal=len(ttfd),
        activated_partners=len(activated), activation_rate=_rate(len(activated), len(partners)),
        enablement=_enablement(session, ids, partners, sourced_created, as_of),
        active_partners=len(active), churn_risk=churn,
        sourced_revenue_trailing=total, influenced_revenue_trailing=influenced_won,
        sourced_revenue_per_partner=round(total / len(partners), 2) if partners else 0.0,
        sourced_revenue_per_productive_partner=round(total / productive, 2) if productive else None,
        per_pam=per_pam,
    )
