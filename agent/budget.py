"""Bounds of one turn: tool rounds, graph steps, and the time its LLM calls may take.

A turn must end, and end soon, whatever the model does: a model that keeps calling tools, an endpoint that hangs or
keeps answering 429. Every LLM call of a turn gets the time left in the turn's budget as its timeout, and retries
(bounded) only while time is left; after that the offline planner answers from the tool results already gathered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from agent.planner.turn import MAX_CALLS as PLANNER_MAX_CALLS

# LLM tool rounds per turn; a tool call the model returns after that is dropped and the model must answer.
MAX_TOOL_ROUNDS = 4
# Steps of the graph per turn. The longest legal turn: guard, then at most PLANNER_MAX_CALLS tool rounds (the LLM's
# rounds count towards the planner's plan when it takes over, see agent.planner.model.decide), each a model and a
# tools step, then the answering model step and finish. Anything longer is a bug, stopped here.
RECURSION_LIMIT = 1 + 2 * max(MAX_TOOL_ROUNDS, PLANNER_MAX_CALLS) + 2 + 1
# Below this much time left, another LLM call cannot usefully answer: the planner does.
MIN_CALL_S = 0.25
_BACKOFF_S = 0.5


class BudgetExhausted(Exception):
    """The turn's LLM time is used up."""


def _retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return False  # it already took the whole time left
    return isinstance(exc, openai.RateLimitError | openai.InternalServerError | openai.APIConnectionError)


def call_within(deadline: float, attempts: int, call: Callable[[float], Any], cap_s: float,
                clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> Any:
    """`call(timeout)` with the time left before `deadline` (at most `cap_s`) as its timeout, retried on 429, 5xx and
    connection errors with a short backoff, at most `attempts` times and never past the deadline."""
    for attempt in range(max(1, attempts)):
        left = deadline - clock()
        if left < MIN_CALL_S:
            raise BudgetExhausted(f"turn budget spent after {attempt} LLM call(s)")
        try:
            return call(min(cap_s, left))
        except Exception as exc:
            if not _retryable(exc) or attempt + 1 >= attempts:
                raise
            wait = min(_BACKOFF_S * 2**attempt, deadline - clock() - MIN_CALL_S)
            if wait <= 0:
                raise BudgetExhausted("turn budget spent while retrying") from exc
            sleep(wait)
    raise BudgetExhausted("no attempt left")  # pragma: no cover - the loop returns or raises


__all__ = ["MAX_TOOL_ROUNDS", "MIN_CALL_S", "PLANNER_MAX_CALLS", "RECURSION_LIMIT", "BudgetExhausted", "call_within"]
