"""Readiness tools: score, explanation, revenue impact."""

from __future__ import annotations

from typing import Any

from langchain.tools import tool

from agent.tools.base import Runtime, context_of, guarded, ok, services_session, subject
from agent.tools.read_cache import read_through
from readiness.presentation import shown_score
from readiness.scope import visible_partner_ids


def _dimension(d: Any, detail: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"key": d.key, "label": d.label, "score": shown_score(d.score), "weight": round(d.weight, 1)}
    if detail:
        out["contribution"] = round(d.contribution, 1)
        subs = sorted(d.subsignals, key=lambda s: s.contribution, reverse=True)
        out["subsignals"] = [
            {"label": s.label, "value": round(s.value, 2), "contribution": round(s.contribution, 2),
             "evidence": list(s.evidence)[:3]}
            for s in subs
        ]
    return out


def score_view(score: Any, detail: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "partner_id": score.partner_id,
        "name": score.name,
        "score": shown_score(score.score),  # as shown everywhere: rounded once
        "tier": score.tier,
        "segment": score.segment,
        "outlook": score.outlook,
        "outlook_reason": score.outlook_reason,
        "dimensions": [_dimension(d, detail) for d in score.dimensions],
        "gtm": [{"key": g.key, "label": g.label, "score": shown_score(g.score)} for g in score.gtm],
        "momentum_30": score.momentum_30,
        "momentum_90": score.momentum_90,
        "as_of": score.as_of,
    }
    if detail:
        view["dormant_flags"] = [{"label": f.label, "evidence": list(f.evidence)[:3]} for f in score.dormant_flags]
        # The call play (the strongest evidence first), as the call list shows it.
        view["plays"] = [{"play": p.code, "label": p.label, "evidence": p.evidence[:1]} for p in score.plays]
        view["recent_engagement"] = list(score.recent_engagement)
    return view


def _score(runtime: Runtime, partner: str | None, detail: bool) -> str:
    from readiness.scoring import score_partner

    ctx = context_of(runtime)
    with services_session() as s:
        ref = subject(s, ctx, partner)
        return ok(score_view(score_partner(s, ref.partner_id, ctx.as_of), detail=detail))


@tool
@read_through
@guarded
def get_readiness_score(runtime: Runtime, partner: str | None = None) -> str:
    """Readiness score, tier, segment, dimensions. `partner`: name or id (PAMs only)."""
    return _score(runtime, partner, detail=False)


@tool
@read_through
@guarded
def explain_score(runtime: Runtime, partner: str | None = None) -> str:
    """Why a partner scores so: sub-signals, contributions, evidence, dormant flags."""
    return _score(runtime, partner, detail=True)


@tool
@read_through
@guarded
def get_revenue_impact(runtime: Runtime, partner: str | None = None) -> str:
    """Revenue at stake: upside, cost of inaction per quarter, ROI. No `partner`: the PAM's whole book."""
    from readiness.scoring import program_impact, revenue_impact

    ctx = context_of(runtime)
    with services_session() as s:
        if partner is None and ctx.role != "partner":
            ids = visible_partner_ids(s, ctx.principal)
            impact = program_impact(s, ctx.as_of, partner_ids=ids)
            scope = "your book" if ctx.role == "pam" else "the program"
            return ok({"level": "program", "scope": scope, "as_of": ctx.as_of,
                       "ready_count": impact.ready_dormant_count,
                       "revenue": impact.ready_dormant_revenue, "share": impact.activation_share,
                       "lift": impact.lift})
        ref = subject(s, ctx, partner)
        r = revenue_impact(s, ref.partner_id, ctx.as_of)
        return ok({"level": "partner", "partner_id": ref.partner_id, "name": ref.name, "as_of": ctx.as_of,
                   "expected_upside": r.expected_upside, "probability": r.activation_probability,
                   "typical_deal_size": r.typical_deal_size, "deals_per_year": r.deals_per_year,
                   "cost_of_inaction_per_quarter": r.cost_of_inaction_per_quarter, "roi": r.activation_roi})
