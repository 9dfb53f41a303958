"""The conversation's dialogue state: what a follow-up can refer to. Kept in the graph state (`State.dialogue`) and so
checkpointed with the thread; small and typed, never whole tool results.

It is derived after every turn from that turn's tool results (whatever model chose the tools) and from the offline
planner's own note on its answer (a pending clarification, a proposed next step), so "the second one" means row two
of the list the user last saw, "why?" explains the previous answer, and "ok do that" runs the step just proposed.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from pydantic import BaseModel, Field, ValidationError

# Tools whose result is a list of partners a follow-up can point into ("the second one").
LIST_TOOLS = {"list_dormant_partners", "list_growth_partners", "list_partners", "find_partner", "compare_partners"}
MAX_FOCUS = 5


class ListShown(BaseModel):
    tool: str
    partner_ids: list[str]
    names: list[str]


class PlanShown(BaseModel):
    partner_id: str
    next_milestone: str | None = None
    overdue: list[str] = Field(default_factory=list)


class Pending(BaseModel):
    """A question the assistant asked and the answer it waits for."""

    kind: Literal["which_partner", "ambiguous", "which_reading", "confirm_write"]
    intents: list[str] = Field(default_factory=list)  # the intent(s) waiting; two named readings for which_reading
    candidates: list[str] = Field(default_factory=list)  # partner ids offered
    names: list[str] = Field(default_factory=list)  # their names, in the same order
    text: str | None = None  # for confirm_write: the statement to record


class ProposedStep(BaseModel):
    """The next step the assistant offered at the end of its answer ("want me to ...?")."""

    intent: str
    partner_ids: list[str] = Field(default_factory=list)
    text: str | None = None  # for a write: the user's statement to record


class LastAnswer(BaseModel):
    intents: list[str]
    tools: list[str]
    partner_ids: list[str] = Field(default_factory=list)
    explained: bool = False  # it was already the explanation of the answer before it


class DialogueState(BaseModel):
    focus: list[str] = Field(default_factory=list)  # partner ids in focus, most recent first
    last_list: ListShown | None = None
    last_gaps: list[str] = Field(default_factory=list)  # gap keys of the last diagnosis, top gap first
    last_plan: PlanShown | None = None
    pending: Pending | None = None
    proposed: ProposedStep | None = None
    last: LastAnswer | None = None
    topic: str | None = None  # the action the last answer put to the user ("register the first deal")
    milestone: str | None = None  # the plan milestone the conversation last named ("did one" = that one)
    call_list: list[str] = Field(default_factory=list)  # the last call list shown ("if none of them hears from me")
    statement: str | None = None  # the last progress statement recorded (a repeat is the same fact)
    turns: int = 0

    @classmethod
    def load(cls, raw: Any) -> DialogueState:
        """From the graph state (a dict after a checkpoint round trip); a malformed value starts afresh."""
        if isinstance(raw, DialogueState):
            return raw
        if isinstance(raw, dict):
            try:
                return cls.model_validate(raw)
            except ValidationError:
                return cls()
        return cls()

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)


def _parse(message: ToolMessage) -> dict[str, Any]:
    try:
        parsed = json.loads(message.content) if isinstance(message.content, str) else {}
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _rows(tool: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    key = "matches" if tool == "find_partner" else "partners"
    rows = data.get(key)
    return [r for r in rows if isinstance(r, dict) and r.get("partner_id")] if isinstance(rows, list) else []


def turn_results(turn: list[BaseMessage]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(tool, args, parsed result) of each tool call answered in a turn, in order."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    out: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for m in turn:
        if isinstance(m, AIMessage):
            for c in m.tool_calls:
                calls[c["id"] or ""] = (c["name"], c["args"])
        elif isinstance(m, ToolMessage) and m.tool_call_id in calls:
            name, args = calls[m.tool_call_id]
            out.append((name, args, _parse(m)))
    return out


def _topic_of(tool: str, data: dict[str, Any]) -> str | None:
    """What the result asks the user to do next, in its own words (for "how do I do that?")."""
    if tool == "get_nudges":
        nudges = [n for n in data.get("nudges") or [] if isinstance(n, dict)]
        return str(nudges[0].get("next_step") or "") if nudges else None
    if tool == "get_activation_plan":
        nxt = data.get("next_milestone")
        return f"{nxt.get('title', '')}: {nxt.get('next_step', '')}" if isinstance(nxt, dict) else None
    if tool == "diagnose_gtm_gaps":
        top = data.get("top_gap")
        return f"{top.get('label', '')} {'; '.join(top.get('missing') or [])}" if isinstance(top, dict) else None
    return None


def planner_note(turn: list[BaseMessage]) -> dict[str, Any]:
    """The offline planner's note on this turn's answer (absent when an LLM answered)."""
    for m in reversed(turn):
        if isinstance(m, AIMessage) and not m.tool_calls:
            note = m.additional_kwargs.get("planner")
            return note if isinstance(note, dict) else {}
    return {}


def advance(state: DialogueState, turn: list[BaseMessage], role: str, user_text: str = "") -> DialogueState:
    """The dialogue state after a turn: what it showed, asked and proposed."""
    from readiness.plans import milestone_from_text

    new = state.model_copy(deep=True)
    new.turns += 1
    new.milestone = milestone_from_text(user_text) or new.milestone
    results = turn_results(turn)
    note = planner_note(turn)
    focus: list[str] = []
    for tool, args, result in results:
        if tool in {"record_readiness_signal", "update_milestone"} and result.get("ok"):
            new.statement = str(args.get("evidence") or user_text or "")[:300] or new.statement
        if not result.get("ok"):
            continue
        data = result.get("data") or {}
        if not isinstance(data, dict):
            continue
        rows = _rows(tool, data)
        if tool in LIST_TOOLS and rows:
            new.last_list = ListShown(tool=tool, partner_ids=[r["partner_id"] for r in rows][:25],
                                      names=[str(r.get("name", "")) for r in rows][:25])
            if tool == "compare_partners":
                focus += [r["partner_id"] for r in rows]
            if tool == "list_dormant_partners":
                new.call_list = [r["partner_id"] for r in rows][:25]
        elif data.get("partner_id") and role != "partner":
            focus.append(str(data["partner_id"]))
        if tool == "diagnose_gtm_gaps":
            gaps = [g.get("gap") for g in data.get("gaps") or [] if isinstance(g, dict)]
            top = (data.get("top_gap") or {}).get("gap")
            new.last_gaps = [g for g in dict.fromkeys([top, *gaps]) if g]
        topic = _topic_of(tool, data)
        if topic:
            new.topic = topic[:200]
        if tool == "get_activation_plan" and data.get("partner_id"):
            nxt = data.get("next_milestone") or {}
            new.last_plan = PlanShown(
                partner_id=str(data["partner_id"]), next_milestone=nxt.get("key") if isinstance(nxt, dict) else None,
                overdue=[m.get("key") for m in data.get("milestones") or [] if isinstance(m, dict)
                         and m.get("status") == "overdue" and m.get("key")])
    if note.get("focus") and role != "partner":
        focus = [*focus, *note["focus"]]
    if focus:
        new.focus = list(dict.fromkeys([*focus, *new.focus]))[:MAX_FOCUS]
    new.pending = Pending.model_validate(note["pending"]) if note.get("pending") else None
    new.proposed = ProposedStep.model_validate(note["proposed"]) if note.get("proposed") else None
    intents = note.get("intents") or []
    if results or intents:
        new.last = LastAnswer(intents=list(intents), tools=[t for t, _a, _r in results],
                              partner_ids=list(dict.fromkeys(focus)), explained=bool(note.get("explained")))
    return new
