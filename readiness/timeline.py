"""A partner's evidence timeline as of a date: what the partner did and what was recorded about it, newest first.

Items come from the store as recorded, never inferred: activity events (training, certifications, deal
registrations, AE meetings...), opportunities created and closed, readiness signals and their reviews, and plan
milestones claimed or completed. Routine portal logins would bury everything else, so they are counted per month
(`months`) instead of listed. Nothing dated after as_of is shown.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness.errors import UnknownPartner
from readiness.models import ActivationPlan, ActivityEvent, Milestone, Opportunity, Partner, ReadinessSignal

EPOCH = date(1970, 1, 1)
ROUTINE_KINDS = frozenset({"portal_login"})
# What each known activity kind is evidence of (the readiness dimensions people talk about).
CATEGORY = {
    "portal_login": "engagement", "content_downloaded": "engagement", "content_shared": "engagement",
    "event_attended": "engagement", "onboarding_started": "enablement", "training_completed": "enablement",
    "certification_earned": "enablement", "deal_registered": "pipeline", "demo_delivered": "pipeline",
    "customer_overlap_detected": "pipeline", "ae_meeting": "ae", "joint_call": "ae",
}
LABEL = {
    "content_downloaded": "Downloaded content", "content_shared": "Shared content",
    "event_attended": "Attended an event",
    "onboarding_started": "Started onboarding", "training_completed": "Completed training",
    "certification_earned": "Earned a certification", "deal_registered": "Registered a deal",
    "demo_delivered": "Delivered a demo", "customer_overlap_detected": "Customer overlap detected",
    "ae_meeting": "Met a vendor account executive", "joint_call": "Joint call with the vendor",
}
Kind = Literal["activity", "opportunity", "signal", "milestone"]
DEFAULT_MONTHS = 12


class TimelineItem(BaseModel):
    on: date
    kind: Kind
    category: str = Field(description="engagement, enablement, pipeline, ae, signal, plan or other")
    label: str
    detail: str | None = None


class MonthCount(BaseModel):
    month: str = Field(description="YYYY-MM")
    counts: dict[str, int] = Field(description="activity events by category, routine logins included")


class Timeline(BaseModel):
    partner_id: str
    as_of: date
    items: list[TimelineItem] = Field(description="newest first, at most `limit`")
    total: int = Field(description="items before the limit")
    months: list[MonthCount] = Field(description="the last months, oldest first")


def _day(value: date | datetime | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def _money(amount: float | None, currency: str | None) -> str:
    return f"{currency or ''} {amount:,.0f}".strip() if amount is not None else "no amount"


def _month_keys(as_of: date, months: int) -> list[str]:
    keys, y, m = [], as_of.year, as_of.month
    for _ in range(months):
        keys.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return list(reversed(keys))


def _activity(session: Session, partner_id: str, as_of: date, since: date
              ) -> tuple[list[TimelineItem], dict[str, Counter[str]]]:
    items: list[TimelineItem] = []
    by_month: dict[str, Counter[str]] = defaultdict(Counter)
    rows = session.execute(
        select(ActivityEvent.day, ActivityEvent.kind, ActivityEvent.detail)
        .where(ActivityEvent.partner_id == partner_id, ActivityEvent.day <= (as_of - EPOCH).days)
    )
    for day_number, kind, detail in rows:
        day = EPOCH + timedelta(days=int(day_number))
        category = CATEGORY.get(kind, "other")
        if day >= since:
            by_month[f"{day.year:04d}-{day.month:02d}"][category] += 1
        if kind not in ROUTINE_KINDS:
            items.append(TimelineItem(on=day, kind="activity", category=category,
                                      label=LABEL.get(kind, kind.replace("_", " ").capitalize()), detail=detail))
    return items, by_month


def _opportunities(session: Session, partner_id: str, as_of: date) -> list[TimelineItem]:
    items = []
    for o in session.scalars(select(Opportunity).where(Opportunity.partner_id == partner_id)):
        what = f"{o.account_name or 'an account'}, {_money(o.amount, o.currency)}"
        if o.created_on and o.created_on <= as_of:
            items.append(TimelineItem(on=o.created_on, kind="opportunity", category="pipeline",
                                      label=f"Opened a {o.attribution} opportunity", detail=what))
        if o.stage in ("closed_won", "closed_lost") and o.close_date and o.close_date <= as_of:
            outcome = "Won" if o.stage == "closed_won" else "Lost"
            items.append(TimelineItem(on=o.close_date, kind="opportunity", category="pipeline",
                                      label=f"{outcome} a {o.attribution} opportunity", detail=what))
    return items


def _signals(session: Session, partner_id: str, as_of: date) -> list[TimelineItem]:
    items = []
    for r in session.scalars(select(ReadinessSignal).where(ReadinessSignal.partner_id == partner_id)):
        day = _day(r.created_at)
        if day is None or day > as_of:
            continue
        level = r.level or (f"{r.value:g}" if r.value is not None else "")
        what = "Review of a signal" if r.supersedes_id else "Readiness signal"
        items.append(TimelineItem(on=day, kind="signal", category="signal",
                                  label=f"{what}: {r.dimension.replace('_', ' ')} {level} ({r.status})".strip(),
                                  detail=r.evidence))
    return items


def _milestones(session: Session, partner_id: str, as_of: date) -> list[TimelineItem]:
    items = []
    rows = session.scalars(select(Milestone).join(ActivationPlan, Milestone.plan_id == ActivationPlan.id)
                           .where(ActivationPlan.partner_id == partner_id))
    for m in rows:
        claimed = _day(m.claimed_at)
        if claimed and claimed <= as_of:
            items.append(TimelineItem(on=claimed, kind="milestone", category="plan",
                                      label=f"Claimed milestone: {m.title}", detail=m.claimed_by))
        if m.completed_on and m.completed_on <= as_of:
            items.append(TimelineItem(on=m.completed_on, kind="milestone", category="plan",
                                      label=f"Completed milestone: {m.title}"))
    return items


def evidence_timeline(session: Session, partner_id: str, as_of: date, limit: int = 50,
                      months: int = DEFAULT_MONTHS) -> Timeline:
    if session.get(Partner, partner_id) is None:
        raise UnknownPartner(f"unknown partner {partner_id!r}")
    keys = _month_keys(as_of, months)
    since = date(int(keys[0][:4]), int(keys[0][5:]), 1)
    activity, by_month = _activity(session, partner_id, as_of, since)
    items = activity + _opportunities(session, partner_id, as_of) + _signals(session, partner_id, as_of) \
        + _milestones(session, partner_id, as_of)
    items.sort(key=lambda i: (i.on, i.kind, i.label), reverse=True)
    return Timeline(partner_id=partner_id, as_of=as_of, items=items[:limit], total=len(items),
                    months=[MonthCount(month=k, counts=dict(by_month.get(k, {}))) for k in keys])


__all__ = ["MonthCount", "Timeline", "TimelineItem", "evidence_timeline"]
