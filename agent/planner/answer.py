"""Composing the offline planner's answer from a decision and the turn's tool results.

Each step of the decision is answered from the results of its own calls, in the order the user asked; every number
and name comes from a tool result. An answer states its as-of date, and ends with at most one specific question:
the other reading when the planner made a best guess, or the one next step it offers ("ok" carries it out).
"""

from __future__ import annotations

from typing import Any

from agent.planner import assets
from agent.planner.compose import RENDERERS, money, render_plan, render_result, t
from agent.planner.dialogue import DialogueState, Pending, ProposedStep
from agent.planner.policy import Decision, Step, proposal_after
from agent.planner.turn import PlannedCall, Result

Data = dict[str, Any]


def num(value: Any) -> str:
    """A score or count as people see it (whole number, halves up)."""
    try:
        from readiness.presentation import shown_score  # the one rounding rule, once it lands

        return str(shown_score(float(value)))
    except ImportError:
        return f"{float(value) + 1e-9:.0f}"
    except (TypeError, ValueError):
        return "n/a"


def pct(value: Any) -> str:
    try:
        return f"{float(value):.0%}"
    except (TypeError, ValueError):
        return "n/a"


def reading(intent: str) -> str:
    return str(assets.answers()["reading"].get(intent, intent.replace("_", " ")))


# ---------- renderers of the new tools ----------


def _filters_text(filters: Data) -> str:
    parts = []
    for key, value in (filters or {}).items():
        if value is None or value is False:
            continue
        if key == "tier":
            parts.append(f"Tier {value}")
        elif key == "stalled":
            parts.append("stalled")
        elif key == "outlook":
            parts.append(str(value).replace("_", " "))
        else:
            parts.append(str(value))
    return ", ".join(parts) or "all"


def render_list_partners(d: Data) -> str:
    rows = d.get("partners") or []
    scope, as_of, filters = d.get("scope", "your book"), d.get("as_of", ""), _filters_text(d.get("filters") or {})
    if not rows:
        return t("list_partners_none", total=d.get("total", 0), scope=scope, filters=filters, as_of=as_of)
    lines = [t("list_partners_intro", total=d.get("total", len(rows)), scope=scope, filters=filters, as_of=as_of,
               shown=len(rows))]
    for r in rows:
        days = f", {r['days_in_stage']} days in stage" if r.get("days_in_stage") is not None else ""
        outlook = f", {str(r['outlook']).replace('_', ' ')}" if r.get("outlook") else ""
        lines.append(t("list_partners_line", name=r["name"], partner_id=r["partner_id"], readiness=num(r["readiness"]),
                       tier=r.get("tier", ""), segment=r.get("segment", ""), outlook=outlook,
                       stage=r.get("stage") or "stage unknown", days=days))
    return "\n".join(lines)


def render_book_health(d: Data) -> str:
    segments = ", ".join(f"{k} {v}" for k, v in (d.get("segments") or {}).items())
    lines = [t("book_health", scope=str(d.get("scope", "your book")).capitalize(), as_of=d.get("as_of", ""),
               partners=d.get("partners", 0), activation_rate=pct(d.get("activation_rate")),
               dormant=d.get("dormant", 0), not_ever=d.get("not_ever", 0), churn_risk=d.get("churn_risk", 0),
               segments=segments or "none", sourced_won=money(d.get("sourced_won_12m")),
               influenced_won=money(d.get("influenced_won_12m")), revenue_at_stake=money(d.get("revenue_at_stake")))]
    stages = d.get("lifecycle") or []
    if stages:
        lines.append(t("book_health_funnel", stages=", ".join(f"{s['stage']} {s['count']}" for s in stages)))
        stalled = max(stages, key=lambda s: s.get("stalled", 0))
        if stalled.get("stalled"):
            lines.append(t("book_health_stall", stage=stalled["stage"], stalled=stalled["stalled"]))
    if d.get("median_days_to_first_deal") is not None:
        lines.append(t("book_health_ttfd", days=num(d["median_days_to_first_deal"])))
    books = d.get("books") or []
    if books:
        lines.append(t("book_health_books", books="; ".join(
            f"{b.get('name') or b.get('pam_id')}: {b.get('partners', 0)} partners, activation "
            f"{pct(b.get('activation_rate'))}, sourced {money(b.get('sourced_won_12m'))}" for b in books)))
    return "\n".join(lines)


def render_compare(d: Data) -> str:
    rows = d.get("partners") or []
    lines = [t("compare_intro", as_of=d.get("as_of", ""))]
    for r in rows:
        dims = "; ".join(f"{x['label']} {num(x['score'])}" for x in r.get("dimensions") or [])
        gap = r.get("top_gap")
        gap_text = gap.get("label", gap.get("gap", "")) if isinstance(gap, dict) else (gap or "none")
        outlook = f", {str(r['outlook']).replace('_', ' ')}" if r.get("outlook") else ""
        lines.append(t("compare_line", name=r["name"], partner_id=r["partner_id"], score=num(r["score"]),
                       tier=r.get("tier", ""), segment=r.get("segment", ""), outlook=outlook,
                       stake=money(r.get("revenue_at_stake")), gap=gap_text, dims=dims))
    leader = next((r for r in rows if r.get("partner_id") == d.get("leader")), None)
    if leader is not None and len(rows) > 1:
        lines.append(t("compare_leader", name=leader["name"]))
    return "\n".join(lines)


def render_plan_status(d: Data) -> str:
    base = render_plan(d)
    if d.get("on_track") is None and d.get("overdue") is None:
        return base
    status = t("plan_status_on_track") if d.get("on_track") else t("plan_status_behind", overdue=d.get("overdue", 0))
    return f"{status}\n{base}"


NEW_RENDERERS = {"list_partners": render_list_partners, "get_book_health": render_book_health,
                 "compare_partners": render_compare, "get_activation_plan": render_plan_status}


def render(tool: str, result: Data, scope: str) -> str:
    if result.get("ok") and tool in NEW_RENDERERS:
        return NEW_RENDERERS[tool](result.get("data") or {})
    return render_result(tool, result, scope) if tool in RENDERERS or not result.get("ok") else ""


# ---------- intent-level answers ----------


def _first(results: list[tuple[str, Data]], tool: str) -> Data | None:
    for name, res in results:
        if name == tool and res.get("ok"):
            return res.get("data") or {}
    return None


def answer_outlook(d: Data) -> str:
    values = {"name": d["name"], "reason": d.get("outlook_reason") or "no reason recorded",
              "score": num(d.get("score")), "tier": d.get("tier", ""), "segment": d.get("segment", "")}
    if d.get("outlook") == "not_ever":
        return t("outlook_not_ever", **values)
    if d.get("outlook") == "not_yet":
        return t("outlook_not_yet", **values)
    return t("outlook_active" if d.get("segment") == "active" else "outlook_open", **values)


def answer_opener(explained: Data | None, gaps: Data | None) -> str:
    base = explained or gaps or {}
    lines = [t("opener_intro", name=base.get("name", "them"), segment=(explained or {}).get("segment", "n/a"),
               score=num((explained or {}).get("score")))]
    flags = (explained or {}).get("dormant_flags") or []
    if flags:
        first = flags[0]
        hook = first.get("label", "")
        if first.get("evidence"):
            hook += f" ({first['evidence'][0]})"
        lines.append(t("opener_hook", hook=hook))
    top = (gaps or {}).get("top_gap") or {}
    if top:
        missing = f"; missing {', '.join(m.replace('_', ' ') for m in top.get('missing') or [])}" \
            if top.get("missing") else ""
        lines.append(t("opener_gap", label=top.get("label", top.get("gap", "")), status=top.get("status", ""),
                       missing=missing))
    questions = assets.answers()["opener_questions"]
    lines.append(t("opener_question", question=questions.get(top.get("gap"), questions["default"])))
    return "\n".join(lines)


def answer_next_steps(plan: Data | None, nudges: Data | None, as_of: str) -> str:
    lines = [t("next_steps_intro", name=(plan or nudges or {}).get("name", "you"), as_of=as_of)]
    n = 0
    for m in (plan or {}).get("milestones") or []:
        if m.get("status") in {"overdue", "stalled", "open"} and n < 3:
            n += 1
            lines.append(t("next_steps_line", n=n, title=m["title"], due_on=m.get("due_on"), next_step=m["next_step"]))
    for nudge in ((nudges or {}).get("nudges") or [])[:2]:
        n += 1
        lines.append(f"{n}. {nudge.get('reason', '')} {nudge.get('next_step', '')}".strip())
    if n == 0:
        return render_plan_status(plan) if plan else t("plan_all_done")
    return "\n".join(lines)


def answer_nth_gap(row: int, d: Data, playbooks: Data | None, scope: str) -> str:
    gaps = d.get("gaps") or []
    k = row - 1 if row > 0 else len(gaps) + row
    if not 0 <= k < len(gaps):
        return render("diagnose_gtm_gaps", {"ok": True, "data": d}, scope)
    g = gaps[k]
    lines = [t("gap_nth", row=k + 1, name=d.get("name", ""), label=g.get("label", ""), status=g.get("status", ""),
               confidence=pct(g.get("confidence")))]
    if g.get("missing"):
        lines.append(t("gap_missing", missing="; ".join(m.replace("_", " ") for m in g["missing"])))
    if g.get("evidence"):
        lines.append(t("gap_evidence", evidence="; ".join(g["evidence"][:3])))
    if playbooks is not None:
        lines.append(render("search_playbooks", {"ok": True, "data": playbooks}, scope))
    return "\n".join(lines)


def why_gap(d: Data) -> str:
    top = d.get("top_gap") or {}
    if not top:
        return t("gap_none", name=d.get("name", ""))
    missing = f" Missing: {', '.join(m.replace('_', ' ') for m in top['missing'])}." if top.get("missing") else ""
    return t("why_gap", label=top.get("label", ""), name=d.get("name", ""), status=top.get("status", ""),
             confidence=pct(top.get("confidence")), evidence="; ".join(top.get("evidence") or ["no evidence"]),
             missing=missing)


def why_plan(d: Data) -> str:
    items = [f"{m['title']} is {m['status']} (due {m['due_on']}): {m.get('acceptance', '')}"
             for m in d.get("milestones") or [] if m.get("status") in {"overdue", "stalled", "claimed"}]
    if not items:
        return t("why_plan_none", name=d.get("name", ""), done=d.get("done", 0), total=d.get("total", 0))
    return t("why_plan", items="; ".join(items))


def why_pipeline(d: Data) -> str:
    return t("why_pipeline", scope=d.get("scope", "you"), influenced_count=d.get("influenced_count", 0),
             influenced_open=money(d.get("influenced_open")), sourced_count=d.get("sourced_count", 0),
             sourced_open=money(d.get("sourced_open")))


def why_impact(d: Data) -> str:
    if d.get("level") == "program":
        return t("why_impact_program", ready_count=d.get("ready_count", 0), revenue=money(d.get("revenue")),
                 share=pct(d.get("share")), lift=money(d.get("lift")))
    return t("why_impact", probability=pct(d.get("probability")), deal_size=money(d.get("typical_deal_size")),
             deals_per_year=f"{float(d.get('deals_per_year') or 0):.1f}", upside=money(d.get("expected_upside")),
             cost=money(d.get("cost_of_inaction_per_quarter")))


def why_book(d: Data) -> str:
    stages = d.get("lifecycle") or []
    worst = max(stages, key=lambda s: s.get("stalled", 0)) if stages else {"stage": "n/a"}
    return t("why_book", dormant=d.get("dormant", 0), partners=d.get("partners", 0), not_ever=d.get("not_ever", 0),
             stage=worst.get("stage", "n/a"))


def answer_step(step: Step, results: list[tuple[str, Data]], role: str, scope: str, as_of: str) -> str:
    """One step's answer from its own results."""
    if step.intent == "help":
        return t("help_partner" if role == "partner" else "help_pam")
    if step.intent == "thanks":
        return t("thanks")
    if step.intent == "affirm":
        return t("affirm_nothing")
    failed = [render(name, res, scope) for name, res in results if not res.get("ok")]
    if failed and not any(res.get("ok") for _n, res in results):
        return "\n".join(dict.fromkeys(failed))
    explained = _first(results, "explain_score")
    if step.mode == "why":
        for tool, fn in (("diagnose_gtm_gaps", why_gap), ("get_activation_plan", why_plan),
                         ("get_pipeline_summary", why_pipeline), ("get_revenue_impact", why_impact),
                         ("get_book_health", why_book)):
            d = _first(results, tool)
            if d is not None and step.intent != "explain_score":
                return fn(d)
    if step.intent == "plan" and step.row is not None:
        plan = _first(results, "get_activation_plan") or {}
        milestones = plan.get("milestones") or []
        k = step.row - 1 if step.row > 0 else len(milestones) + step.row
        if 0 <= k < len(milestones):
            return t("milestone_row", n=k + 1, name=plan.get("name", ""), **milestones[k])
    if step.intent == "biggest_gap" and step.row is not None:
        return answer_nth_gap(step.row, _first(results, "diagnose_gtm_gaps") or {},
                              _first(results, "search_playbooks"), scope)
    if step.intent == "revenue_impact" and step.mode == "list":
        d = _first(results, "list_dormant_partners") or {}
        return t("list_stake", count=len(d.get("partners") or []), total=money(d.get("total_revenue_at_stake")),
                 scope=str(d.get("scope", "your book")).capitalize(), dormant_total=d.get("dormant_total", "n/a"))
    if step.intent == "find_partner" and step.then:
        matches = (_first(results, "find_partner") or {}).get("matches") or []
        if len(matches) >= 2:
            return t("clarify_ambiguous", candidates=" or ".join(f"{m['name']} ({m['partner_id']})" for m in matches))
    if step.intent == "outlook" and explained is not None:
        return answer_outlook(explained)
    if step.intent == "call_opener":
        return answer_opener(explained, _first(results, "diagnose_gtm_gaps"))
    if step.intent == "next_steps":
        return answer_next_steps(_first(results, "get_activation_plan"), _first(results, "get_nudges"), as_of)
    if step.intent == "greeting":
        return _greeting(results, role, scope)
    if step.intent == "list_partners" and _first(results, "list_dormant_partners") is not None:
        d = _first(results, "list_dormant_partners") or {}
        rows = d.get("partners") or []
        text = t("dormant_count", scope=str(d.get("scope", "your book")).capitalize(),
                 dormant_total=d.get("dormant_total", len(rows)), as_of=d.get("as_of", as_of), count=len(rows),
                 total=money(d.get("total_revenue_at_stake")))
        return text + ("\n" + ", ".join(r["name"] for r in rows) if rows else "")
    parts = [render(name, res, scope) for name, res in results]
    if step.intent == "pipeline" and role == "partner":
        d = _first(results, "get_pipeline_summary")
        if d and d.get("influenced_count") and not d.get("sourced_count") and "credit" in step.text.lower():
            parts.append(t("pipeline_credit"))
    return "\n".join(p for p in parts if p)


def _greeting(results: list[tuple[str, Data]], role: str, scope: str) -> str:
    parts: list[str] = []
    score = _first(results, "get_readiness_score")
    if role == "partner" and score:
        parts.append(t("greeting_partner", name=score.get("name", ""), segment=score.get("segment", ""),
                       score=float(score.get("score", 0)), tier=score.get("tier", "")))
        results = [(n, r) for n, r in results if n != "get_readiness_score"]
    elif role != "partner":
        parts.append(t("greeting_pam"))
    parts += [render(name, res, scope) for name, res in results]
    return "\n\n".join(p for p in parts if p)


def compose(decision: Decision, calls: list[PlannedCall], results: list[Result], role: str, scope: str,
            as_of: str, names: dict[str, str], dialogue: DialogueState) -> tuple[str, dict[str, Any]]:
    by_step: dict[int, list[tuple[str, Data]]] = {}
    for call, (name, _args, res) in zip(calls, results, strict=False):
        by_step.setdefault(call.step, []).append((name, res))
    parts = [answer_step(step, by_step.get(k, []), role, scope, as_of) for k, step in enumerate(decision.steps)]
    meta: dict[str, Any] = {"intents": decision.intents + ([decision.declined] if decision.declined else []),
                            "confidence": round(decision.confidence, 3)}
    if any(s.mode == "why" for s in decision.steps):
        meta["explained"] = True
    focus = [p for s in decision.steps for p in s.partners if p in names]
    if focus:
        meta["focus"] = list(dict.fromkeys(focus))
    ambiguous = next((r for _n, _a, r in results if r.get("code") == "ambiguous"), None)
    waiting = next((s for s in decision.steps if s.intent == "find_partner" and s.then), None)
    found = next((r.get("data") or {} for n, _a, r in results if n == "find_partner" and r.get("ok")), {})
    if waiting is not None and len(found.get("matches") or []) >= 2:
        matches = found["matches"][:5]
        meta["intents"] = waiting.then
        meta["pending"] = Pending(kind="ambiguous", intents=waiting.then, candidates=[m["partner_id"] for m in matches],
                                  names=[m["name"] for m in matches]).model_dump()
        return "\n\n".join(p for p in parts if p), meta
    if ambiguous is not None:
        found = (ambiguous.get("candidates") or [])[:5]
        meta["pending"] = Pending(kind="ambiguous", intents=decision.intents,
                                  candidates=[c["partner_id"] for c in found],
                                  names=[c.get("name", "") for c in found]).model_dump()
    ok_results = [r for _n, _a, r in results if r.get("ok")]
    if decision.offer is not None and ok_results:
        name = names.get(decision.offer.partner_ids[0], "") if decision.offer.partner_ids else ""
        what = assets.answers()["proposal"].get(decision.offer.intent, "")
        parts.append(t("propose", what=what.format(name=name or "you")))
        meta["proposed"] = decision.offer.model_dump(exclude_defaults=True)
    elif decision.alternative:
        parts.append(t("best_guess_note", first=reading(decision.intents[0]), second=reading(decision.alternative)))
    elif ok_results and ambiguous is None:
        listed = next(([row["partner_id"] for row in (r.get("data") or {}).get("partners") or []
                        if isinstance(row, dict) and row.get("partner_id")]
                       for n, _a, r in results if n == "list_dormant_partners" and r.get("ok")), [])
        proposed = proposal_after(decision, role, listed, dialogue.focus)
        if proposed is not None:
            name = names.get(proposed.partner_ids[0], "") if proposed.partner_ids else ""
            what = assets.answers()["proposal"].get(proposed.intent)
            if what and (name or "{name}" not in what):
                parts.append(t("propose", what=what.format(name=name)))
                meta["proposed"] = proposed.model_dump(exclude_defaults=True)
    if ok_results:
        parts.append(t("as_of", as_of=as_of))
    return "\n\n".join(p for p in parts if p), meta


def clarify(decision: Decision, names: dict[str, str], directory_sample: list[str]) -> tuple[str, dict[str, Any]]:
    meta: dict[str, Any] = {"intents": decision.intents, "confidence": round(decision.confidence, 3),
                            "clarify": decision.clarify}
    if decision.pending is not None:
        pending = decision.pending.model_copy(update={"names": [names.get(c, c) for c in decision.pending.candidates]})
        meta["pending"] = pending.model_dump(exclude_defaults=True)
    if decision.clarify == "ambiguous":
        text = t("clarify_ambiguous", candidates=" or ".join(
            f"{names.get(c, c)} ({c})" for c in decision.candidates))
    elif decision.clarify == "which_reading":
        text = t("clarify_which_reading", first=reading(decision.readings[0]), second=reading(decision.readings[1]))
    elif decision.clarify == "confirm_write":
        partner = f" for {names[decision.candidates[0]]}" if decision.candidates and decision.candidates[0] in names \
            else ""
        pending_text = decision.pending.text if decision.pending and decision.pending.text else ""
        text = t("clarify_confirm_write", partner=partner, text=" ".join(pending_text.split())[:200])
    else:
        examples = f", for example {', '.join(directory_sample[:3])}" if directory_sample else ""
        text = t("clarify_which_partner", examples=examples)
    return text, meta


__all__ = ["ProposedStep", "clarify", "compose", "num"]
