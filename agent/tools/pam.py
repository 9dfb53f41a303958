"""PAM tools: find a partner in the book, the dormant-partner call list."""

from __future__ import annotations

from langchain.tools import tool

from agent.tools.base import Runtime, context_of, guarded, ok, services_session
from readiness.errors import OutOfScope
from readiness.scope import SEARCH_THRESHOLD, match_partners, visible_partners


@tool
@guarded
def find_partner(runtime: Runtime, query: str) -> str:
    """Find partners in your book by (fuzzy) name or id."""
    ctx = context_of(runtime)
    if ctx.role == "partner":
        raise OutOfScope("Partner lookup is for partner account managers.")
    with services_session() as s:
        refs = visible_partners(s, ctx.principal)
    hits = match_partners(query, refs, limit=5, threshold=SEARCH_THRESHOLD)
    return ok({"query": query, "matches": [{"partner_id": r.partner_id, "name": r.name} for r, _ in hits]})


@tool
@guarded
def list_dormant_partners(runtime: Runtime, limit: int = 5) -> str:
    """Dormant partners in your book worth calling, ranked by revenue at stake and readiness, with why-now
    reasons, the gap to open with and a first step."""
    from readiness.scoring import call_list

    ctx = context_of(runtime)
    if ctx.role == "partner":
        raise OutOfScope("The call list is for partner account managers.")
    limit = max(1, min(int(limit), 25))
    with services_session() as s:
        pam_id = ctx.principal_id if ctx.role == "pam" else None
        entries = call_list(s, ctx.as_of, pam_id=pam_id, limit=limit)
    rows = [
        {"rank": e.rank, "partner_id": e.partner_id, "name": e.name, "segment": e.segment,
         "readiness": round(e.readiness, 1), "tier": e.tier, "revenue_at_stake": round(e.revenue_at_stake, 0),
         "reasons": list(e.reasons)[:3], "open_with_gap": e.open_with_gap, "next_step": e.next_step}
        for e in entries
    ]
    return ok({"scope": "your book" if ctx.role == "pam" else "the program", "partners": rows,
               "total_revenue_at_stake": sum(r["revenue_at_stake"] for r in rows)})
