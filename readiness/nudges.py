"""Nudges: who should be prompted to do what, as of a date. One nudge per partner and code, each with a next step.

Codes (thresholds in `NudgeSettings`):
- milestone_overdue / milestone_stalled (partner): an activation-plan milestone past due, or with no progress for
  the plan's stall window once its phase began;
- claim_awaiting_confirmation (pam): the partner claimed a milestone and no evidence has arrived;
- no_login (pam): no portal login for `no_login_days` (a partner who stopped logging in will not see a portal
  prompt, so the PAM reaches out);
- deal_without_ae (pam): a deal registered `ae_grace_days` ago or more with no AE meeting, joint call or co-sell
  request since;
- certified_no_deal (partner): certified `cert_no_deal_days` ago or more with no deal registered or sourced
  opportunity since.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness.gtm.facts import AE_TOUCH_KINDS, CHUNK, PartnerFacts, load_facts_many
from readiness.models import ActivationPlan, Partner
from readiness.plans.plans import PlanTemplate, build_view, load_template


class NudgeSettings(BaseModel):
    no_login_days: int = Field(30, ge=1)
    ae_grace_days: int = Field(14, ge=0)
    deal_lookback_days: int = Field(180, ge=1)  # older registrations are history, not a pending hand-off
    cert_no_deal_days: int = Field(60, ge=1)
    stall_days: int | None = Field(None, description="default: the plan template's stall_days")


class Nudge(BaseModel):
    partner_id: str
    name: str
    audience: Literal["partner", "pam"]
    code: str
    reason: str
    next_step: str
    due_since: date


def _active_plans(session: Session, partner_ids: list[str], as_of: date) -> dict[str, ActivationPlan]:
    """`active_plan` of many partners, one query per CHUNK ids."""
    found: dict[str, ActivationPlan] = {}
    for k in range(0, len(partner_ids), CHUNK):
        for plan in session.scalars(
            select(ActivationPlan)
            .where(ActivationPlan.partner_id.in_(partner_ids[k : k + CHUNK]), ActivationPlan.status == "active",
                   ActivationPlan.started_on <= as_of)
            .order_by(ActivationPlan.started_on.desc(), ActivationPlan.id.desc())
        ):
            found.setdefault(plan.partner_id, plan)
    return found


def _plan_nudges(plan: ActivationPlan | None, f: PartnerFacts, cfg: NudgeSettings, template: PlanTemplate
                 ) -> list[Nudge]:
    if plan is None:
        return []
    view = build_view(plan, f, f.as_of, template, cfg.stall_days)
    out: list[Nudge] = []
    for m in view.milestones:
        if m.status == "overdue":
            out.append(_nudge(f, "partner", "milestone_overdue", f"'{m.title}' was due {m.due_on}: {m.reason}",
                              m.next_step, m.due_on))
        elif m.status == "stalled":
            stall = cfg.stall_days or template.settings.stall_days
            since = (m.last_progress_on or f.as_of) + timedelta(days=stall)
            out.append(_nudge(f, "partner", "milestone_stalled", f"'{m.title}' is stalled: {m.reason}",
                              m.next_step, since))
        elif m.status == "claimed":
            out.append(_nudge(f, "pam", "claim_awaiting_confirmation",
                              f"{m.claimed_by} says '{m.title}' is done; no evidence yet ({m.acceptance})",
                              f"Check with the partner and confirm or reject milestone '{m.key}'.", f.as_of))
    return out


def _nudge(f: PartnerFacts, audience: Literal["partner", "pam"], code: str, reason: str, step: str,
           since: date) -> Nudge:
    return Nudge(partner_id=f.partner.partner_id, name=f.partner.name, audience=audience, code=code, reason=reason,
                 next_step=step, due_since=since)


def _behaviour_nudges(f: PartnerFacts, cfg: NudgeSettings) -> list[Nudge]:
    out: list[Nudge] = []
    as_of = f.as_of
    last_login = f.last("portal_login")
    joined = f.partner.joined_on
    anchor = last_login or joined
    if anchor is not None and (as_of - anchor).days >= cfg.no_login_days:
        what = f"last portal login {last_login}" if last_login else f"no portal login since joining on {joined}"
        out.append(_nudge(f, "pam", "no_login", f"{what} ({(as_of - anchor).days} days)",
                          "Call the partner: ask what stalled and offer the next concrete step of their plan.",
                          anchor + timedelta(days=cfg.no_login_days)))

    touches = [e.on for e in f.of_kind(*AE_TOUCH_KINDS)]
    recent_regs = f.of_kind("deal_registered", since=as_of - timedelta(days=cfg.deal_lookback_days))
    lonely = [e for e in recent_regs
              if (as_of - e.on).days >= cfg.ae_grace_days and not any(t >= e.on for t in touches)]
    if lonely:
        first = lonely[0]
        detail = f" ({first.detail})" if first.detail else ""
        out.append(_nudge(f, "pam", "deal_without_ae",
                          f"{len(lonely)} deal registration(s) since {first.on}{detail} with no AE meeting",
                          "Introduce the vendor AE on the registered deal and book a joint call.",
                          first.on + timedelta(days=cfg.ae_grace_days)))

    selling_days = [e.on for e in f.of_kind("deal_registered")] + [
        o.created_on for o in f.opps("sourced") if o.created_on is not None]
    certs = [e.on for e in f.of_kind("certification_earned")]
    # The first certification that no deal followed: certified, then nothing sold.
    unsold = [c for c in certs if not any(d >= c for d in selling_days)]
    if unsold and (as_of - unsold[0]).days >= cfg.cert_no_deal_days:
        out.append(_nudge(f, "partner", "certified_no_deal",
                          f"certified on {unsold[0]}, no deal registered since ({(as_of - unsold[0]).days} days)",
                          "Pick three accounts from your customer overlap and register the first deal.",
                          unsold[0] + timedelta(days=cfg.cert_no_deal_days)))
    return out


def nudges_due(
    session: Session,
    as_of: date,
    pam_id: str | None = None,
    partner_ids: Sequence[str] | None = None,
    settings: NudgeSettings | None = None,
    template: PlanTemplate | None = None,
) -> list[Nudge]:
    """Nudges due as of a date for a PAM's book, a list of partners, or the whole program; oldest first."""
    cfg = settings or NudgeSettings()
    template = template or load_template()
    q = select(Partner.partner_id).order_by(Partner.partner_id)
    if pam_id is not None:
        q = q.where(Partner.pam_id == pam_id)
    if partner_ids is not None:
        q = q.where(Partner.partner_id.in_(list(partner_ids)))
    found: dict[tuple[str, str], Nudge] = {}
    ids = list(session.scalars(q))
    # Structural "not ever" partners get no reminders: nudging a PAM to call them wastes the call.
    written_off = _not_ever(session, as_of, ids)
    ids = [pid for pid in ids if pid not in written_off]
    # A book's facts and plans in a handful of queries, not several per partner.
    facts, plans = load_facts_many(session, ids, as_of), _active_plans(session, ids, as_of)
    for pid in ids:
        f = facts[pid]
        if f.partner.joined_on is not None and f.partner.joined_on > as_of:
            continue  # not in the program yet
        for n in _plan_nudges(plans.get(pid), f, cfg, template) + _behaviour_nudges(f, cfg):
            key = (n.partner_id, n.code)
            if key not in found or n.due_since < found[key].due_since:
                found[key] = n  # one per partner+code: the longest-standing one
    return sorted(found.values(), key=lambda n: (n.due_since, n.partner_id, n.code))


def _not_ever(session: Session, as_of: date, partner_ids: list[str]) -> set[str]:
    from readiness.scoring import compute_frame

    if not partner_ids:
        return set()
    frame = compute_frame(session, as_of, partner_ids)  # the outlook alone: no per-partner score objects
    return {pid for pid, outlook in zip(frame.ids, frame.outlook, strict=True) if outlook == "not_ever"}


__all__ = ["Nudge", "NudgeSettings", "nudges_due"]
