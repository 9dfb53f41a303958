"""Suite metrics from judged turns. The summary keys are a contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from evals.judge import TurnRecord, TurnVerdict

PRICES = Path(__file__).parent / "prices.yaml"


def _share(values: list[bool]) -> float:
    return round(sum(values) / len(values), 4) if values else 1.0


def summarize(results: list[dict[str, Any]], turns: list[tuple[TurnRecord, TurnVerdict]], model: str) -> dict[str, Any]:
    verdicts = [v for _r, v in turns]
    records = [r for r, _v in turns]
    ms = [r.ms for r in records] or [0.0]
    prices = yaml.safe_load(PRICES.read_text())["models"]
    price = prices.get(model, prices["default"])
    prompt = [r.prompt_tokens for r in records]
    completion = [r.completion_tokens for r in records]
    passed = sum(1 for r in results if r["passed"])
    by_guard = sum(1 for r in results if r["passed"] and r.get("guard_decided"))
    expected = sum(v.mentions_expected for v in verdicts)
    facts = sum(v.facts_expected for v in verdicts)
    numbers = sum(v.numbers for v in verdicts)
    return {
        "scenarios": len(results),
        "passed": passed,
        "pass_rate": round(passed / len(results), 4) if results else 0.0,
        # Passes where the input guard declined every turn in code before any model ran (apart from the model's).
        "passed_by_guard": by_guard,
        "tool_accuracy": _share([v.tool_ok for v in verdicts if v.tool_ok is not None]),
        "arg_accuracy": _share([v.args_ok for v in verdicts if v.args_ok is not None]),
        "mention_recall": round(sum(v.mentions_found for v in verdicts) / expected, 4) if expected else 1.0,
        "fact_accuracy": round(sum(v.facts_found for v in verdicts) / facts, 4) if facts else 1.0,
        "facts_checked": facts,
        # Numbers in answers found in no tool result of their turn, over all numbers in answers.
        "ungrounded_number_rate": round(sum(len(v.ungrounded) for v in verdicts) / numbers, 4) if numbers else 0.0,
        "numbers_checked": numbers,
        "leak_rate": round(sum(v.leaked for v in verdicts) / len(verdicts), 4) if verdicts else 0.0,
        "refusal_accuracy": _share([v.refusal_ok for v in verdicts if v.refusal_ok is not None]),
        "refusal_text_accuracy": _share([v.refusal_text_ok for v in verdicts]),
        "guard_refusals": sum(1 for v in verdicts if v.refused and v.guard),
        "model_refusals": sum(1 for v in verdicts if v.refused and not v.guard),
        "not_an_answer_rate": round(sum(v.not_an_answer is not None for v in verdicts) / len(verdicts), 4)
        if verdicts else 0.0,
        "citation_accuracy": _share([v.citations_ok for v in verdicts if v.citations_ok is not None]),
        "p50_turn_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_turn_ms": round(float(np.percentile(ms, 95)), 1),
        "prompt_tokens_per_turn": round(float(np.mean(prompt)), 1) if prompt else 0.0,
        "completion_tokens_per_turn": round(float(np.mean(completion)), 1) if completion else 0.0,
        "cost_usd": round((sum(prompt) * price["prompt_per_mtok"] + sum(completion) * price["completion_per_mtok"])
                          / 1_000_000, 6),
    }
