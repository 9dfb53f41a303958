"""Nudges and pipeline tools."""

from __future__ import annotations

from langchain.tools import tool
from sqlalchemy import select

from agent.tools.base import Runtime, context_of, guarded, ok, services_session, subject
from agent.tools.read_cache import read_through
from readiness.models import Partner
from readiness.scope import visible_partner_ids


@tool
@read_through
@guarded
def get_nudges(runtime: Runtime, partner: str | None = None) -> str:
    """Nudges due now (stalled milestones, no logins, deals without the AE...) with next steps."""
    from readiness.nudges import nudges_due

    ctx = context_of(runtime)
    with services_session() as s:
        ids = [subject(s, ctx, partner).partner_id] if partner or ctx.role == "partner" else (
            visible_partner_ids(s, ctx.principal))
        audience = "partner" if ctx.role == "partner" else None
        nudges = [n for n in nudges_due(s, ctx.as_of, partner_ids=ids) if audience is None or n.audience == audience]
    return ok({"as_of": ctx.as_of, "nudges": [
        {"partner_id": n.partner_id, "name": n.name, "audience": n.audience, "code": n.code, "reason": n.reason,
         "next_step": n.next_step} for n in nudges[:10]]})


@tool
@read_through
@guarded
def get_pipeline_summary(runtime: Runtime, partner: str | None = None) -> str:
    """Sourced vs influenced pipeline (never added), coverage, stalled deals. No `partner`: the PAM's book."""
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
        names = dict(s.execute(select(Partner.partner_id, Partner.name).where(
            Partner.partner_id.in_({o.partner_id for o in p.stalled[:5]}))).all())
    return ok({
        "scope": scope, "as_of": ctx.as_of, "sourced_open": p.open_sourced.amount,
        "sourced_count": p.open_sourced.count,
        "influenced_open": p.open_influenced.amount, "influenced_count": p.open_influenced.count,
        "sourced_won": p.won_sourced_trailing.amount, "influenced_won": p.won_influenced_trailing.amount,
        "coverage_ratio": p.coverage_ratio, "coverage_target": p.coverage_target,
        "stalled": [{"account_name": o.account_name, "amount": o.amount, "stage": o.stage,
                     "attribution": o.attribution, "partner_name": names.get(o.partner_id, o.partner_id)}
                    for o in p.stalled[:5]],
    })
