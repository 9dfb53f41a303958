"""One planner decision: given the conversation so far, the next tool call(s) or the final answer.

Stateless: everything is re-derived from the messages (the current turn's tool results and the metadata the
planner left on its earlier answers), so the same graph, checkpoints and replays work as with an LLM.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agent.planner import assets
from agent.planner.router import MIN_CONFIDENCE, get_router
from agent.planner.slots import Slots, extract, name_query
from readiness.scope import PartnerRef

# Tools whose `partner` argument names the subject (omitted for a partner principal: it is always itself).
PARTNER_TOOLS = {
    "get_readiness_score", "explain_score", "diagnose_gtm_gaps", "get_activation_plan", "update_milestone",
    "record_readiness_signal", "get_pipeline_summary", "get_revenue_impact", "get_nudges",
}
# After a list, "the second one" / "why?" means this intent for the chosen partner.
FOLLOW_UP_INTENT = {"call_list": "explain_score", "find_partner": "score", "greeting": "explain_score"}


# Clause boundaries of a multi-part question ("what's my score, and what should I do next?").
_CLAUSES = re.compile(r"\?|;|\band also\b|\band then\b|,\s*and\b|\.\s+|\band (?=what|how|which|why|who)", re.I)
# A clause must route this confidently to add its intent to the turn.
CLAUSE_CONFIDENCE = 0.6
SINGLE_ONLY = {"out_of_scope", "escalation", "greeting"}


@dataclass
class TurnPlan:
    intent: str
    confidence: float
    slots: Slots
    extra_intents: list[str] = field(default_factory=list)
    subject: str | None = None  # partner id or raw mention for the tools
    clarify: str | None = None  # a question to ask instead of calling tools
    candidates: list[str] = field(default_factory=list)


def planner_meta(message: BaseMessage) -> dict[str, Any] | None:
    meta = message.additional_kwargs.get("planner") if isinstance(message, AIMessage) else None
    return meta if isinstance(meta, dict) else None


def split_turn(messages: list[BaseMessage]) -> tuple[str, list[BaseMessage], list[BaseMessage]]:
    """(latest user text, history before it, messages of the current turn after it)."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            content = messages[i].content
            text = content if isinstance(content, str) else " ".join(str(c) for c in content)
            return text, messages[:i], messages[i + 1 :]
    return "", messages, []


def tool_results(turn: list[BaseMessage]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(tool name, args, parsed result) for each tool call answered in this turn, in order."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    out: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for m in turn:
        if isinstance(m, AIMessage):
            for c in m.tool_calls:
                calls[c["id"] or ""] = (c["name"], c["args"])
        elif isinstance(m, ToolMessage) and m.tool_call_id in calls:
            name, args = calls[m.tool_call_id]
            try:
                parsed = json.loads(m.content) if isinstance(m.content, str) else {"ok": False}
            except json.JSONDecodeError:
                parsed = {"ok": False, "error": str(m.content)}
            out.append((name, args, parsed if isinstance(parsed, dict) else {"ok": True, "data": parsed}))
    return out


def last_meta(history: list[BaseMessage]) -> dict[str, Any]:
    for m in reversed(history):
        meta = planner_meta(m)
        if meta is not None:
            return meta
    return {}


def steps_for(intent: str, role: str) -> list[str]:
    steps = assets.intents().get(intent, {}).get("steps", [])
    if isinstance(steps, dict):
        steps = steps.get(role) or steps.get("pam") or []
    return list(steps)


def needs_partner(intent: str, role: str) -> bool:
    return role != "partner" and bool(assets.intents().get(intent, {}).get("needs_partner"))


def plan_turn(text: str, history: list[BaseMessage], role: str, directory: list[PartnerRef]) -> TurnPlan:
    slots = extract(text, directory)
    route = get_router().route(slots.masked(text), role)
    prev = last_meta(history)
    intent, confidence = route.intent, route.confidence
    listed: list[str] = prev.get("list") or []
    names_partner = bool(slots.partner_ids) or slots.foreign_mention is not None
    short = len(text.split()) <= 6

    # Answer to a clarifying question: the pending intent, now with the partner named.
    if prev.get("pending") and (names_partner or slots.ordinal) and (short or confidence < MIN_CONFIDENCE):
        intent = prev["pending"]
    # "and the second one?" after a list: the follow-up intent for that entry.
    elif slots.ordinal is not None and listed and not names_partner and (short or confidence < MIN_CONFIDENCE):
        intent = FOLLOW_UP_INTENT.get(prev.get("intent", ""), prev.get("intent") or "explain_score")
        if intent not in {"explain_score", "score", "biggest_gap", "revenue_impact", "plan"}:
            intent = "explain_score"
    elif confidence < MIN_CONFIDENCE:
        if names_partner and role != "partner":
            intent = prev.get("intent") if needs_partner(prev.get("intent", ""), role) else "score"
        else:
            return TurnPlan(intent="clarify", confidence=confidence, slots=slots, clarify="unclear")

    plan = TurnPlan(intent=intent, confidence=confidence, slots=slots)
    if intent in SINGLE_ONLY - {"greeting"}:
        return plan
    clause_intents = _clause_intents(slots.masked(text), role)
    if len(clause_intents) >= 2:
        plan.intent, plan.extra_intents = clause_intents[0], clause_intents[1:]

    # Which partner the turn is about.
    if slots.ambiguous and role != "partner":
        plan.candidates = slots.partner_ids[:5]
        plan.clarify = "ambiguous"
        return plan
    if slots.partner_ids:
        plan.subject = slots.partner_ids[0]
    elif slots.ordinal is not None and listed:
        idx = slots.ordinal - 1 if slots.ordinal > 0 else len(listed) + slots.ordinal
        if 0 <= idx < len(listed):
            plan.subject = listed[idx]
    elif slots.foreign_mention:
        plan.subject = slots.foreign_mention
    elif prev.get("subject") and role != "partner":
        plan.subject = prev["subject"]
    elif listed and role != "partner" and needs_partner(intent, role) and intent == "explain_score":
        plan.subject = listed[0]
    if role == "partner" and plan.subject in {r.partner_id for r in directory}:
        plan.subject = None  # the partner itself: tools default to the principal
    if any(needs_partner(i, role) for i in [plan.intent, *plan.extra_intents]) and plan.subject is None:
        plan.clarify = "which_partner"
    if "record_signal" in [plan.intent, *plan.extra_intents] and slots.dimension is None:
        plan.clarify = "which_dimension"
    return plan


def _clause_intents(text: str, role: str) -> list[str]:
    parts = [p.strip() for p in _CLAUSES.split(text) if p and len(p.split()) >= 2]
    if len(parts) < 2:
        return []
    found: list[str] = []
    for part in parts:
        route = get_router().route(part, role)
        if route.confidence >= CLAUSE_CONFIDENCE and route.intent not in SINGLE_ONLY and route.intent not in found:
            found.append(route.intent)
    return found


def plan_steps(plan: TurnPlan, role: str) -> list[str]:
    steps: list[str] = []
    for intent in [plan.intent, *plan.extra_intents]:
        steps += [s for s in steps_for(intent, role) if s not in steps]
    return steps


def tool_args(tool: str, plan: TurnPlan, text: str, done: list[tuple[str, dict[str, Any], dict[str, Any]]],
              history: list[BaseMessage], role: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if tool in PARTNER_TOOLS and plan.subject:
        args["partner"] = plan.subject
    if tool == "search_playbooks":
        gap = plan.slots.gap
        query = text
        for name, _a, res in done:
            if name == "diagnose_gtm_gaps" and res.get("ok"):
                top = (res.get("data") or {}).get("top_gap") or {}
                if top.get("gap"):
                    gap = top["gap"]
                    missing = "; ".join(top.get("missing") or [])
                    query = f"{top.get('label', gap)} {missing}".strip()
        if gap is None and len(text.split()) <= 8:
            gap = last_meta(history).get("top_gap")  # "show me the playbook for it"
        args["query"] = query[:300]
        if gap:
            args["gap"] = gap
    elif tool == "list_dormant_partners":
        args["limit"] = plan.slots.limit or 5
    elif tool == "update_milestone":
        args["milestone"] = text[:300]
        if role != "partner":
            rejects = any(w in text.lower() for w in ("reject", "decline", "not done"))
            args["status"] = "rejected" if rejects else "confirmed"
        else:
            args["status"] = "done"
    elif tool == "record_readiness_signal":
        args["dimension"] = plan.slots.dimension
        args["level"] = plan.slots.level or "high"
        args["evidence"] = text[:500]
    elif tool == "find_partner":
        args["query"] = (plan.slots.foreign_mention or name_query(text))[:100]
    elif tool == "decline_request":
        args["reason"] = "escalation" if plan.intent == "escalation" else "out_of_scope"
    return args


def new_call(tool: str, args: dict[str, Any], salt: str) -> dict[str, Any]:
    """A tool call with an id derived from where it is made (`salt`: position and text of the conversation), so
    the same conversation always yields the same ids: stable transcripts and replayable LLM requests."""
    digest = hashlib.sha256(json.dumps([salt, tool, args], sort_keys=True, default=str).encode()).hexdigest()
    return {"name": tool, "args": args, "id": f"call_{digest[:24]}", "type": "tool_call"}
