"""Which dormant partners a PAM should call: in their book, not active, not structurally blocked (not_ever,
competitive conflict), with at least one dormant flag; ranked by revenue at stake, then readiness.

Candidates come from the snapshot table (refreshed for the book when snapshots for as_of are missing); the
shortlist is re-scored live so every entry shown is current.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness.errors import ValidationFailed
from readiness.models import Pam, Partner, ScoreSnapshot
from readiness.scoring.schemas import CallListEntry, Gap, PartnerScore
from readiness.scoring.snapshots import callable_now, missing_snapshots, refresh_snapshots, upsert_snapshots

SHORTLIST_FACTOR = 3

NEXT_STEPS: dict[str, str] = {
    "co_sell": "Book a 30-minute account-mapping session with the AE on the {overlap} shared target accounts and "
               "agree one joint opportunity the partner will register.",
    "ae_engagement": "Call to re-open the relationship: review the {won} closed-won deals, introduce the current AE "
                     "and agree the next deal to register together.",
    "pipeline_hygiene": "Walk through the partner's open registrations, close out stalled ones and agree the next "
                        "registration date.",
    "icp": "Run an ICP workshop: pick one industry, size band and buyer from their customer base and build a "
           "target list of 20 accounts.",
    "use_case": "Turn their enablement into one repeatable use case with a measurable outcome and a first target "
                "account; book a demo rehearsal.",
    "sales_motion": "Agree how they find deals and when the AE joins; register the first opportunity from the "
                    "events they attended within 30 days.",
    "delivery_credibility": "Plan a first delivery proof point (demo, workshop or case study) with a friendly "
                            "customer.",
    "business_communication": "Set up a joint business plan review with their sales lead and the AE.",
    "enablement": "Enrol them in the foundations training and the associate certification, with a date.",
}


def _gap(score: PartnerScore) -> Gap:
    flags = {f.code for f in score.dormant_flags}
    gtm = {g.key: g.score for g in score.gtm}
    cap = {s.key: s.value for d in score.dimensions if d.key == "capability" for s in d.subsignals}
    if "influenced_only" in flags:
        return "co_sell"
    if "deals_gone_quiet" in flags:
        return "ae_engagement"
    if cap.get("technical_competence", 0) == 0 and cap.get("training", 0) == 0:
        return "enablement"
    if "trained_never_sold" in flags:
        return "use_case" if gtm.get("use_case", 0) <= gtm.get("icp", 0) else "icp"
    if "events_no_deals" in flags:
        return "sales_motion"
    if "overlap_inactive" in flags:
        return "co_sell"
    return min(("icp", "use_case", "sales_motion", "delivery_credibility", "business_communication"),
               key=lambda k: gtm.get(k, 0))  # type: ignore[return-value]


def _subsignal_value(score: PartnerScore, dim: str, key: str) -> str:
    for d in score.dimensions:
        if d.key == dim:
            for s in d.subsignals:
                if s.key == key:
                    return s.evidence[0] if s.evidence else ""
    return ""


def _entry(rank: int, score: PartnerScore) -> CallListEntry:
    gap = _gap(score)
    reasons = [f"{f.label}: {f.evidence[0]}" if f.evidence else f.label for f in score.dormant_flags]
    reasons.append(f"readiness {score.score:.0f} ({score.tier}); {score.outlook_reason}")
    overlap = _subsignal_value(score, "revenue_potential", "customer_overlap").split(" ")[0]
    won = re.search(r"\((\d+) closed-won", _subsignal_value(score, "revenue_potential", "deal_history"))
    step = NEXT_STEPS[gap].format(overlap=overlap, won=won.group(1) if won else "past")
    return CallListEntry(
        rank=rank, partner_id=score.partner_id, name=score.name, pam_id=score.pam_id, segment=score.segment,
        readiness=score.score, tier=score.tier, revenue_at_stake=round(score.revenue_at_stake or 0.0, 2),
        reasons=reasons, open_with_gap=gap, next_step=step, dormant_flags=score.dormant_flags,
    )


def is_callable(score: PartnerScore) -> bool:
    return callable_now(score.segment, score.outlook, (f.code for f in score.dormant_flags))


def call_list(session: Session, as_of: date, pam_id: str | None, limit: int = 10,
              partner_ids: list[str] | None = None) -> list[CallListEntry]:
    from readiness.scoring.score import score_all

    if pam_id is not None and session.get(Pam, pam_id) is None:
        raise ValidationFailed(f"unknown PAM {pam_id!r}")
    if missing_snapshots(session, as_of, pam_id) > 0:
        book = None
        if pam_id is not None:
            book = list(session.scalars(select(Partner.partner_id).where(Partner.pam_id == pam_id)))
        refresh_snapshots(session, as_of, book)
    # An index range scan on (as_of, pam_id, on_call_list, revenue_at_stake).
    stmt = (
        select(ScoreSnapshot.partner_id)
        .where(ScoreSnapshot.as_of == as_of, ScoreSnapshot.on_call_list.is_(True))
        .order_by(ScoreSnapshot.revenue_at_stake.desc(), ScoreSnapshot.score.desc(), ScoreSnapshot.partner_id)
    )
    if pam_id is not None:
        stmt = stmt.where(ScoreSnapshot.pam_id == pam_id)
    if partner_ids is not None:
        stmt = stmt.where(ScoreSnapshot.partner_id.in_(list(partner_ids)))
    candidates = list(session.scalars(stmt.limit(max(1, limit) * SHORTLIST_FACTOR + 5)))
    if not candidates:
        return []
    live = score_all(session, as_of, candidates, with_momentum=False)
    upsert_snapshots(session, live)
    if pam_id is not None:  # a live score that moved books must not leak into another PAM's list
        live = [s for s in live if s.pam_id == pam_id]
    ranked = sorted((s for s in live if is_callable(s)),
                    key=lambda s: (-(s.revenue_at_stake or 0.0), -s.score, s.partner_id))
    return [_entry(k, s) for k, s in enumerate(ranked[:limit], 1)]
