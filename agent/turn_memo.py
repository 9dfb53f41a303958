"""Values computed once per turn and shared by the guard and the model steps of that turn (the principal's partner
directory, the program's other partners): each step used to read them from the store again.

A turn is known by the id of its user message, which the graph's message reducer gives every new message, so an
entry never outlives its turn: the next turn has a new id and reads the store afresh. Without an id (a message
outside a graph), nothing is remembered.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from langchain_core.messages import BaseMessage, HumanMessage

from agent.context import Context

T = TypeVar("T")
# Turns remembered at once (a server runs at most a few dozen turns concurrently).
KEEP_TURNS = 256

_turns: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


def turn_of(messages: Sequence[BaseMessage]) -> str | None:
    """The id of the turn's user message (the newest human message)."""
    for m in reversed(messages):
        if isinstance(m, HumanMessage):
            return m.id
    return None


def remembered(turn: str | None, ctx: Context, name: str, compute: Callable[[], T]) -> T:
    """`compute()` once per turn, principal and date; later calls in the same turn get the same value."""
    if not turn:
        return compute()
    key = (turn, ctx.role, ctx.principal_id, ctx.as_of)
    with _lock:
        entry = _turns.get(key)
        if entry is not None and name in entry:
            return entry[name]  # type: ignore[no-any-return]
    value = compute()
    with _lock:
        _turns.setdefault(key, {})[name] = value
        _turns.move_to_end(key)
        while len(_turns) > KEEP_TURNS:
            _turns.popitem(last=False)
    return value
