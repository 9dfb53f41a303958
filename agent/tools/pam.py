"""PAM tools: find a partner in the book, the dormant-partner call list by play, the grow-to-sourcing list."""

from __future__ import annotations

from typing import Any

from langchain.tools import tool

from agent.tools.base import Runtime, context_of, guarded, ok, services_session
from agent.tools.read_cache import read_through
from readiness.errors import OutOfScope
from readiness.scope import SEARCH_THRESHOLD, match_partners, visible_partners

MAX_LIMIT = 25


@tool
@read_through
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


def _book(runtime: Runtime, what: str) -> tuple[Any, str | None, str]:
    ctx = context_of(runtime)
    if ctx.role == "partner":
        raise OutOfScope(f"The {what} is for partner account managers.")
    pam_id = ctx.principal_id if ctx.role == "pam" else None
    return ctx, pam_id, "your book" if ctx.role == "pam" else "the program"


@tool
@read_through
@guarded
def list_dormant_partners(runtime: Runtime, limit: int = 5, play: str | None = None) -> str:
    """Dormant partners in your book worth calling, best first, each with its play (reactivate, first_deal,
    event_to_registration, open_overlap), evidence, recent engagement and an opening line. `play` filters."""
    from readiness.scoring import call_list, list_counts

    ctx, pam_id, scope = _book(runtime, "call list")
    limit = max(1, min(int(limit), MAX_LIMIT))
    with services_session() as s:
        entries = call_list(s, ctx.as_of, pam_id=pam_id, limit=limit, play=play or None)
        counts = list_counts(s, ctx.as_of, pam_id)
    rows = [
        {"rank": e.rank, "partner_id": e.partner_id, "name": e.name, "play": e.play,
         "plays": [{"play": p.code, "label": p.label, "strength": p.strength, "evidence": p.evidence[:1]}
                   for p in e.plays],
         "segment": e.segment, "readiness": e.readiness, "tier": e.tier,
         "revenue_at_stake": round(e.revenue_at_stake), "reasons": list(e.reasons)[:3],
         "recent_engagement": e.recent_engagement, "open_with_gap": e.open_with_gap, "next_step": e.next_step,
         "opener": e.opener}
        for e in entries
    ]
    return ok({"scope": scope, "as_of": ctx.as_of, "play": play or None, "partners": rows,
               "total_revenue_at_stake": sum(r["revenue_at_stake"] for r in rows),
               "dormant_total": counts["dormant_total"], "grow_to_sourcing_count": counts["grow_to_sourcing_count"]})


@tool
@read_through
@guarded
def list_growth_partners(runtime: Runtime, limit: int = 5) -> str:
    """Partners that co-sell on vendor deals but never source (not dormant): grow co-sell into sourcing."""
    from readiness.scoring import growth_list

    ctx, pam_id, scope = _book(runtime, "grow-to-sourcing list")
    limit = max(1, min(int(limit), MAX_LIMIT))
    with services_session() as s:
        entries = growth_list(s, ctx.as_of, pam_id=pam_id, limit=limit)
    rows = [
        {"rank": e.rank, "partner_id": e.partner_id, "name": e.name, "readiness": e.readiness, "tier": e.tier,
         "influenced_count": e.influenced_count, "influenced_open": round(e.influenced_open),
         "reasons": list(e.reasons)[:2], "next_step": e.next_step}
        for e in entries
    ]
    return ok({"scope": scope, "as_of": ctx.as_of, "partners": rows})
