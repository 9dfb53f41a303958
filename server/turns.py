"""One conversation turn through the graph, as a result (invoke) or as a stream of typed events.

Shared by the HTTP server and the terminal chat so both report tool activity, refusals and fallbacks the same
way. Everything here is synchronous: the server runs it in a threadpool.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from pydantic import BaseModel

from agent.context import Context
from agent.memory import TURN_OPTIONS, run_config
from server.schemas import HistoryMessage, ToolCall

# Nodes whose model output is the assistant speaking (the guard answers oversize input itself).
_ANSWER_NODES = {"model", "guard"}


class TurnResult(BaseModel):
    thread_id: str
    answer: str
    refused: bool
    fallback: bool
    tool_calls: list[ToolCall]


class TurnEvent(BaseModel):
    """`token`: a piece of the answer; `tool_call` / `tool_result`: tool activity; `message`: the complete answer
    (also sent when nothing was streamed token by token); `end`: the turn's flags."""

    type: Literal["token", "tool_call", "tool_result", "message", "end"]
    text: str | None = None
    name: str | None = None
    args: dict[str, Any] | None = None
    ok: bool | None = None
    refused: bool | None = None
    fallback: bool | None = None
    thread_id: str | None = None


def text_of(message: BaseMessage) -> str:
    c = message.content
    if isinstance(c, str):
        return c
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in c)


def _current_turn(messages: list[BaseMessage]) -> list[BaseMessage]:
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return messages[i + 1 :]
    return []


def _tool_outcome(message: ToolMessage) -> tuple[bool, bool]:
    """(ok, refused) as reported by the tool's JSON envelope."""
    try:
        body = json.loads(text_of(message))
    except json.JSONDecodeError:
        return message.status != "error", False
    if not isinstance(body, dict):
        return True, False
    return bool(body.get("ok", True)), bool(body.get("refused", False))


def run_turn(graph: Any, ctx: Context, thread_id: str, owner: str, message: str) -> TurnResult:
    state = graph.invoke({"messages": [HumanMessage(content=message)]}, config=run_config(thread_id, owner),
                         context=ctx, **TURN_OPTIONS)
    new = _current_turn(list(state["messages"]))
    last = new[-1] if new else None
    return TurnResult(
        thread_id=thread_id,
        answer=text_of(last) if isinstance(last, AIMessage) else "",
        refused=bool(state.get("refused")),
        fallback=bool(state.get("fallback")),
        tool_calls=[ToolCall(name=c["name"], args=c["args"]) for m in new if isinstance(m, AIMessage)
                    for c in m.tool_calls],
    )


# A model message opening like this may be a tool call written as text (agent.written_calls): its tokens are held
# back, and the turn's `message` event carries whatever answer the graph settles on.
_MAYBE_CALL = ("{", "[", "<", "`")


def stream_turn(graph: Any, ctx: Context, thread_id: str, owner: str, message: str) -> Iterator[TurnEvent]:
    config = run_config(thread_id, owner)
    opened: dict[str, str] = {}  # per model message: its whitespace so far, until its first real character
    streaming: set[str] = set()  # messages known to be prose: tokens go out as they come
    held: set[str] = set()  # messages that open like a written call: no tokens
    flags: dict[str, Any] = {}
    for mode, chunk in graph.stream({"messages": [HumanMessage(content=message)]}, config=config, context=ctx,
                                    stream_mode=["messages", "updates"], **TURN_OPTIONS):
        if mode == "messages":
            piece, meta = chunk
            if isinstance(piece, AIMessageChunk) and meta.get("langgraph_node") == "model":
                text, key = text_of(piece), str(piece.id)
                if not text:
                    continue
                if key in streaming:
                    yield TurnEvent(type="token", text=text)
                    continue
                if key in held:
                    continue
                so_far = opened.get(key, "") + text
                if not so_far.strip():
                    opened[key] = so_far
                elif so_far.lstrip().startswith(_MAYBE_CALL):
                    held.add(key)
                else:
                    streaming.add(key)
                    yield TurnEvent(type="token", text=so_far)
            continue
        for node, update in (chunk or {}).items():
            if isinstance(update, dict):
                # The turn's flags are plain last-value channels: the last update seen is the final state, so the
                # end event needs no read of the checkpoint back.
                flags.update({k: update[k] for k in ("refused", "fallback") if k in update})
            for m in (update or {}).get("messages", []) if isinstance(update, dict) else []:
                if isinstance(m, AIMessage) and m.tool_calls:
                    for c in m.tool_calls:
                        yield TurnEvent(type="tool_call", name=c["name"], args=c["args"])
                elif isinstance(m, AIMessage) and node in _ANSWER_NODES:
                    yield TurnEvent(type="message", text=text_of(m))
                elif isinstance(m, ToolMessage):
                    ok, refused = _tool_outcome(m)
                    yield TurnEvent(type="tool_result", name=m.name, ok=ok, refused=refused)
    yield TurnEvent(type="end", thread_id=thread_id, refused=bool(flags.get("refused")),
                    fallback=bool(flags.get("fallback")))


def history_of(messages: list[BaseMessage]) -> list[HistoryMessage]:
    out: list[HistoryMessage] = []
    for m in messages:
        if isinstance(m, HumanMessage):
            out.append(HistoryMessage(role="user", content=text_of(m)))
        elif isinstance(m, AIMessage):
            out.append(HistoryMessage(role="assistant", content=text_of(m),
                                      tool_calls=[ToolCall(name=c["name"], args=c["args"]) for c in m.tool_calls]))
        elif isinstance(m, ToolMessage):
            out.append(HistoryMessage(role="tool", content=text_of(m), name=m.name))
    return out


__all__ = ["TurnEvent", "TurnResult", "history_of", "run_turn", "stream_turn", "text_of"]
