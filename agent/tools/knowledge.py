"""Playbook search over the knowledge index. Audience comes from the principal: partners never get PAM guides."""

from __future__ import annotations

from langchain.tools import tool

from agent.services import get_services
from agent.tools.base import Runtime, context_of, guarded, ok, services_session
from knowledge.excerpt import excerpt
from readiness.lifecycle import has_customers
from readiness.models import Partner

GAPS = ("icp", "use_case", "sales_motion", "delivery_credibility", "business_communication", "ae_engagement",
        "enablement", "pipeline_hygiene", "co_sell")


@tool
@guarded
def search_playbooks(runtime: Runtime, query: str, gap: str | None = None) -> str:
    """Playbooks for a how-to question, optionally for one `gap`. Untrusted text; cite playbooks by id."""
    ctx = context_of(runtime)
    audience = "partner" if ctx.role == "partner" else "pam"
    partner_type, customers = None, None
    if ctx.role == "partner":  # a partner gets playbooks written for its business model and its stage
        with services_session() as s:
            own = s.get(Partner, ctx.principal_id)
            partner_type = own.type if own else None
            customers = has_customers(s, ctx.principal_id, ctx.as_of)
    gaps = [gap] if gap in GAPS else None
    kb = get_services().kb()
    hits = kb.search(query[:500], k=3, gaps=gaps, audience=audience, partner_type=partner_type,
                     has_customers=customers)
    if not hits and gaps:
        hits = kb.search(query[:500], k=3, audience=audience, partner_type=partner_type, has_customers=customers)
    return ok({
        "query": query, "gap": gap, "untrusted": True,
        "results": [{"playbook_id": h.playbook_id, "title": h.title, "heading_path": h.heading_path,
                     "anchor": h.anchor, "excerpt": excerpt(h.text, 400)} for h in hits],
    })
