"""Nudges and pipeline tools."""

from __future__ import annotations

from langchain.tools import ToolRuntime, tool

from agent.tools.base import context_of, guarded, ok, services_session, subject
from readiness.scope import visible_partner_ids


@tool
@guarded
def get_nudges(runtime: ToolRuntime, partner: str | None = None) -> str:
    """Nudges due now (stalled milestones, no login for 30 days, deals with no AE meeting, certified with no
    deal), each with the next step."""
    from readiness.nudges import nudges_due

    ctx = context_of(runtime)
    with services_session() as s:
        ids = [subject(s, ctx, partner).partner_id] if partner or ctx.role == "partner" else (
            visible_partner_ids(s, ctx.principal))
        audience = "partner" if ctx.role == "partner" else None
        nudges = [n for n in nudges_due(s, ctx.as_of, partner_ids=ids) if audience is None or n.audience == audience]
    return ok({"nudges": [{"partner_id": n.partner_id, "name": n.name, "audience": n.audience, "code": n.code,
                           "reason": n.reason, "next_step": n.next_step} for n in nudges[:10]]})


@tool
@guarded
def get_pipeline_summary(runtime: ToolRuntime, partner: str | None = None) -> str:
    """Partner-sourced vs influenced pipeline (never added together), coverage, stalled opportunities, forecast
    by category. Without `partner`, a PAM gets their whole book."""
    from readiness.pipeline import pipeline_summary

    ctx = context_of(runtime)
    with services_session() as s:
        if partner or ctx.role == "partner":
            ref = subject(s, ctx, partner)
            ids, scope = [ref.partner_id], ref.name
        else:
            ids = visible_partner_ids(s, ctx.principal)
            scope = "your book" if ctx.role == "pam" else "the program"
        p = pipeline_summary(s, ctx.as_of, partner_ids=ids)
    names = {}
    return ok({
        "scope": scope, "sourced_open": p.sourced.open_amount, "sourced_count": p.sourced.open_count,
        "influenced_open": p.influenced.open_amount, "influenced_count": p.influenced.open_count,
        "sourced_won": p.sourced.won_amount, "coverage_ratio": p.coverage_ratio, "coverage_target": p.coverage_target,
        "stalled": [{"account_name": o.account_name, "amount": o.amount,
                     "partner_name": names.get(o.partner_id, o.partner_id)} for o in p.stalled[:5]],
    })
