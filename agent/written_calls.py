"""A final LLM message that is not an answer: a tool call written as text, or an echoed tool result.

Small models often write the call instead of making it: Qwen answers `<tool_call>{"name": "get_readiness_score",
"arguments": {}}</tool_call>`, others a bare `{"name": ..., "arguments": ...}` (sometimes followed by an invented
answer), a fenced JSON block, or they echo the previous `<tool_response>`. The graph turns a written call of a tool
the role may use into a real call, and lets the offline planner answer anything else that is not an answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_CALL_TAG = re.compile(r"<\s*(?:tool_call|function_call)\s*>\s*(.*?)\s*(?:<\s*/\s*(?:tool_call|function_call)\s*>|$)",
                       re.S | re.I)
_TAGS = re.compile(r"</?\s*(?:tool_call|tool_response|function_call|function_results?|tool_result)\s*>", re.I)
_FENCE = re.compile(r"```(?:json|tool_call|python)?\s*(.*?)```", re.S | re.I)
# The envelope every tool returns ({"ok": ..., "data"/"code"/"error"/"refused": ...}), echoed back as text.
_ENVELOPE = re.compile(r"\{\s*\"ok\"\s*:\s*(?:true|false)\s*,\s*\"(?:data|code|error|refused)\"")
# snake_case_name(arg=..., or ("..." or ({ or (): a call written as code
_CODE_CALL = re.compile(r"\b([a-z]+(?:_[a-z0-9]+)+)\s*\(\s*(?:\)|[a-z_]+\s*=|[\"'{])")


@dataclass
class WrittenCall:
    name: str
    args: dict[str, Any] = field(default_factory=dict)


def _json_values(text: str) -> list[Any]:
    """JSON values the text starts with, holds in call tags, or holds in code fences."""
    candidates = [m.group(1) for m in _CALL_TAG.finditer(text)] + [m.group(1) for m in _FENCE.finditer(text)]
    stripped = text.strip()
    if stripped[:1] in "{[":
        candidates.append(stripped)
    decoder = json.JSONDecoder()
    found: list[Any] = []
    for c in candidates:
        c = c.strip()
        if not c or c[0] not in "{[":
            continue
        try:
            value, _end = decoder.raw_decode(c)
        except json.JSONDecodeError:
            continue
        found.append(value)
    return found


def _as_call(value: Any) -> WrittenCall | None:
    """One call from the shapes models write: {name, arguments|parameters|args}, OpenAI's {type, function: {...}},
    or {tool, args}. Arguments may themselves be a JSON string, as in the OpenAI wire format."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):
        return _as_call(value["function"])
    name = value.get("name", value.get("tool"))
    args: Any = next((value[k] for k in ("arguments", "parameters", "args", "input") if k in value), None)
    if not isinstance(name, str) or args is None:
        return None
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return None
    return WrittenCall(name=name, args=args) if isinstance(args, dict) else None


def written_calls(text: str) -> list[WrittenCall]:
    """Every tool call written in the text (empty when it holds none)."""
    calls: list[WrittenCall] = []
    for value in _json_values(text):
        items = value if isinstance(value, list) else value.get("tool_calls", [value]) \
            if isinstance(value, dict) else []
        for item in items if isinstance(items, list) else []:
            call = _as_call(item)
            if call is not None:
                calls.append(call)
    return calls


def not_an_answer(text: str) -> str | None:
    """Why a final message is not an answer to a person, or None when it is one (an empty text is judged
    elsewhere: the graph treats it as an empty answer)."""
    if not text.strip():
        return None
    if written_calls(text):
        return "a tool call written as text"
    if _TAGS.search(text):
        return "tool-call or tool-result tags"
    if _ENVELOPE.search(text):
        return "an echoed tool result"
    if text.strip()[:1] in "{[" and _json_values(text):
        return "raw JSON"
    if _CODE_CALL.search(text):
        return "a tool call written as code"
    return None


__all__ = ["WrittenCall", "not_an_answer", "written_calls"]
