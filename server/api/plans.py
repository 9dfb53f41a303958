"""`/v1/partners/{id}/plan`: the 30/60/90-day activation plan, and milestone claims, confirmations, rejections."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi import Path as PathParam

from agent.services import get_services
from readiness.errors import ValidationFailed
from readiness.plans import MilestoneView, NoPlan, PlanView, claim_milestone, confirm_milestone, get_or_create_plan
from readiness.plans import plan_status as plan_status_of
from readiness.scope import Principal
from readiness.settings import get_settings
from server.api.models import ActivePlan, MilestoneAction
from server.api.partners import PartnerIdPath
from server.api.scope import forbidden, in_scope, not_found, partner_in_scope
from server.auth import current_principal
from server.errors import ErrorBody
from server.readcache import partner_read

router = APIRouter(prefix="/partners/{partner_id}/plan", tags=["plans"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 404: {"model": ErrorBody},
                              409: {"model": ErrorBody}, 429: {"model": ErrorBody}})
MilestoneKey = PathParam(pattern=r"^[a-z0-9_]{1,60}$", description="Milestone key, e.g. icp_workshop.")
PLAN_WRITERS = ("partner", "pam", "admin")


# The same plan as a collection read that never 404s: a dashboard asks "is there a plan?" without an error.
collection = APIRouter(prefix="/partners/{partner_id}/plans", tags=["plans"],
                       responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}, 429: {"model": ErrorBody}})


@collection.get("", response_model=ActivePlan, summary="The active plan, or null when there is none yet")
def get_active_plan(request: Request, partner_id: str = PartnerIdPath,
                    principal: Principal = Depends(current_principal)) -> ActivePlan | Response:
    def run() -> ActivePlan:
        with get_services().session() as s:
            try:
                return ActivePlan(active=plan_status_of(s, partner_id, get_settings().today()))
            except NoPlan:
                return ActivePlan(active=None)

    return partner_read(request, principal, partner_id, "plans", in_scope(principal, partner_id), run)


@router.get("", response_model=PlanView, summary="The active plan, milestone status from evidence")
def get_plan(request: Request, partner_id: str = PartnerIdPath,
             principal: Principal = Depends(current_principal)) -> PlanView | Response:
    def run() -> PlanView:
        with get_services().session() as s:
            try:
                return plan_status_of(s, partner_id, get_settings().today())
            except NoPlan as exc:
                raise not_found("no active activation plan; POST to this URL to create one") from exc

    return partner_read(request, principal, partner_id, "plan", in_scope(principal, partner_id), run)


@router.post("", response_model=PlanView, summary="Create the plan (or return the active one)")
def create_plan(partner_id: str = PartnerIdPath, principal: Principal = Depends(current_principal)) -> PlanView:
    """A plan starting today, tailored to the partner's gaps; idempotent: the active plan when there is one."""
    if principal.role not in PLAN_WRITERS:
        raise forbidden("plans are created by the partner, its PAM or an admin")
    with get_services().session() as s:
        partner_in_scope(s, principal, partner_id)
        return get_or_create_plan(s, partner_id, get_settings().today(), actor=principal.actor)


@router.patch("/milestones/{key}", response_model=MilestoneView, summary="Claim, confirm or reject a milestone")
def update_milestone(body: MilestoneAction, partner_id: str = PartnerIdPath, key: str = MilestoneKey,
                     principal: Principal = Depends(current_principal)) -> MilestoneView:
    """`claim`: the partner says it is done (it stays claimed until evidence arrives or the PAM confirms);
    `confirm` / `reject`: the partner's PAM decides. Claiming twice changes nothing."""
    if body.action == "claim" and principal.role != "partner":
        raise forbidden("only the partner claims its milestones; its PAM confirms or rejects them")
    if body.action != "claim" and principal.role != "pam":
        raise forbidden("only the partner's PAM confirms or rejects a milestone")
    as_of = get_settings().today()
    with get_services().session() as s:
        partner_in_scope(s, principal, partner_id)
        try:
            current = plan_status_of(s, partner_id, as_of)
        except NoPlan as exc:
            raise not_found("no active activation plan") from exc
        if key not in {m.key for m in current.milestones}:
            raise not_found("milestone not found")
        try:
            if body.action == "claim":
                return claim_milestone(s, partner_id, key, principal.actor, as_of, note=body.note)
            return confirm_milestone(s, partner_id, key, principal.id, as_of, body.action, note=body.note)
        except ValidationFailed as exc:  # e.g. rejecting a milestone nobody claimed, or one that was skipped
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc


__all__ = ["collection", "router"]
