"""Book- and program-level reads: call list, nudges, pipeline, lifecycle funnel, book health, claims awaiting
confirmation, program health. A PAM reads its own book; a leader or admin the program or any PAM's book (`pam`);
a partner its own nudges and pipeline."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import func, select

from agent.services import get_services
from readiness.claims import claims_awaiting
from readiness.lifecycle import LifecycleReport, program_lifecycle
from readiness.models import Partner, ScoreSnapshot
from readiness.nudges import Nudge, nudges_due
from readiness.pipeline import PipelineSummary, pipeline_summary
from readiness.program import ProgramHealth, program_health
from readiness.scope import Principal
from readiness.scoring import call_list, growth_list, refresh_snapshots
from readiness.scoring.snapshots import missing_snapshots
from readiness.settings import get_settings
from server.api.models import BookHealth, CallListResponse, ClaimsResponse, GrowListResponse, NudgesResponse
from server.api.partners import SCORE_BATCH, book_window
from server.api.scope import (
    PARTNER_ID,
    book_of,
    book_partner_ids,
    forbidden,
    in_scope,
    partner_in_scope,
    scoped_partner_ids,
)
from server.auth import current_principal, require_roles
from server.errors import ErrorBody
from server.readcache import cached_read, partner_read

router = APIRouter(tags=["books"], responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                                               404: {"model": ErrorBody}, 429: {"model": ErrorBody}})
PamQuery = Query(None, pattern=PARTNER_ID, description="Leaders and admins: this PAM's book (default the program). "
                 "PAMs: their own book only.")


@router.get("/call-list", response_model=CallListResponse, summary="Dormant partners worth calling")
def get_call_list(request: Request, limit: int = Query(10, ge=1, le=100), pam: str | None = PamQuery,
                  principal: Principal = Depends(current_principal)) -> CallListResponse | Response:
    """Ranked by revenue at stake, then readiness: why now, the gap to open with, a first step."""
    def run() -> CallListResponse:
        as_of = get_settings().today()
        with get_services().session() as s:
            pam_id = book_of(s, principal, pam)
            entries = call_list(s, as_of, pam_id, limit=limit)
        return CallListResponse(as_of=as_of, pam_id=pam_id, entries=entries)

    return cached_read(request, ("call-list", limit, pam), run)


@router.get("/grow-list", response_model=GrowListResponse, summary="Co-selling partners to grow into sourcing")
def get_grow_list(request: Request, limit: int = Query(10, ge=1, le=100), pam: str | None = PamQuery,
                  principal: Principal = Depends(current_principal)) -> GrowListResponse | Response:
    """Partners that co-sell on the vendor's deals (influenced) and never source: not dormant, so not on the call
    list, but worth a different conversation. Best first."""
    def run() -> GrowListResponse:
        as_of = get_settings().today()
        with get_services().session() as s:
            pam_id = book_of(s, principal, pam)
            entries = growth_list(s, as_of, pam_id, limit=limit)
        return GrowListResponse(as_of=as_of, pam_id=pam_id, entries=entries)

    return cached_read(request, ("grow-list", limit, pam), run)


@router.get("/nudges", response_model=NudgesResponse, summary="Nudges due")
def get_nudges(request: Request,
               partner_id: str | None = Query(None, pattern=PARTNER_ID, description="Only this partner."),
               pam: str | None = PamQuery, principal: Principal = Depends(current_principal)
               ) -> NudgesResponse | Response:
    """Stalled or overdue milestones, claims awaiting confirmation, no login, deals without an AE, certified but not
    selling. A partner gets its own; a leader or admin must name a book or a partner (the program is too big)."""
    if partner_id is not None or principal.role == "partner":  # one partner's: the same whoever may see it
        pid = partner_id or principal.id
        return partner_read(request, principal, pid, "nudges", in_scope(principal, pid),
                            lambda: _partner_nudges(pid, 1)[pid],
                            compute_many=lambda: _partner_nudges(pid, SCORE_BATCH))
    return cached_read(request, ("nudges", partner_id, pam), lambda: _nudges(partner_id, pam, principal))


def _partner_nudges(partner_id: str, size: int) -> dict[str, NudgesResponse]:
    """The nudges of this partner and of others of its book (`book_window`) from one pass over their facts: each
    partner's are the ones it gets alone (nudges_due sorts by date, partner, code; a partner's keep their order)."""
    as_of = get_settings().today()
    with get_services().session() as s:
        ids = book_window(s, partner_id, size)
        found: dict[str, list[Nudge]] = {pid: [] for pid in ids}
        for n in nudges_due(s, as_of, partner_ids=ids):
            found[n.partner_id].append(n)
    return {pid: NudgesResponse(as_of=as_of, scope=f"partner:{pid}", nudges=ns) for pid, ns in found.items()}


def _nudges(partner_id: str | None, pam: str | None, principal: Principal) -> NudgesResponse:
    as_of = get_settings().today()
    with get_services().session() as s:
        if partner_id is not None or principal.role == "partner":
            pid = partner_in_scope(s, principal, partner_id or principal.id).partner_id
            return NudgesResponse(as_of=as_of, scope=f"partner:{pid}", nudges=nudges_due(s, as_of, partner_ids=[pid]))
        pam_id = book_of(s, principal, pam)
        if pam_id is None:
            raise forbidden("name a book (pam=…) or a partner (partner_id=…)")
        return NudgesResponse(as_of=as_of, scope=f"pam:{pam_id}", nudges=nudges_due(s, as_of, pam_id=pam_id))


@router.get("/pipeline", response_model=PipelineSummary, summary="Sourced vs influenced pipeline")
def get_pipeline(request: Request,
                 partner_id: str | None = Query(None, pattern=PARTNER_ID, description="Only this partner."),
                 pam: str | None = PamQuery, principal: Principal = Depends(current_principal)
                 ) -> PipelineSummary | Response:
    """Open and won pipeline split by partner-sourced and influenced, coverage, stage flow, stalled deals, forecast."""
    def run() -> PipelineSummary:
        with get_services().session() as s:
            ids = scoped_partner_ids(s, principal, partner_id, pam)
            return pipeline_summary(s, get_settings().today(), ids)

    return cached_read(request, ("pipeline", partner_id, pam), run)


StalledLimit = Query(None, ge=0, le=10_000, description="List at most this many stalled partners, longest stalled "
                     "first (the per-stage counts always cover all of them). Default: all.")


def _limit_stalled(report: LifecycleReport, limit: int | None) -> LifecycleReport:
    return report if limit is None else report.model_copy(update={"stalled": report.stalled[:limit]})


@router.get("/lifecycle", response_model=LifecycleReport, summary="Lifecycle funnel with stalled partners")
def get_lifecycle_report(request: Request, pam: str | None = PamQuery, stalled_limit: int | None = StalledLimit,
                         principal: Principal = Depends(current_principal)) -> LifecycleReport | Response:
    def run() -> LifecycleReport:
        with get_services().session() as s:
            ids = book_partner_ids(s, book_of(s, principal, pam))
            return _limit_stalled(program_lifecycle(s, get_settings().today(), ids), stalled_limit)

    return cached_read(request, ("lifecycle", pam, stalled_limit), run)


@router.get("/book", response_model=BookHealth, summary="Book health: segments, tiers and the lifecycle funnel")
def get_book(request: Request, pam: str | None = PamQuery, stalled_limit: int | None = StalledLimit,
             principal: Principal = Depends(current_principal)) -> BookHealth | Response:
    return cached_read(request, ("book", pam, stalled_limit), lambda: _book(pam, stalled_limit, principal))


def _book(pam: str | None, stalled_limit: int | None, principal: Principal) -> BookHealth:
    as_of = get_settings().today()
    with get_services().session() as s:
        pam_id = book_of(s, principal, pam)
        ids = book_partner_ids(s, pam_id)
        if missing_snapshots(s, as_of, pam_id) > 0:
            refresh_snapshots(s, as_of, ids)
        q = select(ScoreSnapshot.segment, ScoreSnapshot.tier).where(ScoreSnapshot.as_of == as_of)
        count = select(func.count()).select_from(Partner)
        if pam_id is not None:
            q = q.where(ScoreSnapshot.pam_id == pam_id)
            count = count.where(Partner.pam_id == pam_id)
        rows = list(s.execute(q))
        lifecycle = program_lifecycle(s, as_of, ids)
        partners = int(s.scalar(count) or 0)
    return BookHealth(as_of=as_of, pam_id=pam_id, partners=partners, scored=len(rows),
                      segments=dict(Counter(r[0] for r in rows)), tiers=dict(Counter(r[1] for r in rows)),
                      lifecycle=_limit_stalled(lifecycle, stalled_limit))


@router.get("/claims", response_model=ClaimsResponse, summary="Claims awaiting confirmation")
def get_claims(request: Request, pam: str | None = PamQuery,
               principal: Principal = Depends(current_principal)) -> ClaimsResponse | Response:
    """Milestones partners claimed and partner-reported signals not yet reviewed, oldest first: confirm or reject
    them with PATCH …/plan/milestones/{key} and POST /v1/signals/{id}/review."""
    def run() -> ClaimsResponse:
        with get_services().session() as s:
            ids = book_partner_ids(s, book_of(s, principal, pam))
            found = claims_awaiting(s, ids)
        return ClaimsResponse(milestones=found.milestones, signals=found.signals)

    return cached_read(request, ("claims", pam), run)


@router.get("/program/health", response_model=ProgramHealth, summary="Program health (leaders, admins)")
def get_program_health(request: Request, pam: str | None = PamQuery,
                       principal: Principal = Depends(require_roles("leader", "admin"))) -> ProgramHealth | Response:
    """Time to first deal, enablement effect, churn risk, sourced revenue per partner and per PAM."""
    def run() -> ProgramHealth:
        with get_services().session() as s:
            ids = book_partner_ids(s, book_of(s, principal, pam))
            return program_health(s, get_settings().today(), ids)

    return cached_read(request, ("program-health", pam), run)


__all__ = ["router"]
