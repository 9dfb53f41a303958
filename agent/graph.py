"""The PartnerPilot graph: guard → model ⇄ tools → finish.

The guard enforces input limits in code; tools enforce scope in code; the model (offline planner or an LLM)
only chooses which tools to call and phrases the answer. When the LLM endpoint fails for a turn, the offline
planner answers that turn instead and the turn is marked `fallback`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage, trim_messages
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime

from agent.budget import MAX_TOOL_ROUNDS, RECURSION_LIMIT, BudgetExhausted, call_within
from agent.compaction import compact_earlier_turns
from agent.context import Context
from agent.models import directory_of, llm_attempts, llm_for, offline_planner
from agent.planner.turn import new_call
from agent.prompts import principal_prompt, system_prompt
from agent.services import get_services
from agent.state import State
from agent.tools import ALL_TOOLS, tools_for
from agent.turn_memo import remembered, turn_of
from agent.written_calls import not_an_answer, written_calls
from readiness.models import Pam, Partner
from readiness.scope import PartnerRef, Principal, visible_partners
from readiness.settings import get_settings

log = structlog.get_logger(__name__)
# Tool schemas sent with every call (measured by tests/test_agent_offline.py's budget test: under 1,800).
TOOL_SCHEMA_TOKENS = 1800
# Counts are o200k_base; other models' tokenizers (Qwen, Llama) spend up to ~15% more on the same JSON.
TOKENIZER_MARGIN = 0.85


def _text(message: BaseMessage) -> str:
    c = message.content
    return c if isinstance(c, str) else " ".join(str(x) for x in c)


def _current_turn(messages: list[BaseMessage]) -> list[BaseMessage]:
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return messages[i + 1 :]
    return list(messages)


def guard(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Input guardrails in code, before any model sees the message: the size limit, and off-topic or
    role-escalation requests, which are declined through `decline_request` whatever model runs. Earlier turns'
    tool results are compacted first (agent.compaction), so each turn's checkpoint stays small."""
    compact = compact_earlier_turns(state.get("messages") or [])
    fresh: dict[str, Any] = {"refused": False, "fallback": False, "fallback_reason": None, "llm_seconds": 0.0,
                             "messages": compact}
    limit = get_settings().max_input_chars
    last = state["messages"][-1] if state.get("messages") else None
    if not isinstance(last, HumanMessage):
        return fresh
    if len(_text(last)) > limit:
        msg = (f"Your message is {len(_text(last)):,} characters long; the limit is {limit:,}. "
               "Please send a shorter question.")
        answer = AIMessage(content=msg, additional_kwargs={"refused": True, "guard": "oversize"})
        return {**fresh, "refused": True, "messages": [*compact, answer]}
    reason = declined_intent(_text(last), runtime.context, state.get("dialogue"), turn=last.id)
    if reason:
        call = new_call("decline_request", {"reason": reason}, salt=f"{len(state['messages'])}:{_text(last)}")
        return {**fresh, "messages": [*compact, AIMessage(content="", tool_calls=[call],
                                                          additional_kwargs={"guard": reason})]}
    return fresh


def declined_intent(text: str, ctx: Context, dialogue: dict[str, Any] | None = None, turn: str | None = None
                    ) -> str | None:
    """'escalation' when the message names a partner outside the principal's scope or asks to change role or
    instructions; 'out_of_scope' when it is off-topic (agent.planner.screen decides)."""
    from agent.planner.dialogue import DialogueState
    from agent.planner.screen import declined_intent as screen

    directory = directory_of(ctx, turn)
    outsiders: list[PartnerRef] = []
    if ctx.role != "leader":
        def read_everyone() -> list[PartnerRef]:
            with get_services().session() as s:
                return visible_partners(s, Principal(role="leader", id="*"))

        everyone = remembered(turn, ctx, "everyone", read_everyone)
        visible = {r.partner_id for r in directory}
        outsiders = [r for r in everyone if r.partner_id not in visible]
    return screen(text, ctx.role, directory, outsiders, ctx.as_of, DialogueState.load(dialogue), ctx.principal_id)


def after_guard(state: State) -> str:
    last = state["messages"][-1]
    if isinstance(last, AIMessage) and last.tool_calls:
        return "tools"
    return "end" if state.get("refused") else "model"


def _count_tokens(messages: list[BaseMessage]) -> int:
    from knowledge.tokens import count_tokens

    return sum(count_tokens(_text(m)) + 4 + count_tokens(json.dumps(getattr(m, "tool_calls", []) or []))
               for m in messages)


def trimmed(messages: list[BaseMessage]) -> list[BaseMessage]:
    """The current turn whole, plus the newest earlier turns that fit the token budget. Earlier turns are cut at a
    user message, so a tool call is never separated from its result."""
    current = _current_turn(messages)
    start = len(messages) - len(current) - 1  # the current user message
    if start < 0:
        return list(messages)
    earlier, now = messages[:start], messages[start:]
    budget = get_settings().history_token_budget - _count_tokens(now)
    if budget <= 0 or not earlier:
        return now
    kept = trim_messages(earlier, max_tokens=budget, strategy="last", token_counter=_count_tokens,
                         start_on="human", allow_partial=False)
    return [*kept, *now]


def _system(ctx: Context) -> list[SystemMessage]:
    with get_services().session() as s:
        if ctx.role == "partner":
            p = s.get(Partner, ctx.principal_id)
            values = {"partner_name": p.name if p else ctx.principal_id}
        else:
            pam = s.get(Pam, ctx.principal_id)
            values = {"pam_name": pam.name if pam else ctx.principal_id}
    who = principal_prompt(ctx.role, principal_id=ctx.principal_id, as_of=ctx.as_of.isoformat(), **values)
    return [SystemMessage(content=system_prompt(ctx.role)), SystemMessage(content=who)]


def call_model(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    messages = list(state["messages"])
    # The planner reads only the current turn and its own earlier answers' metadata: it gets everything.
    # An LLM gets the newest messages within the token budget.
    if ctx.provider != "openai":
        return {"messages": [offline_planner(ctx, state.get("dialogue"), turn_of(messages)).invoke(messages)]}
    if state.get("fallback"):
        # The LLM failed or ran out of budget earlier in this turn: the planner finishes the turn, the LLM is not
        # asked again (each retry would spend another timeout).
        return _planner_answer(ctx, messages, state.get("fallback_reason") or "error", state.get("dialogue"))
    history = trimmed(messages)
    rounds = sum(1 for m in _current_turn(history) if isinstance(m, AIMessage) and m.tool_calls)
    settings = get_settings()
    prompt = [*_system(ctx), *history]
    window = settings.llm_context_tokens * TOKENIZER_MARGIN
    if _count_tokens(prompt) + TOOL_SCHEMA_TOKENS + settings.llm_max_tokens > window:
        # The turn's own tool results no longer fit the model's window: answer from them without the LLM.
        return _planner_answer(ctx, messages, "context_budget", state.get("dialogue"))
    # The budget is for LLM time only (not the guard's or the tools'): what earlier calls of this turn spent is gone.
    started = time.time()
    spent = float(state.get("llm_seconds") or 0.0)
    deadline = started + settings.turn_budget_s - spent
    try:
        llm = llm_for(ctx)
        if rounds < MAX_TOOL_ROUNDS:  # after that the model must answer with what it has
            llm = llm.bind_tools(tools_for(ctx.role))  # type: ignore[assignment]
        response = call_within(deadline, llm_attempts(ctx), lambda timeout: llm.invoke(prompt, timeout=timeout),
                               settings.llm_timeout_s)
        if getattr(response, "invalid_tool_calls", None):
            raise ValueError(f"malformed tool call: {response.invalid_tool_calls[0].get('error')}")
        reason = _checked(response, ctx.role, rounds, salt=f"{len(messages)}")
        if isinstance(reason, AIMessage):
            return {"messages": [reason], "llm_seconds": spent + time.time() - started}
    except BudgetExhausted as exc:
        log.warning("llm_budget_fallback_offline", error=str(exc)[:300])
        reason = "time_budget"
    except Exception as exc:  # timeout, 429, 5xx, malformed output: this turn goes to the offline planner
        log.warning("llm_failed_fallback_offline", error=str(exc)[:300])
        reason = "time_budget" if time.time() >= deadline - 0.05 else "error"
    return {**_planner_answer(ctx, messages, reason, state.get("dialogue")),
            "llm_seconds": spent + time.time() - started}


def _checked(response: Any, role: str, rounds: int, salt: str) -> AIMessage | str:
    """The LLM's message when it is a tool call within the round cap or an answer; otherwise why the planner
    answers instead. A tool call written as text becomes a real call when it names a tool the role may use."""
    calls = list(getattr(response, "tool_calls", None) or [])
    text = _text(response).strip()
    if calls and rounds >= MAX_TOOL_ROUNDS:
        # Tools are no longer offered, yet the model called one: drop the calls; its text, if an answer, stands.
        if text and not_an_answer(text) is None:
            return AIMessage(content=response.content, id=response.id,
                             additional_kwargs={**response.additional_kwargs, "dropped_tool_calls": len(calls)})
        return "tool_rounds"
    if calls:
        return response  # type: ignore[no-any-return]
    if not text:
        return "empty_answer"  # a small model sometimes stops without an answer: compose one from the results
    if not_an_answer(text) is None:
        return response  # type: ignore[no-any-return]
    allowed = {t.name for t in tools_for(role)}
    written = [c for c in written_calls(text) if c.name in allowed]
    if written and rounds < MAX_TOOL_ROUNDS:
        real = [new_call(c.name, c.args, salt=f"written:{salt}:{i}:{text}") for i, c in enumerate(written)]
        return AIMessage(content="", tool_calls=real, id=response.id, additional_kwargs={"written_call": True})
    return "tool_rounds" if written else "not_an_answer"


def _planner_answer(ctx: Context, messages: list[BaseMessage], reason: str,
                    dialogue: dict[str, Any] | None) -> dict[str, Any]:
    answer = offline_planner(ctx, dialogue, turn_of(messages)).invoke(messages)
    answer.additional_kwargs["fallback"] = reason
    return {"messages": [answer], "fallback": True, "fallback_reason": reason}


def after_model(state: State) -> str:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "finish"


def _tool_error(exc: Exception) -> str:
    # Argument validation errors are useful to the model; anything else is reported without internals.
    from langgraph.prebuilt.tool_node import ToolInvocationError

    if isinstance(exc, ToolInvocationError):
        return json.dumps({"ok": False, "code": "invalid_arguments", "error": exc.message, "refused": False})
    log.exception("tool_crashed")
    return json.dumps({"ok": False, "code": "internal", "error": "the tool failed; try again", "refused": False})


def finish(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Mark the turn refused when any tool refused on scope or the model declined; advance the dialogue state."""
    from agent.planner.dialogue import DialogueState, advance

    refused = bool(state.get("refused"))
    messages = list(state["messages"])
    turn = _current_turn(messages)
    asked = messages[len(messages) - len(turn) - 1] if len(messages) > len(turn) else None
    user_text = _text(asked) if isinstance(asked, HumanMessage) else ""
    dialogue = advance(DialogueState.load(state.get("dialogue")), turn, runtime.context.role, user_text).dump()
    for m in turn:
        if isinstance(m, ToolMessage) and isinstance(m.content, str):
            try:
                refused = refused or bool(json.loads(m.content).get("refused"))
            except (json.JSONDecodeError, AttributeError):
                continue
    return {"refused": refused, "dialogue": dialogue}


def build_graph(checkpointer: Any = None) -> Any:
    g = StateGraph(State, context_schema=Context)
    g.add_node("guard", guard)
    g.add_node("model", call_model)
    g.add_node("tools", ToolNode(ALL_TOOLS, handle_tool_errors=_tool_error))
    g.add_node("finish", finish)
    g.add_edge(START, "guard")
    g.add_conditional_edges("guard", after_guard, {"model": "model", "tools": "tools", "end": END})
    g.add_conditional_edges("model", after_model, {"tools": "tools", "finish": "finish"})
    g.add_edge("tools", "model")
    g.add_edge("finish", END)
    # An explicit step bound (agent.budget): a turn that loops stops with an error instead of running 25 steps.
    return g.compile(checkpointer=checkpointer, name="partnerpilot").with_config(recursion_limit=RECURSION_LIMIT)


# `langgraph dev` serves this (see langgraph.json); the platform supplies its own checkpointer.
graph = build_graph()
