"""`/v1/partners`: the partners a principal may see, one partner, its score with breakdown and trend, its GTM
diagnosis and its lifecycle stage."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from agent.services import get_services
from readiness.gtm import Diagnosis, diagnose
from readiness.gtm.facts import load_facts_many
from readiness.lifecycle import Lifecycle, lifecycle_of
from readiness.models import GTMProfile, Pam, Partner, ScoreSnapshot
from readiness.scope import Principal
from readiness.scoring import PartnerScore, score_all
from readiness.settings import get_settings
from readiness.timeline import Timeline, evidence_timeline
from server.api.models import (
    GTMProfileView,
    PartnerDetail,
    PartnerPage,
    PartnerSummary,
    ScoreResponse,
    SnapshotFacts,
    TrendPoint,
)
from server.api.present import present_score, shown_score
from server.api.scope import PARTNER_ID, in_scope, not_found
from server.auth import current_principal
from server.errors import ErrorBody
from server.readcache import cached_read, partner_read

router = APIRouter(prefix="/partners", tags=["partners"],
                   responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}, 429: {"model": ErrorBody}})
PartnerIdPath = PathParam(pattern=PARTNER_ID, description="Partner id, e.g. p-004.")
TREND_POINTS = 12
SCORE_BATCH = 32  # partners scored together on a score read that misses the cache (see _scores_near)


def _latest_snapshots(session: Session, ids: list[str], as_of: date) -> dict[str, ScoreSnapshot]:
    if not ids:
        return {}
    latest = (select(ScoreSnapshot.partner_id, func.max(ScoreSnapshot.as_of).label("day"))
              .where(ScoreSnapshot.partner_id.in_(ids), ScoreSnapshot.as_of <= as_of)
              .group_by(ScoreSnapshot.partner_id).subquery())
    rows = session.scalars(select(ScoreSnapshot).join(
        latest, (ScoreSnapshot.partner_id == latest.c.partner_id) & (ScoreSnapshot.as_of == latest.c.day)))
    return {r.partner_id: r for r in rows}


def _facts(row: ScoreSnapshot | None) -> SnapshotFacts | None:
    if row is None:
        return None
    return SnapshotFacts(as_of=row.as_of, score=shown_score(row.score) or 0, tier=row.tier, segment=row.segment,
                         revenue_at_stake=None if row.revenue_at_stake is None else round(row.revenue_at_stake, 0))


def _summary_fields(p: Partner, latest: ScoreSnapshot | None) -> dict[str, Any]:
    return {"partner_id": p.partner_id, "name": p.name, "type": p.type, "region": p.region, "country": p.country,
            "program_tier": p.program_tier, "pam_id": p.pam_id, "joined_on": p.joined_on, "latest": _facts(latest)}


@router.get("", response_model=PartnerPage, summary="Partners you may see")
def list_partners(
    request: Request,
    q: str | None = Query(None, max_length=100, description="Filter: name or id contains this text."),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    principal: Principal = Depends(current_principal),
) -> PartnerPage | Response:
    """A partner sees itself, a PAM its book, a leader or admin the whole program; by id."""
    return cached_read(request, ("partners", q, limit, offset), lambda: _list_partners(q, limit, offset, principal))


def _list_partners(q: str | None, limit: int, offset: int, principal: Principal) -> PartnerPage:
    stmt = select(Partner)
    if principal.role == "partner":
        stmt = stmt.where(Partner.partner_id == principal.id)
    elif principal.role == "pam":
        stmt = stmt.where(Partner.pam_id == principal.id)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(Partner.name).like(like), func.lower(Partner.partner_id).like(like)))
    with get_services().session() as s:
        total = int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        rows = list(s.scalars(stmt.order_by(Partner.partner_id).limit(limit).offset(offset)))
        latest = _latest_snapshots(s, [p.partner_id for p in rows], get_settings().today())
        items = [PartnerSummary(**_summary_fields(p, latest.get(p.partner_id))) for p in rows]
    return PartnerPage(total=total, limit=limit, offset=offset, items=items)


@router.get("/{partner_id}", response_model=PartnerDetail, summary="One partner")
def get_partner(request: Request, partner_id: str = PartnerIdPath,
                principal: Principal = Depends(current_principal)) -> PartnerDetail | Response:
    return partner_read(request, principal, partner_id, "partner", in_scope(principal, partner_id),
                        lambda: _partner(partner_id))


def _partner(partner_id: str) -> PartnerDetail:
    with get_services().session() as s:
        p = s.get(Partner, partner_id)
        if p is None:  # removed since the scope check
            raise not_found()
        latest = _latest_snapshots(s, [p.partner_id], get_settings().today()).get(p.partner_id)
        pam = s.get(Pam, p.pam_id) if p.pam_id else None
        g = s.get(GTMProfile, p.partner_id)
        profile = None if g is None else GTMProfileView(
            icp_statement=g.icp_statement, use_cases=list(g.use_cases or []), positioning=g.positioning,
            sales_motion=g.sales_motion, updated_on=g.updated_on)
        return PartnerDetail(**_summary_fields(p, latest), pam_name=pam.name if pam else None,
                             specializations=list(p.specializations or []), employee_count=p.employee_count,
                             customer_overlap_accounts=p.customer_overlap_accounts, gtm_profile=profile)


def _trend(session: Session, partner_id: str, as_of: date, today_score: float, tier: str, segment: str
           ) -> list[TrendPoint]:
    rows = list(session.scalars(
        select(ScoreSnapshot).where(ScoreSnapshot.partner_id == partner_id, ScoreSnapshot.as_of < as_of)
        .order_by(ScoreSnapshot.as_of.desc()).limit(TREND_POINTS - 1)))
    trend = [TrendPoint(as_of=r.as_of, score=shown_score(r.score) or 0, tier=r.tier, segment=r.segment)
             for r in reversed(rows)]
    return [*trend, TrendPoint(as_of=as_of, score=today_score, tier=tier, segment=segment)]


@router.get("/{partner_id}/score", response_model=ScoreResponse, summary="Score with breakdown and trend")
def get_score(request: Request, partner_id: str = PartnerIdPath,
              principal: Principal = Depends(current_principal)) -> ScoreResponse | Response:
    """Today's score computed live: every dimension and sub-signal with its weight, contribution and evidence,
    dormant flags, strengths and weaknesses, and the trend of stored scores."""
    return partner_read(request, principal, partner_id, "score", in_scope(principal, partner_id),
                        lambda: _scores_near(partner_id, 1)[partner_id],
                        compute_many=lambda: _scores_near(partner_id))  # cached: the book's next reads are hits


def book_window(session: Session, partner_id: str, size: int = SCORE_BATCH) -> list[str]:
    """This partner first, then up to `size` - 1 others of its book (its neighbours by id): what a cached
    per-partner read computes at once on a miss, since the book's dashboards ask next and the domain answers many
    partners in about the time of one (tests/test_read_cache checks each answer is the one computed alone)."""
    p = session.get(Partner, partner_id)
    if p is None:
        raise not_found()
    if size <= 1:
        return [partner_id]
    book = list(session.scalars(select(Partner.partner_id).where(
        Partner.pam_id == p.pam_id if p.pam_id is not None else Partner.pam_id.is_(None))
        .order_by(Partner.partner_id)))
    at = book.index(partner_id) if partner_id in book else 0
    start = max(0, min(at - size // 2, len(book) - size))
    return [partner_id, *(x for x in book[start : start + size] if x != partner_id)][:size]


def _scores_near(partner_id: str, size: int = SCORE_BATCH) -> dict[str, ScoreResponse]:
    """The score of this partner and of others of its book (`book_window`), from one vectorised scoring pass."""
    as_of = get_settings().today()
    with get_services().session() as s:
        ids = book_window(s, partner_id, size)
        return {raw.partner_id: _score_response(s, raw, as_of) for raw in score_all(s, as_of, ids)}


def _diagnoses_near(partner_id: str, size: int = SCORE_BATCH) -> dict[str, Diagnosis]:
    """The diagnosis of this partner and of others of its book (`book_window`), their facts loaded at once."""
    as_of = get_settings().today()
    with get_services().session() as s:
        ids = book_window(s, partner_id, size)
        facts = load_facts_many(s, ids, as_of)
        return {pid: diagnose(s, pid, as_of, facts=facts[pid]) for pid in ids if pid in facts}


def _score_response(s: Session, raw: PartnerScore, as_of: date) -> ScoreResponse:
    shown = present_score(raw)
    trend = _trend(s, raw.partner_id, as_of, shown.score, shown.tier, shown.segment)
    return ScoreResponse(
        partner_id=shown.partner_id, name=shown.name, as_of=shown.as_of, score=shown.score, tier=shown.tier,
        segment=shown.segment, outlook=shown.outlook, outlook_reason=shown.outlook_reason,
        weights={d.key: d.weight for d in shown.dimensions}, dimensions=shown.dimensions, gtm=shown.gtm,
        dormant_flags=shown.dormant_flags, momentum_30=shown.momentum_30, momentum_90=shown.momentum_90,
        revenue_at_stake=shown.revenue_at_stake, strengths=raw.strengths(), weaknesses=raw.weaknesses(),
        trend=trend)


@router.get("/{partner_id}/diagnosis", response_model=Diagnosis, summary="GTM gaps with playbooks")
def get_diagnosis(request: Request, partner_id: str = PartnerIdPath,
                  principal: Principal = Depends(current_principal)) -> Diagnosis | Response:
    """The six GTM dimensions assessed from the partner's words and behaviour, gaps ranked, the top one first,
    each with the playbooks that address it."""
    def diagnosis() -> Diagnosis:
        with get_services().session() as s:
            return diagnose(s, partner_id, get_settings().today())

    return partner_read(request, principal, partner_id, "diagnosis", in_scope(principal, partner_id), diagnosis,
                        compute_many=lambda: _diagnoses_near(partner_id))


@router.get("/{partner_id}/lifecycle", response_model=Lifecycle, summary="Lifecycle stage")
def get_lifecycle(request: Request, partner_id: str = PartnerIdPath,
                  principal: Principal = Depends(current_principal)) -> Lifecycle | Response:
    def lifecycle() -> Lifecycle:
        with get_services().session() as s:
            return lifecycle_of(s, partner_id, get_settings().today())

    return partner_read(request, principal, partner_id, "lifecycle", in_scope(principal, partner_id), lifecycle)


@router.get("/{partner_id}/timeline", response_model=Timeline, summary="Evidence timeline")
def get_timeline(request: Request, partner_id: str = PartnerIdPath, limit: int = Query(50, ge=1, le=200),
                 principal: Principal = Depends(current_principal)) -> Timeline | Response:
    """What the partner did and what was recorded about it, newest first: activity, opportunities, signals and
    milestones; routine portal logins are counted per month instead of listed."""
    def timeline() -> Timeline:
        with get_services().session() as s:
            return evidence_timeline(s, partner_id, get_settings().today(), limit=limit)

    return partner_read(request, principal, partner_id, f"timeline:{limit}", in_scope(principal, partner_id),
                        timeline)


__all__ = ["PartnerIdPath", "router"]
