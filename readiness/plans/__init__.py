"""30/60/90-day activation plans: templates, evidence-derived milestone status, claims and confirmations."""

from readiness.plans.plans import (
    MilestoneView,
    NoPlan,
    PlanTemplate,
    PlanView,
    active_plan,
    claim_milestone,
    confirm_milestone,
    get_or_create_plan,
    load_template,
    milestone_from_text,
    plan_status,
    resolve_milestone,
)

__all__ = [
    "MilestoneView",
    "NoPlan",
    "PlanTemplate",
    "PlanView",
    "active_plan",
    "claim_milestone",
    "confirm_milestone",
    "get_or_create_plan",
    "load_template",
    "milestone_from_text",
    "plan_status",
    "resolve_milestone",
]
