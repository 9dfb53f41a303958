"""From a decision to tool calls: which tools each step calls, in order, and with which arguments.

Stateless within a turn: every call of the planner re-derives the same plan from the message and the dialogue state,
then issues the first call not yet answered. Arguments that depend on an earlier result of the turn (the playbook
query for the gap just diagnosed) read it from the results so far.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage

from agent.planner import assets
from agent.planner.dialogue import DialogueState
from agent.planner.policy import Decision, Step, rejects
from agent.planner.understand import Interpretation
from readiness.plans import milestone_from_text

# Tools whose `partner` argument names the subject (omitted for a partner principal: it is always itself).
PARTNER_TOOLS = {
    "get_readiness_score", "explain_score", "diagnose_gtm_gaps", "get_activation_plan", "update_milestone",
    "record_readiness_signal", "get_pipeline_summary", "get_revenue_impact", "get_nudges",
}
MAX_CALLS = 8
_THAT = re.compile(r"\b(that|this|it|those)\b", re.I)
_THAT_ONE = re.compile(r"\b(that|this|it|one|them)\b", re.I)
COMPLETED = re.compile(r"\b(finish(ed)?|done|did|complete(d)?|wrapped|wr[io]te|written|rewr[io]te|deliver(ed)?|"
                        r"held|ran|hosted|"
                        r"publish(ed)?|register(ed)?|closed|signed|launch(ed)?|shipped|built|created|drafted|"
                        r"submitted|booked|had|got|tick(ed)? off|nailed|landed|won)\b", re.I)
Result = tuple[str, dict[str, Any], dict[str, Any]]


@dataclass
class PlannedCall:
    step: int  # index of the step it serves
    tool: str
    partner: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


def split_turn(messages: list[BaseMessage]) -> tuple[str, list[BaseMessage], list[BaseMessage]]:
    """(latest user text, history before it, messages of the current turn after it)."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            content = messages[i].content
            text = content if isinstance(content, str) else " ".join(str(c) for c in content)
            return text, messages[:i], messages[i + 1 :]
    return "", messages, []


def steps_for(intent: str, role: str) -> list[str]:
    steps = assets.intents().get(intent, {}).get("steps", [])
    if isinstance(steps, dict):
        steps = steps.get(role) or steps.get("pam") or []
    return list(steps)


def milestone_of(step: Step, interp: Interpretation, dialogue: DialogueState | None) -> str | None:
    """The plan milestone a statement names, or the one the conversation was about when it says "it"/"one"."""
    text = step.text or interp.text
    key = milestone_from_text(text)
    if key is None and dialogue is not None and dialogue.milestone and _THAT_ONE.search(text):
        key = dialogue.milestone
    return key


def tools_of(step: Step, role: str, interp: Interpretation, dialogue: DialogueState | None = None) -> list[str]:
    """The tools one step calls. Mostly the intent's steps; a few depend on the message."""
    e = interp.entities
    if step.intent == "list_partners":
        f = e.filters
        if f.dormant and not (f.stage or f.tier or f.outlook or f.stalled):
            return ["list_dormant_partners"]  # how many dormant: the call list knows the dormant total
        return ["list_partners"]
    if step.intent == "report_progress":
        # A partner finishing something the plan names claims that milestone; anything else, and whatever a PAM
        # reports (a PAM confirms milestones only when asked to), is a readiness signal.
        text = step.text or interp.text
        claim = role == "partner" and milestone_of(step, interp, dialogue) and COMPLETED.search(text)
        return ["update_milestone" if claim else "record_readiness_signal"]
    if step.intent == "revenue_impact" and step.mode == "list":
        return ["list_dormant_partners"]
    if step.intent == "biggest_gap" and step.mode == "why":
        return ["diagnose_gtm_gaps"]
    if step.intent == "greeting" and role == "partner":
        return ["get_readiness_score", "get_activation_plan", "get_nudges"]
    return steps_for(step.intent, role)


def _dimension(step: Step, interp: Interpretation) -> str | None:
    """The readiness dimension a progress statement is evidence of: a vocabulary phrase it contains, else the
    phrase closest in meaning."""
    from agent.planner.classifier import get_model
    from agent.planner.entities import extract_topic

    text = step.text or interp.text
    topic = extract_topic(text)
    if topic.dimension:
        return topic.dimension
    return get_model().nearest_dimension(text) or interp.entities.dimension


def plan_calls(decision: Decision, role: str, interp: Interpretation,
               dialogue: DialogueState | None = None) -> list[PlannedCall]:
    calls: list[PlannedCall] = []
    for k, step in enumerate(decision.steps):
        tools = tools_of(step, role, interp, dialogue)
        if step.intent == "compare":
            calls.append(PlannedCall(step=k, tool="compare_partners", args={"partners": step.partners[:3]}))
            continue
        subjects: list[str | None] = list(step.partners[:3]) or [None]
        for subject in subjects:
            for tool in tools:
                calls.append(PlannedCall(step=k, tool=tool, partner=subject if tool in PARTNER_TOOLS else None))
    seen: set[str] = set()
    unique = []
    for c in calls:  # one call per tool and partner in a turn, even when two parts need it
        key = json.dumps([c.tool, c.partner, c.args], sort_keys=True)
        if key not in seen or c.tool == "search_playbooks":
            seen.add(key)
            unique.append(c)
    return unique[:MAX_CALLS]


def call_args(call: PlannedCall, decision: Decision, interp: Interpretation, done: list[Result],
              dialogue: DialogueState, role: str) -> dict[str, Any]:
    step = decision.steps[call.step]
    args: dict[str, Any] = dict(call.args)
    if call.tool in PARTNER_TOOLS and call.partner and role != "partner":
        args["partner"] = call.partner
    elif call.tool in PARTNER_TOOLS and call.partner and role == "partner":
        args["partner"] = call.partner  # another partner's name: the tool refuses it
    text = step.text or interp.text
    e = interp.entities
    if call.tool == "search_playbooks":
        gap = e.gap
        query = text
        for name, _a, res in done:
            if name == "diagnose_gtm_gaps" and res.get("ok"):
                top = (res.get("data") or {}).get("top_gap") or {}
                if top.get("gap"):
                    gap = top["gap"]
                    query = f"{top.get('label', gap)} {'; '.join(top.get('missing') or [])}".strip()
        if step.row is not None:
            for name, _a, res in done:
                gaps = ((res.get("data") or {}).get("gaps") or []) if name == "diagnose_gtm_gaps" else []
                k = step.row - 1 if step.row > 0 else len(gaps) + step.row
                if 0 <= k < len(gaps):
                    gap = gaps[k].get("gap")
                    query = f"{gaps[k].get('label', gap)} {'; '.join(gaps[k].get('missing') or [])}".strip()
        if gap is None and (e.reference == "one" or _THAT.search(text)) and dialogue.last_gaps:
            gap = dialogue.last_gaps[0]  # "show me the playbook for it"
        if _THAT.search(text) and dialogue.topic and len(text.split()) <= 8:
            query = dialogue.topic  # "how do I do that": the thing the last answer asked of them
        args["query"] = query[:300]
        if gap:
            args["gap"] = gap
    elif call.tool == "list_dormant_partners" or call.tool == "list_growth_partners":
        args["limit"] = e.limit or 5
    elif call.tool == "list_partners":
        f = e.filters
        for key in ("segment", "outlook", "tier", "stage", "stalled"):
            value = getattr(f, key)
            if value is not None:
                args[key] = value
        if e.limit:
            args["limit"] = e.limit
    elif call.tool == "update_milestone":
        key = milestone_of(step, interp, dialogue)
        args["milestone"] = key or text[:300]
        if role == "partner":
            args["status"] = "done"
        else:
            args["status"] = "rejected" if rejects(text) else "confirmed" if step.intent == "confirm_milestone" \
                else "done"
    elif call.tool == "record_readiness_signal":
        args["dimension"] = _dimension(step, interp) or "engagement"
        args["level"] = e.level if e.level in {"low", "medium", "high"} else "high"
        args["evidence"] = text[:500]
    elif call.tool == "find_partner":
        from agent.planner.entities import name_query

        wanted = [step.text] if step.then else e.unknown_names[:1] or [name_query(interp.text)]
        args["query"] = wanted[0][:100]
    elif call.tool == "decline_request":
        args["reason"] = "escalation" if step.intent == "escalation" else "out_of_scope"
    return args


def new_call(tool: str, args: dict[str, Any], salt: str) -> dict[str, Any]:
    """A tool call with an id derived from where it is made (`salt`: position and text of the conversation), so
    the same conversation always yields the same ids: stable transcripts and replayable LLM requests."""
    digest = hashlib.sha256(json.dumps([salt, tool, args], sort_keys=True, default=str).encode()).hexdigest()
    return {"name": tool, "args": args, "id": f"call_{digest[:24]}", "type": "tool_call"}
