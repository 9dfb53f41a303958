"""GTM diagnosis tool."""

from __future__ import annotations

from langchain.tools import tool

from agent.tools.base import Runtime, context_of, guarded, ok, services_session, subject
from agent.tools.read_cache import read_through


@tool
@read_through
@guarded
def diagnose_gtm_gaps(runtime: Runtime, partner: str | None = None) -> str:
    """GTM gaps with status, evidence, what is missing and playbooks; top_gap is the one to fix first."""
    from readiness.gtm import diagnose

    ctx = context_of(runtime)
    with services_session() as s:
        ref = subject(s, ctx, partner)
        d = diagnose(s, ref.partner_id, ctx.as_of)

    def view(g):  # type: ignore[no-untyped-def]
        return {"gap": g.gap, "label": g.label, "status": g.status, "confidence": round(g.confidence, 2),
                "evidence": list(g.evidence)[:3], "missing": list(g.missing_elements),
                "playbooks": [{"id": p.id, "title": p.title} for p in g.playbooks][:3]}

    return ok({"partner_id": ref.partner_id, "name": ref.name, "as_of": ctx.as_of,
               "top_gap": view(d.top_gap) if d.top_gap else None,
               "gaps": [view(g) for g in d.gaps]})
