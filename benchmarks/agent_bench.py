"""Agent turn benchmark (JSON on stdout): the offline planner's full turn — routing, tools, composition and the
SQLite checkpoint write — on the lumenware program, plus the `openai` path's tokens per turn (tiktoken, o200k_base)
for the same conversations: what the LLM would be sent (system prompt, tool schemas, trimmed history) on each model
call of the turn, and what it would answer.

    python -m benchmarks.agent_bench [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.checkpoint.sqlite import SqliteSaver

ROOT = Path(__file__).resolve().parent.parent
CONVERSATIONS = {
    ("partner", "p-004"): ["hello", "what should I do next?", "what's my readiness score?", "why is it so low?",
                           "what is my biggest gap?", "show me the playbook for it", "how is my plan going?",
                           "we finished our ICP statement"],
    ("pam", "pam-01"): ["Which dormant partners should I call this week?", "and the second one?",
                        "what's at stake with Bluefin Technologies?", "how is the pipeline in my book?",
                        "any nudges?", "what's the readiness score of Summit Technologies?"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from agent.context import Context
    from agent.graph import _system, build_graph, trimmed
    from agent.services import configure
    from agent.tools import tools_for
    from knowledge.retriever import KnowledgeBase
    from knowledge.tokens import count_tokens
    from readiness.db import init_db, make_engine
    from readiness.importers import import_dataset

    tmp = Path(tempfile.mkdtemp(prefix="pp-agent-bench-"))
    engine = make_engine(f"sqlite:///{tmp / 'store.db'}")
    init_db(engine)
    import_dataset(engine, ROOT / "evals" / "datasets" / "lumenware")
    configure(engine, knowledge=KnowledgeBase())
    conn = sqlite3.connect(tmp / "checkpoints.db", check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    graph = build_graph(checkpointer=saver)

    latencies: list[float] = []
    prompt_tokens: list[int] = []
    completion_tokens: list[int] = []
    for rnd in range(args.rounds + 1):  # round 0 warms models and caches and is not measured
        for (role, pid), questions in CONVERSATIONS.items():
            ctx = Context(role=role, principal_id=pid, as_of=date(2026, 10, 31), provider="offline")
            config = {"configurable": {"thread_id": f"bench-{rnd}-{pid}"}}
            schemas = count_tokens(json.dumps([convert_to_openai_tool(t) for t in tools_for(role)]))
            system = sum(count_tokens(str(m.content)) for m in _system(ctx))
            for q in questions:
                before = len(graph.get_state(config).values.get("messages", []))
                start = time.perf_counter()
                state = graph.invoke({"messages": [HumanMessage(q)]}, config=config, context=ctx)
                elapsed = (time.perf_counter() - start) * 1000
                if rnd == 0:
                    continue
                latencies.append(elapsed)
                messages = state["messages"]
                # One LLM call per AI message of the turn; each is sent everything before it.
                p = c = 0
                for i in range(before + 1, len(messages)):
                    m = messages[i]
                    if isinstance(m, AIMessage):
                        history = trimmed(messages[:i])
                        p += system + schemas + sum(count_tokens(str(h.content)) + 4 for h in history)
                        c += count_tokens(str(m.content)) + count_tokens(json.dumps(m.tool_calls))
                    elif isinstance(m, ToolMessage):
                        continue
                prompt_tokens.append(p)
                completion_tokens.append(c)
    result = {
        "benchmark": "agent_turn_offline",
        "turns": len(latencies),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "max_ms": round(max(latencies), 1),
        "target_p95_ms": 150,
        "meets_target": float(np.percentile(latencies, 95)) <= 150,
        "openai_path_tokens_per_turn": {
            "prompt_mean": round(float(np.mean(prompt_tokens)), 1),
            "prompt_p95": round(float(np.percentile(prompt_tokens, 95)), 1),
            "completion_mean": round(float(np.mean(completion_tokens)), 1),
            "method": "tiktoken o200k_base over system prompt + tool schemas + trimmed history per model call",
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
