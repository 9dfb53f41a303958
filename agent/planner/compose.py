"""Final answers of the offline planner, composed from tool results with the templates in answers.yaml.

Each tool result has one rendering; an answer is the renderings of the turn's results in order. Every number and
name comes from a tool result; playbooks are cited by id in square brackets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.planner import assets
from knowledge.excerpt import excerpt as plain_excerpt

Result = dict[str, Any]


def money(value: Any) -> str:
    try:
        return f"${float(value):,.0f}"
    except (TypeError, ValueError):
        return "unknown"


def t(template: str, /, **values: Any) -> str:
    return assets.answers()[template].format(**values)


def _outlook(d: Result) -> str:
    if d.get("outlook") == "not_ever":
        return f"; not ever: {d.get('outlook_reason') or 'structural'}"
    if d.get("outlook") == "not_yet":
        return f"; not yet: {d.get('outlook_reason') or 'early'}"
    return ""


def _dims(d: Result) -> list[Result]:
    return sorted(d.get("dimensions") or [], key=lambda x: x.get("score", 0), reverse=True)


def render_score(d: Result) -> str:
    dims = _dims(d)
    momentum = ""
    if d.get("momentum_30") is not None:
        momentum = f" Change over 30 days: {d['momentum_30']:+.0f}."
    lines = [
        t(
            "score",
            name=d["name"],
            score=d["score"],
            tier=d["tier"],
            segment=d["segment"],
            outlook=_outlook(d),
            strongest=f"{dims[0]['label']} {dims[0]['score']:.0f}" if dims else "n/a",
            weakest=f"{dims[-1]['label']} {dims[-1]['score']:.0f}" if dims else "n/a",
            momentum=momentum,
        )
    ]
    lines += [t("score_dimension_line", **x) for x in d.get("dimensions") or []]
    return "\n".join(lines)


def render_explain(d: Result) -> str:
    lines = [t("explain_intro", name=d["name"], score=d["score"], tier=d["tier"], segment=d["segment"],
               outlook=_outlook(d))]
    # Why now first: that is what a PAM deciding on a call needs; then what each dimension rests on.
    flags = [f"{f['label']} ({(f.get('evidence') or ['no detail'])[0]})" for f in d.get("dormant_flags") or []]
    if flags:
        lines.append(t("explain_flags", flags="; ".join(flags)))
    for x in d.get("dimensions") or []:
        ev = "; ".join(f"{s['label']}: {(s.get('evidence') or ['no evidence'])[0]}"
                       for s in (x.get("subsignals") or [])[:2])
        lines.append(t("explain_dimension", label=x["label"], score=x["score"], weight=x["weight"],
                       contribution=x.get("contribution", 0.0), evidence=ev))
    return "\n".join(lines)


def render_gaps(d: Result) -> str:
    top = d.get("top_gap")
    if not top:
        return t("gap_none", name=d["name"])
    lines = [t("gap_intro", name=d["name"], label=top["label"], status=top["status"],
               confidence=top.get("confidence", 0.0))]
    if top.get("missing"):
        lines.append(t("gap_missing", missing="; ".join(m.replace("_", " ") for m in top["missing"])))
    if top.get("evidence"):
        lines.append(t("gap_evidence", evidence="; ".join(top["evidence"][:3])))
    others = [f"{g['label']} ({g['status']})" for g in d.get("gaps") or [] if g.get("gap") != top.get("gap")
              and g.get("status") != "strong"]
    if others:
        lines.append(t("gap_others", others=", ".join(others)))
    return "\n".join(lines)


def render_playbooks(d: Result) -> str:
    hits = d.get("results") or []
    if not hits:
        gap = f" on {d['gap']}" if d.get("gap") else ""
        return t("playbooks_none", gap=gap)
    lines = [t("playbooks_intro")]
    for h in hits[:3]:
        excerpt = plain_excerpt(str(h.get("excerpt", "")), 220)  # plain text, never cut mid-word
        lines.append(t("playbook_line", title=h["title"], playbook_id=h["playbook_id"],
                       heading=h.get("heading_path", ""), excerpt=excerpt))
    return "\n".join(lines)


def render_plan(d: Result) -> str:
    lines = [t("plan_intro", name=d["name"], started_on=d["started_on"], done=d["done"], total=d["total"])]
    lines += [t("plan_line", **m) for m in d.get("milestones") or []]
    nxt = d.get("next_milestone")
    lines.append(t("plan_next", **nxt) if nxt else t("plan_all_done"))
    return "\n".join(lines)


def render_nudges(d: Result) -> str:
    nudges = d.get("nudges") or []
    if not nudges:
        return t("nudges_none")
    return "\n".join([t("nudges_intro")] + [t("nudge_line", **n) for n in nudges[:8]])


def render_pipeline(d: Result) -> str:
    coverage = ""
    if d.get("coverage_ratio") is not None:
        coverage = f" Sourced coverage: {d['coverage_ratio']:.1f}× against a {d.get('coverage_target', 3):.0f}× target."
    lines = [t("pipeline", scope=d["scope"], sourced_open=money(d["sourced_open"]), sourced_count=d["sourced_count"],
               influenced_open=money(d["influenced_open"]), influenced_count=d["influenced_count"],
               sourced_won=money(d["sourced_won"]), influenced_won=money(d.get("influenced_won")),
               coverage=coverage)]
    if d.get("stalled"):
        items = ", ".join(f"{s['account_name']} ({money(s['amount'])}, {s['partner_name']})" for s in d["stalled"][:5])
        lines.append(t("pipeline_stalled", items=items))
    return "\n".join(lines)


def _play_line(r: Result) -> tuple[str, str]:
    """The row's primary play with its first evidence, and the other plays by label."""
    plays = r.get("plays") or []
    if not plays:
        return r.get("play") or "n/a", "; ".join(r.get("reasons") or [])
    first = plays[0]
    evidence = "; ".join(first.get("evidence") or []) or "; ".join(r.get("reasons") or [])
    also = ", ".join(p.get("label", p.get("play", "")) for p in plays[1:])
    return first.get("label", first.get("play", "")), evidence + (f" (also: {also})" if also else "")


def render_call_list(d: Result) -> str:
    rows = d.get("partners") or []
    as_of = d.get("as_of", "")
    if not rows:
        return t("call_list_none", scope=d.get("scope", "your book"), as_of=as_of)
    lines = [t("call_list_intro", scope=d.get("scope", "your book"), count=len(rows), as_of=as_of,
               dormant_total=d.get("dormant_total", len(rows)), total=money(d.get("total_revenue_at_stake")))]
    for r in rows:
        play, evidence = _play_line(r)
        recent = r.get("recent_engagement") or []
        lines.append(t("call_list_line", rank=r["rank"], name=r["name"], partner_id=r["partner_id"], play=play,
                       evidence=evidence, readiness=r["readiness"], tier=r.get("tier", ""), segment=r["segment"],
                       revenue_at_stake=money(r["revenue_at_stake"]),
                       recent=t("call_list_recent", recent="; ".join(recent)) if recent else "",
                       opener=r.get("opener") or "", next_step=r.get("next_step") or ""))
    if d.get("grow_to_sourcing_count"):
        lines.append(t("call_list_grow_pointer", count=d["grow_to_sourcing_count"]))
    return "\n".join(lines)


def render_growth_list(d: Result) -> str:
    rows = d.get("partners") or []
    if not rows:
        return t("grow_list_none", scope=d.get("scope", "your book"), as_of=d.get("as_of", ""))
    lines = [t("grow_list_intro", scope=d.get("scope", "your book"), as_of=d.get("as_of", ""), count=len(rows))]
    lines += [t("grow_list_line", rank=r["rank"], name=r["name"], partner_id=r["partner_id"], readiness=r["readiness"],
                tier=r.get("tier", ""), influenced_count=r.get("influenced_count", 0),
                influenced_open=money(r.get("influenced_open")), next_step=r.get("next_step") or "")
              for r in rows]
    return "\n".join(lines)


def render_impact(d: Result) -> str:
    if d.get("level") == "program":
        return t("impact_program", scope=d["scope"], ready_count=d["ready_count"], revenue=money(d["revenue"]),
                 share=d["share"], lift=money(d["lift"]))
    roi = f"{d['roi']:.1f}×" if d.get("roi") is not None else "n/a"
    return t("impact", name=d["name"], upside=money(d["expected_upside"]), probability=d["probability"],
             deal_size=money(d["typical_deal_size"]), deals_per_year=d["deals_per_year"],
             cost=money(d["cost_of_inaction_per_quarter"]), roi=roi)


def render_find(d: Result) -> str:
    matches = d.get("matches") or []
    if not matches:
        return t("find_partner_none", query=d.get("query", ""))
    return t("find_partner", query=d.get("query", ""),
             matches=", ".join(f"{m['name']} ({m['partner_id']})" for m in matches))


def render_message(d: Result) -> str:
    return str(d.get("message", ""))


RENDERERS: dict[str, Callable[[Result], str]] = {
    "get_readiness_score": render_score,
    "explain_score": render_explain,
    "diagnose_gtm_gaps": render_gaps,
    "search_playbooks": render_playbooks,
    "get_activation_plan": render_plan,
    "get_nudges": render_nudges,
    "get_pipeline_summary": render_pipeline,
    "list_dormant_partners": render_call_list,
    "list_growth_partners": render_growth_list,
    "get_revenue_impact": render_impact,
    "find_partner": render_find,
    "update_milestone": render_message,
    "record_readiness_signal": render_message,
}


def render_result(tool: str, result: Result, scope: str) -> str:
    if not result.get("ok"):
        if result.get("refused"):
            if tool == "decline_request":
                reason = (result.get("data") or {}).get("reason") or result.get("reason")
                if reason == "escalation":
                    return t("declined_escalation", scope=scope)
                return t("declined_out_of_scope")
            return t("declined_tool", error=result.get("error", "not allowed"))
        return t("tool_error", error=result.get("error", "unknown error"))
    renderer = RENDERERS.get(tool)
    return renderer(result.get("data") or {}) if renderer else ""
