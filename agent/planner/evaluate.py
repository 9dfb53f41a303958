"""Measuring an understander on the scenario suites' `intents` labels (docs/EVALS.md), through the real graph so that
follow-ups are read with the dialogue state they have in a conversation.

A turn counts as correct when the intents the planner acted on (its answer's note) are the reader's labels; `first`
counts turns whose first acted-on intent is among the labels. Any `Understander` can be plugged in.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class IntentTurn(BaseModel):
    scenario: str
    turn: int
    labels: list[str]
    predicted: list[str]


class IntentScores(BaseModel):
    understander: str
    turns: int
    exact: float  # the acted-on intents are exactly the labels
    first: float  # the first acted-on intent is one of the labels
    per_label: dict[str, float]
    confusions: list[tuple[str, str, int]] = Field(default_factory=list)
    misses: list[IntentTurn] = Field(default_factory=list)


def _acted_on(new: list[Any]) -> list[str]:
    from langchain_core.messages import AIMessage

    for m in reversed(new):
        if isinstance(m, AIMessage) and not m.tool_calls:
            note = m.additional_kwargs.get("planner") or {}
            return list(note.get("intents") or [])
    # Declined by the input guard: the turn ends on the refusal, which is what it was read as.
    for m in new:
        if isinstance(m, AIMessage) and m.additional_kwargs.get("guard"):
            return [str(m.additional_kwargs["guard"])]
    return []


def label_accuracy(scenario_dirs: list[Path], understander: Any = None) -> IntentScores:
    from langchain_core.messages import HumanMessage
    from langgraph.checkpoint.memory import InMemorySaver

    from agent.context import Context
    from agent.graph import build_graph
    from agent.planner import understand
    from agent.services import configure
    from evals.runner import StoreCache
    from evals.scenario import load_scenarios
    from knowledge.index import build_index
    from knowledge.retriever import KnowledgeBase
    from readiness.db import init_db, make_engine
    from readiness.settings import get_settings

    previous = understand._understander
    if understander is not None:
        understand._understander = understander
    scenarios, _errors = load_scenarios(scenario_dirs)
    build_index()
    kb = KnowledgeBase()
    cache = StoreCache(get_settings().home / "eval-cache")
    turns: list[IntentTurn] = []
    try:
        with tempfile.TemporaryDirectory(prefix="pp-intents-") as tmp:
            for sc in scenarios:
                if not any(t.expect.intents for t in sc.turns):
                    continue
                db = cache.fresh_copy(sc.dataset_path, Path(tmp) / f"{sc.id}.db")
                engine = make_engine(f"sqlite:///{db}")
                init_db(engine)
                configure(engine, knowledge=kb)
                graph = build_graph(checkpointer=InMemorySaver())
                ctx = Context(role=sc.principal.role, principal_id=sc.principal.id, as_of=sc.as_of,
                              provider="offline", model="offline")
                config = {"configurable": {"thread_id": sc.id}, "recursion_limit": 25}
                try:
                    for k, turn in enumerate(sc.turns):
                        before = len(graph.get_state(config).values.get("messages", [])) if k else 0
                        state = graph.invoke({"messages": [HumanMessage(content=turn.user)]}, config=config,
                                             context=ctx)
                        if turn.expect.intents:
                            turns.append(IntentTurn(scenario=sc.id, turn=k + 1, labels=list(turn.expect.intents),
                                                    predicted=_acted_on(state["messages"][before + 1 :])))
                finally:
                    engine.dispose()
    finally:
        understand._understander = previous
    return _scores(turns, getattr(understander or understand.get_understander(), "name", "classifier"))


def share(values: list[bool]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _scores(turns: list[IntentTurn], name: str) -> IntentScores:
    exact = [set(t.predicted) == set(t.labels) for t in turns]
    first = [bool(t.predicted) and t.predicted[0] in t.labels for t in turns]
    by_label: dict[str, list[bool]] = {}
    confusions: Counter[tuple[str, str]] = Counter()
    for t, ok in zip(turns, first, strict=True):
        for label in t.labels:
            by_label.setdefault(label, []).append(ok)
        if not ok:
            confusions[(t.labels[0], t.predicted[0] if t.predicted else "none")] += 1
    return IntentScores(
        understander=name, turns=len(turns), exact=share(exact), first=share(first),
        per_label={k: share(v) for k, v in sorted(by_label.items())},
        confusions=[(a, b, n) for (a, b), n in confusions.most_common(15)],
        misses=[t for t, ok in zip(turns, first, strict=True) if not ok],
    )
