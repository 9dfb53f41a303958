"""An LLM endpoint that hangs, throttles, fails, writes garbage or never stops calling tools: every turn still
answers within the turn's time budget, is marked fallback with the reason, leaves a consistent checkpoint, and the
next turn on the same thread works. The endpoint is tests/fake_llm.py on 127.0.0.1, started here."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agent.budget import MAX_TOOL_ROUNDS, RECURSION_LIMIT
from agent.written_calls import not_an_answer, written_calls
from tests.fake_llm import ANSWER, FakeLLM

BUDGET_S = 3.0
SLACK_S = 3.0  # the offline planner's own answer (intent model, tools) after the budget


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    from readiness.settings import get_settings

    server = FakeLLM()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("PARTNERPILOT_TURN_BUDGET_S", str(BUDGET_S))
    monkeypatch.setenv("PARTNERPILOT_LLM_TIMEOUT_S", "30")  # longer than the budget: the budget must win
    monkeypatch.setenv("PARTNERPILOT_LLM_MAX_RETRIES", "2")
    monkeypatch.setenv("PARTNERPILOT_LLM_CONTEXT_TOKENS", "128000")  # the setting: no context fallback
    get_settings.cache_clear()
    yield server
    server.close()
    get_settings.cache_clear()


def _consistent(state: dict[str, Any]) -> None:
    """Each user message is followed by exactly one answer; every tool call has its result."""
    messages = state["messages"]
    answers_per_turn: list[int] = []
    for m in messages:
        if isinstance(m, HumanMessage):
            answers_per_turn.append(0)
        elif isinstance(m, AIMessage) and not m.tool_calls:
            answers_per_turn[-1] += 1
    assert answers_per_turn and all(n == 1 for n in answers_per_turn), answers_per_turn
    assert isinstance(messages[-1], AIMessage) and not messages[-1].tool_calls and str(messages[-1].content).strip()
    calls = {c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    results = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    assert calls == results


def _timed(say: Any, text: str) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    r = say(text)
    return r, time.perf_counter() - started


@pytest.mark.parametrize(("mode", "reason"), [
    ("hang", "time_budget"), ("429", "error"), ("500", "error"), ("malformed", "error"), ("cut", "error"),
    ("endless", "tool_rounds"), ("echo", "not_an_answer"),
])
def test_a_faulty_llm_turn_answers_within_the_budget_marked_and_the_next_turn_works(
    chat: Any, fake: FakeLLM, mode: str, reason: str,
) -> None:
    say = chat("partner", "p-004", thread=f"fault-{mode}", provider="openai")
    fake.mode = mode
    r, took = _timed(say, "what's my readiness score?")
    print(f"\n{mode}: answered in {took:.2f} s after {fake.calls} LLM call(s), {r['fallback_reason']}")
    assert took < BUDGET_S + SLACK_S, f"{mode}: {took:.1f}s"
    assert r["fallback"] is True and r["fallback_reason"] == reason, (r["fallback_reason"], r["answer"][:200])
    assert "/100" in r["answer"], r["answer"]  # the planner answered from the score
    _consistent(r["state"])
    if mode in ("429", "500"):
        assert fake.calls == 3, "one call and two bounded retries, not six"
    if mode == "endless":
        # The model called tools MAX_TOOL_ROUNDS times, was asked once more without tools, and its call was dropped.
        assert fake.calls == MAX_TOOL_ROUNDS + 1
        llm_rounds = [m for m in r["state"]["messages"] if isinstance(m, AIMessage) and m.tool_calls]
        assert len(llm_rounds) <= RECURSION_LIMIT // 2
    fake.mode = "answer"
    r2 = say("and what should I do next?")
    assert r2["fallback"] is False and r2["answer"] == ANSWER
    _consistent(r2["state"])


def test_a_hung_llm_costs_one_budget_not_calls_times_timeouts(chat: Any, fake: FakeLLM) -> None:
    """Before: 6 calls × 30 s = 183 s per turn. Now the hung call gets the budget as its timeout, and the rest of
    the turn goes to the planner without asking the LLM again."""
    say = chat("pam", "pam-02", thread="hang", provider="openai")
    fake.mode = "hang"
    r, took = _timed(say, "Which dormant partners should I call this week?")
    print(f"\nhung LLM, budget {BUDGET_S:g} s: the turn answered in {took:.2f} s after {fake.calls} LLM call(s)")
    assert BUDGET_S - 0.5 < took < BUDGET_S + SLACK_S
    assert fake.calls == 1 and r["fallback_reason"] == "time_budget"
    assert [c["name"] for c in r["calls"]] == ["list_dormant_partners"]


def test_a_tool_call_written_as_text_becomes_a_real_call(chat: Any, fake: FakeLLM) -> None:
    say = chat("partner", "p-004", thread="qwen", provider="openai")
    fake.mode = ["text_call", "answer"]
    r = say("what's my readiness score?")
    assert r["fallback"] is False and r["answer"] == ANSWER
    assert [c["name"] for c in r["calls"]] == ["get_readiness_score"]
    assert r["results"][0]["ok"] is True and r["results"][0]["data"]["partner_id"] == "p-004"
    _consistent(r["state"])


def test_a_written_call_of_a_tool_the_role_may_not_use_is_not_run(chat: Any, fake: FakeLLM) -> None:
    say = chat("partner", "p-004", thread="notmine", provider="openai")
    fake.mode, fake.text = "say", '{"name": "list_dormant_partners", "arguments": {"limit": 5}}'
    r = say("what's my readiness score?")
    assert r["fallback"] is True and r["fallback_reason"] == "not_an_answer"
    assert "list_dormant_partners" not in [c["name"] for c in r["calls"]]
    _consistent(r["state"])


# ---- recorded outputs of small models (evals/cassettes, Qwen2.5-Coder-1.5B) -----------------------------------

RECORDED_CALLS = [
    ('<tool_call>{"name": "get_readiness_score", "arguments": {}}</tool_call>', "get_readiness_score", {}),
    ('{"name": "get_readiness_score", "arguments": {"partner": "p-044"}}', "get_readiness_score",
     {"partner": "p-044"}),
    ('{"name": "explain_score", "arguments": {"partner": "p-026"}}\n```\nYarrow Networks has a readiness score of '
     '30.3, which falls in Tier 4.', "explain_score", {"partner": "p-026"}),
    ('{"name": "get_nudges", "arguments": {"partner": "p-004"}}\n', "get_nudges", {"partner": "p-004"}),
    ('Sure.\n```json\n{"name": "get_nudges", "arguments": {}}\n```', "get_nudges", {}),
    ('{"type": "function", "function": {"name": "get_nudges", "arguments": "{\\"partner\\": \\"p-004\\"}"}}',
     "get_nudges", {"partner": "p-004"}),
]


@pytest.mark.parametrize(("text", "name", "args"), RECORDED_CALLS)
def test_recorded_written_calls_parse_as_calls(text: str, name: str, args: dict[str, Any]) -> None:
    calls = written_calls(text)
    assert [(c.name, c.args) for c in calls] == [(name, args)]
    assert not_an_answer(text)


@pytest.mark.parametrize("text", [
    '<tool_response>\n{"ok": true, "data": {"partner_id": "p-014", "name": "Vantage Networks", "score": 36.6}}',
    'Here you go: {"ok": true, "data": {"score": 63.9}}',
    "get_activation_plan(partner='p-031')",
])
def test_echoed_results_and_code_calls_are_not_answers_and_not_calls(text: str) -> None:
    assert not_an_answer(text) and written_calls(text) == []


@pytest.mark.parametrize("text", [
    "Your score is 64/100 (Tier 2); the weakest area is engagement.",
    "Use the deal-registration playbook [deal-registration] first.",
    "Register one deal this month: that moves your pipeline activity (see the {deal-registration} playbook).",
])
def test_prose_is_an_answer(text: str) -> None:
    assert not_an_answer(text) is None and written_calls(text) == []


def test_the_graph_runs_with_an_explicit_small_recursion_limit() -> None:
    from agent.graph import build_graph

    assert build_graph().config["recursion_limit"] == RECURSION_LIMIT < 25
    assert json.dumps(RECURSION_LIMIT)


def test_a_streamed_turn_never_shows_a_written_call_and_ends_with_the_answer(chat: Any, fake: FakeLLM) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from agent.context import Context
    from agent.graph import build_graph
    from server.turns import stream_turn
    from tests.conftest import AGENT_AS_OF

    chat("partner", "p-004")  # a fresh store as the process's services
    graph = build_graph(checkpointer=InMemorySaver())
    ctx = Context(role="partner", principal_id="p-004", as_of=AGENT_AS_OF, provider="openai", model="test-model")
    for mode in ("echo", "text_call"):
        fake.mode = [mode, "answer"] if mode == "text_call" else mode
        events = list(stream_turn(graph, ctx, f"s-{mode}", "partner:p-004", "what's my readiness score?"))
        tokens = "".join(e.text or "" for e in events if e.type == "token")
        answer = [e.text or "" for e in events if e.type == "message"][-1]
        assert "tool_" not in tokens and "{" not in tokens, tokens
        assert tokens.strip() == answer.strip()
        assert (answer == ANSWER) is (mode == "text_call") and events[-1].fallback is (mode == "echo")
