"""Readiness-signal write-back tool: durable, idempotent, audited."""

from __future__ import annotations

from typing import Literal

from langchain.tools import tool

from agent.tools.base import (
    Runtime,
    check_write_budget,
    context_of,
    guarded,
    ok,
    services_session,
    statement_key,
    subject,
    thread_id,
)
from readiness.presentation import shown_score

Dimension = Literal[
    "engagement", "revenue_potential", "market_alignment", "capability", "icp", "use_case", "sales_motion",
    "delivery_credibility", "business_communication", "ae_engagement",
]


@tool
@guarded
def record_readiness_signal(
    runtime: Runtime,
    dimension: Dimension,
    evidence: str,
    level: Literal["low", "medium", "high"] = "medium",
    partner: str | None = None,
) -> str:
    """Record a readiness fact (a hire, certifications, a case study) with the user's words as evidence."""
    from readiness.signals import SignalIn, record_signal

    ctx = context_of(runtime)
    check_write_budget(runtime)
    key_args = {"dimension": dimension, "evidence": evidence, "level": level, "partner": partner}
    with services_session() as s:
        ref = subject(s, ctx, partner)
        source = "partner" if ctx.role == "partner" else "pam"
        out = record_signal(s, SignalIn(
            partner_id=ref.partner_id, dimension=dimension, level=level, evidence=evidence[:1000], source=source,
            actor=ctx.principal.actor, thread_id=thread_id(runtime),
            idempotency_key=statement_key(runtime, "record_readiness_signal", key_args),
        ), as_of=ctx.as_of)
        status = "claimed, awaiting PAM confirmation" if out.status == "claimed" else out.status
        message = f"Recorded a {level} {dimension.replace('_', ' ')} signal for {ref.name} ({status})."
        if not out.created:
            message = f"That {dimension.replace('_', ' ')} signal for {ref.name} was already recorded ({status})."
        if out.score is not None:
            message += f" Readiness score now {shown_score(out.score)}/100 ({out.tier})."
        return ok({"partner_id": ref.partner_id, "signal_id": out.id, "created": out.created, "status": out.status,
                   "message": message})
