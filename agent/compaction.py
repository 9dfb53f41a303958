"""Tool results of earlier turns shrink to compact summaries, so a thread's checkpoint grows by a turn's words, not by
every table a tool ever returned.

A tool result is needed whole only during its own turn: the model (offline planner or LLM) composes the answer
from it, the dialogue state is derived from it in `finish`, and clients and the eval judge read the turn's
ToolMessages right after the run. When the next turn starts (the guard node), each earlier result longer than
COMPACT_OVER_CHARS is replaced in place (same message id, so `add_messages` overwrites it) by a JSON summary: its
`ok` / `refused` flags, its scalar fields and the first rows of its lists, within SUMMARY_CHARS. The call itself
(tool name and arguments) stays in the AIMessage before it, so a model that needs the detail again calls the tool.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

COMPACT_OVER_CHARS = 600
SUMMARY_CHARS = 900
STRING_CHARS = 120
LIST_ITEMS = 3
# When whole rows do not fit, a list of records keeps who each row is (so "the second one" still resolves in the next
# turn, for an LLM as for a person reading the history): these fields of up to IDENTITY_ROWS rows.
IDENTITY_KEYS = ("rank", "partner_id", "name", "milestone_id", "playbook_id", "title", "status", "score")
IDENTITY_ROWS = 10
COMPACTED = "compacted"  # additional_kwargs key: the original result's length in characters


def _shrink(value: Any, depth: int) -> Any:
    """`value` with strings cut, lists cut to their first rows, and structure below `depth` levels dropped."""
    if isinstance(value, str):
        return value if len(value) <= STRING_CHARS else value[: STRING_CHARS - 3] + "..."
    if isinstance(value, list):
        if depth <= 0:
            return f"[{len(value)} items]"
        rows = [_shrink(v, depth - 1) for v in value[:LIST_ITEMS]]
        return rows + ([f"... {len(value) - LIST_ITEMS} more"] if len(value) > LIST_ITEMS else [])
    if isinstance(value, dict):
        if depth <= 0:
            return {k: _shrink(v, 0) for k, v in value.items() if not isinstance(v, dict | list)}
        return {k: _shrink(v, depth - 1) for k, v in value.items()}
    return value


def _identities(value: Any) -> Any:
    """`value` with each list of records cut to its rows' identifying fields (IDENTITY_KEYS)."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        rows = [{k: _shrink(row[k], 0) for k in IDENTITY_KEYS if k in row and not isinstance(row[k], dict | list)}
                for row in value[:IDENTITY_ROWS]]
        return rows + ([f"... {len(value) - IDENTITY_ROWS} more"] if len(value) > IDENTITY_ROWS else [])
    if isinstance(value, dict):
        return {k: _identities(v) for k, v in value.items()}
    return _shrink(value, 1)


def summary_of(text: str) -> dict[str, Any]:
    """A JSON-ready summary of one tool result, at most about SUMMARY_CHARS long."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return {"ok": True, "text": text[:SUMMARY_CHARS]}
    if not isinstance(parsed, dict):
        parsed = {"result": parsed}
    summary: dict[str, Any] = {}
    # Whole rows first, then who the rows are, then ever shallower structure.
    for candidate in (_shrink(parsed, 3), _identities(parsed), _shrink(parsed, 2), _shrink(parsed, 1),
                      _shrink(parsed, 0)):
        summary = candidate
        if len(json.dumps(summary, ensure_ascii=False)) <= SUMMARY_CHARS:
            break
    else:  # even the top-level scalars are too long: keep as many as fit
        kept: dict[str, Any] = {}
        for k, v in summary.items():
            if len(json.dumps({**kept, k: v}, ensure_ascii=False)) > SUMMARY_CHARS:
                break
            kept[k] = v
        summary = kept
    summary.setdefault("ok", bool(parsed.get("ok", True)))
    summary.setdefault("refused", bool(parsed.get("refused", False)))
    return summary


def _text(message: BaseMessage) -> str:
    c = message.content
    return c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)


def compacted(message: ToolMessage) -> ToolMessage:
    text = _text(message)
    body = {COMPACTED: True, **summary_of(text)}
    return ToolMessage(content=json.dumps(body, ensure_ascii=False), tool_call_id=message.tool_call_id,
                       name=message.name, id=message.id, status=message.status,
                       additional_kwargs={**message.additional_kwargs, COMPACTED: len(text)})


def compact_earlier_turns(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """Replacements for the still-whole, long tool results before the newest user message (the turn starting)."""
    last_user = next((i for i in range(len(messages) - 1, -1, -1) if isinstance(messages[i], HumanMessage)), 0)
    return [compacted(m) for m in messages[:last_user]
            if isinstance(m, ToolMessage) and m.id and COMPACTED not in m.additional_kwargs
            and len(_text(m)) > COMPACT_OVER_CHARS]


__all__ = ["COMPACTED", "compact_earlier_turns", "compacted", "summary_of"]
