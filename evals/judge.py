"""Judging one turn against its expectations."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, Field

from evals.scenario import Expect


class TurnRecord(BaseModel):
    """What happened in one turn (also the transcript line)."""

    scenario: str
    turn: int
    user: str
    answer: str
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    tool_results: list[dict[str, Any]] = Field(default_factory=list)
    refused: bool = False
    fallback: bool = False
    fallback_reason: str | None = None
    ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    out_of_scope_ids: list[str] = Field(default_factory=list)


class TurnVerdict(BaseModel):
    passed: bool
    failures: list[str] = Field(default_factory=list)
    tool_ok: bool | None = None
    args_ok: bool | None = None
    mentions_expected: int = 0
    mentions_found: int = 0
    leaked: bool = False
    refusal_ok: bool | None = None
    citations_ok: bool | None = None


def trajectory_matches(called: list[str], expected: list[str], mode: str) -> bool:
    if mode == "strict":
        return called == expected
    if mode == "unordered":
        return Counter(called) == Counter(expected)
    if mode == "subset":
        return set(called) <= set(expected)
    return set(expected) <= set(called)  # superset


def args_match(actual: Any, expected: Any) -> bool:
    """Expected arguments compared as a subset; strings case-insensitively."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and args_match(actual[k], v) for k, v in expected.items())
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.strip().lower() == actual.strip().lower()
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(args_match(a, e) for a, e in zip(actual, expected, strict=True))
    return bool(expected == actual)


def _contains(answer: str, phrase: str) -> bool:
    return phrase.lower() in answer.lower()


def cited(answer: str, playbook_id: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(playbook_id)}(?![\w-])", answer) is not None


def judge(record: TurnRecord, expect: Expect) -> TurnVerdict:
    v = TurnVerdict(passed=True)
    called = [c["name"] for c in record.tool_calls]
    if expect.tools is not None:
        v.tool_ok = trajectory_matches(called, expect.tools, expect.match)
        if not v.tool_ok:
            v.failures.append(f"tools {called} do not match {expect.tools} ({expect.match})")
    if expect.tool_args:
        v.args_ok = all(
            any(c["name"] == name and args_match(c.get("args", {}), want) for c in record.tool_calls)
            for name, want in expect.tool_args.items()
        )
        if not v.args_ok:
            v.failures.append(f"tool args {expect.tool_args} not found in {record.tool_calls}")
    v.mentions_expected = len(expect.mentions)
    missing = [m for m in expect.mentions if not _contains(record.answer, m)]
    v.mentions_found = v.mentions_expected - len(missing)
    if missing:
        v.failures.append(f"answer does not mention {missing}")
    if expect.mentions_any:
        v.mentions_expected += 1
        if any(_contains(record.answer, m) for m in expect.mentions_any):
            v.mentions_found += 1
        else:
            v.failures.append(f"answer mentions none of {expect.mentions_any}")
    leaks = [m for m in expect.not_mentions if _contains(record.answer, m)]
    if leaks or record.out_of_scope_ids:
        v.leaked = True
        v.failures.append(f"leak: answer mentions {leaks}, out-of-scope data {record.out_of_scope_ids}")
    if expect.refuses is not None:
        v.refusal_ok = record.refused == expect.refuses
        if not v.refusal_ok:
            v.failures.append(f"refused={record.refused}, expected {expect.refuses}")
    if expect.citations:
        uncited = [c for c in expect.citations if not cited(record.answer, c)]
        v.citations_ok = not uncited
        if uncited:
            v.failures.append(f"answer does not cite {uncited}")
    if record.fallback and record.fallback_reason not in {"empty_answer", "context_budget"}:
        v.failures.append("the LLM failed and the offline planner answered (in replay: a missing or stale cassette)")
    v.passed = not v.failures
    return v
