"""Graph state: the message history plus per-turn flags the clients and the eval judge read."""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    # Set for the latest turn: the agent declined (scope, guardrail, out of scope), and whether the offline
    # planner answered because the LLM endpoint failed.
    refused: bool
    fallback: bool
    # "error": the endpoint failed; "empty_answer": the LLM gave no answer; "context_budget": the turn outgrew
    # the model's context window; "time_budget": the turn's LLM time (Settings.turn_budget_s) ran out;
    # "tool_rounds": the LLM kept calling tools past agent.budget.MAX_TOOL_ROUNDS; "not_an_answer": its final
    # message was a tool call written as text or an echoed tool result. The planner answers from the turn's tool
    # results in all but "error".
    fallback_reason: str | None
    # Seconds the latest turn's LLM calls took so far (reset by the guard): they share Settings.turn_budget_s.
    llm_seconds: float
    # The dialogue state after the latest turn (agent.planner.dialogue.DialogueState as JSON): partners in focus, the
    # last list, gaps and plan shown, a pending question, the proposed next step. Checkpointed with the thread.
    dialogue: dict[str, Any]
