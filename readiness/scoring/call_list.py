"""The PAM's two call lists, by play (see `plays`):

- the dormant call list: partners in the book that are not producing, not structurally blocked (not_ever) and not
  co-selling, whose primary play is reactivate, first deal, event to registration or open the overlapping
  accounts; each with its plays (primary first), the evidence, recent engagement, an opening line and a step;
- the grow list: partners that co-sell on the vendor's deals but never source one (grow co-sell into sourcing).

Both are ranked by call priority (revenue at stake x evidence strength x urgency). Candidates come from the
snapshot table (refreshed for the book when snapshots for as_of are missing), an index range scan on (as_of,
pam_id, play, priority); the shortlist is re-scored live so every entry shown is current.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from readiness.errors import ValidationFailed
from readiness.models import Opportunity, Pam, Partner, ScoreSnapshot
from readiness.presentation import shown_score, shown_tier_line
from readiness.scoring.plays import DORMANT_PLAYS, GROW_PLAY
from readiness.scoring.schemas import CallListEntry, GrowthEntry, PartnerScore
from readiness.scoring.snapshots import missing_snapshots, refresh_snapshots, upsert_snapshots

SHORTLIST_FACTOR = 2  # live re-scoring of limit x this (+5) candidates by stored priority: enough slack for reordering


def _check(session: Session, pam_id: str | None, play: str | None) -> None:
    if pam_id is not None and session.get(Pam, pam_id) is None:
        raise ValidationFailed(f"unknown PAM {pam_id!r}")
    if play is not None and play not in DORMANT_PLAYS:
        raise ValidationFailed(f"unknown play {play!r}: one of {', '.join(DORMANT_PLAYS)} (co-selling partners are "
                               "in the grow-to-sourcing list)")


def _ensure_snapshots(session: Session, as_of: date, pam_id: str | None) -> None:
    if missing_snapshots(session, as_of, pam_id) > 0:
        book = None
        if pam_id is not None:
            book = list(session.scalars(select(Partner.partner_id).where(Partner.pam_id == pam_id)))
        refresh_snapshots(session, as_of, book)


def _scoped(stmt, as_of: date, pam_id: str | None, plays: tuple[str, ...],  # type: ignore[no-untyped-def]
            partner_ids: list[str] | None):
    stmt = stmt.where(ScoreSnapshot.as_of == as_of, ScoreSnapshot.play.in_(plays))
    if pam_id is not None:
        stmt = stmt.where(ScoreSnapshot.pam_id == pam_id)
    if partner_ids is not None:
        stmt = stmt.where(ScoreSnapshot.partner_id.in_(list(partner_ids)))
    return stmt


def _ranked(session: Session, as_of: date, pam_id: str | None, plays: tuple[str, ...], limit: int,
            partner_ids: list[str] | None) -> list[PartnerScore]:
    """The top of a list: candidates by stored priority, re-scored live, kept when still on the list."""
    from readiness.scoring.score import score_all

    stmt = _scoped(select(ScoreSnapshot.partner_id), as_of, pam_id, plays, partner_ids)
    stmt = stmt.order_by(ScoreSnapshot.priority.desc(), ScoreSnapshot.partner_id)
    candidates = list(session.scalars(stmt.limit(max(1, limit) * SHORTLIST_FACTOR + 5)))
    if not candidates:
        return []
    live = score_all(session, as_of, candidates, with_momentum=False)
    upsert_snapshots(session, live)
    if pam_id is not None:  # a live score that moved books must not leak into another PAM's list
        live = [s for s in live if s.pam_id == pam_id]
    ranked = sorted((s for s in live if s.play in plays), key=lambda s: (-(s.priority or 0.0), -s.score, s.partner_id))
    return ranked[:limit]


def list_counts(session: Session, as_of: date, pam_id: str | None,
                partner_ids: list[str] | None = None) -> dict[str, int]:
    """How many partners each list holds in all (from the snapshots, not only the ones shown)."""
    _check(session, pam_id, None)
    _ensure_snapshots(session, as_of, pam_id)
    stmt = _scoped(select(ScoreSnapshot.play, func.count()), as_of, pam_id, (*DORMANT_PLAYS, GROW_PLAY), partner_ids)
    counts = dict(session.execute(stmt.group_by(ScoreSnapshot.play)).all())
    return {"dormant_total": sum(int(counts.get(p, 0)) for p in DORMANT_PLAYS),
            "grow_to_sourcing_count": int(counts.get(GROW_PLAY, 0)),
            **{f"play_{p}": int(counts.get(p, 0)) for p in DORMANT_PLAYS}}


def _reasons(score: PartnerScore) -> list[str]:
    out = [f"{p.label}: {p.evidence[0]}" if p.evidence else p.label for p in score.plays]
    if score.recent_engagement:
        out.append("Recent engagement (lowers urgency): " + "; ".join(score.recent_engagement))
    out.append(f"{shown_tier_line(score.score, score.tier)}; {score.outlook_reason}")
    return out


def _entry(rank: int, score: PartnerScore) -> CallListEntry:
    return CallListEntry(
        rank=rank, partner_id=score.partner_id, name=score.name, pam_id=score.pam_id, segment=score.segment,
        readiness=shown_score(score.score) or 0, tier=score.tier,
        revenue_at_stake=round(score.revenue_at_stake or 0.0, 2), play=score.play,  # type: ignore[arg-type]
        plays=score.plays, priority=round(score.priority or 0.0, 2), recent_engagement=score.recent_engagement,
        reasons=_reasons(score),
        open_with_gap=score.open_with_gap or "co_sell", next_step=score.next_step or "", opener=score.opener or "",
        dormant_flags=score.dormant_flags, as_of=score.as_of,
    )


def call_list(session: Session, as_of: date, pam_id: str | None, limit: int = 10,
              partner_ids: list[str] | None = None, play: str | None = None) -> list[CallListEntry]:
    """Dormant partners worth a call, best first; `play` keeps only partners whose primary play it is."""
    _check(session, pam_id, play)
    _ensure_snapshots(session, as_of, pam_id)
    plays = (play,) if play is not None else DORMANT_PLAYS
    return [_entry(k, s) for k, s in enumerate(_ranked(session, as_of, pam_id, plays, limit, partner_ids), 1)]


def _influenced(session: Session, ids: list[str], as_of: date) -> dict[str, tuple[int, float]]:
    """Per partner: influenced opportunities created by as_of, and the amount still open on as_of (not closed,
    or closed only after as_of)."""
    if not ids:
        return {}
    still_open = (Opportunity.stage.not_in(("closed_won", "closed_lost"))) | (Opportunity.close_date > as_of)
    rows = session.execute(
        select(Opportunity.partner_id, func.count(),
               func.sum(case((still_open, func.coalesce(Opportunity.amount, 0.0)), else_=0.0)))
        .where(Opportunity.partner_id.in_(ids), Opportunity.attribution == "influenced",
               Opportunity.created_on <= as_of)
        .group_by(Opportunity.partner_id)).all()
    return {pid: (int(n), float(v or 0.0)) for pid, n, v in rows}


def growth_list(session: Session, as_of: date, pam_id: str | None, limit: int = 10,
                partner_ids: list[str] | None = None) -> list[GrowthEntry]:
    """Partners that co-sell on the vendor's deals and never source: grow co-sell into sourcing, best first."""
    _check(session, pam_id, None)
    _ensure_snapshots(session, as_of, pam_id)
    ranked = _ranked(session, as_of, pam_id, (GROW_PLAY,), limit, partner_ids)
    influenced = _influenced(session, [s.partner_id for s in ranked], as_of)
    out = []
    for k, s in enumerate(ranked, 1):
        count, open_amount = influenced.get(s.partner_id, (0, 0.0))
        out.append(GrowthEntry(
            rank=k, partner_id=s.partner_id, name=s.name, pam_id=s.pam_id, readiness=shown_score(s.score) or 0,
            tier=s.tier, revenue_at_stake=round(s.revenue_at_stake or 0.0, 2), influenced_count=count,
            influenced_open=round(open_amount, 2), recent_engagement=s.recent_engagement, reasons=_reasons(s),
            next_step=s.next_step or "", as_of=as_of))
    return out


def is_callable(score: PartnerScore) -> bool:
    return score.play in DORMANT_PLAYS


__all__ = ["call_list", "growth_list", "is_callable", "list_counts"]
