"""`OfflinePlanner`: a LangChain chat model that plans tool calls and composes answers without any LLM."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from agent.planner.answer import clarify, compose
from agent.planner.dialogue import DialogueState, turn_results
from agent.planner.policy import Decision, Step, asked_for, decide
from agent.planner.turn import call_args, new_call, plan_calls, split_turn
from agent.planner.understand import Interpretation, UnderstandingContext, get_understander
from readiness.scope import PartnerRef

_WORD = re.compile(r"\S+\s*|\s+")
CHUNK_CHARS = 48


def _pieces(text: str) -> list[str]:
    """`text` cut after whole words into pieces of about CHUNK_CHARS, and after every line break."""
    out: list[str] = []
    current = ""
    for word in _WORD.findall(text):
        current += word
        if len(current) >= CHUNK_CHARS or "\n" in word:
            out.append(current)
            current = ""
    if current or not out:
        out.append(current)
    return out


class OfflinePlanner(BaseChatModel):
    """Deterministic planner. `directory` is the partners the principal may see (for name matching only;
    the tools enforce scope themselves)."""

    role: str = "partner"
    principal_id: str = ""
    directory: list[PartnerRef] = Field(default_factory=list)
    as_of: date = Field(default_factory=date.today)
    # The conversation's dialogue state before this turn (State.dialogue), as stored in the checkpoint.
    dialogue: dict[str, Any] = Field(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "partnerpilot-offline-planner"

    def __repr_args__(self) -> Any:
        # LangChain puts the model's repr in every run's callback payload: without the directory and dialogue, which
        # made that a measurable share of a turn for a large book.
        return [("role", self.role), ("principal_id", self.principal_id), ("as_of", self.as_of),
                ("directory_size", len(self.directory))]

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> OfflinePlanner:  # type: ignore[override]
        # The planner knows the tool contract by name; binding changes nothing.
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.decide(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Chunks of a few words (a line at most), so clients stream the planner's answers like an LLM's. Not one
        per word: the whole answer is composed before the first chunk, and every chunk costs a callback, a graph
        stream event and an SSE write, which made up a large share of a streamed turn's CPU."""
        message = self.decide(messages)
        if message.tool_calls:
            chunks = [{"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                      for i, c in enumerate(message.tool_calls)]
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=chunks))  # type: ignore[arg-type]
            return
        pieces = _pieces(str(message.content))
        for i, piece in enumerate(pieces):
            extra = message.additional_kwargs if i == 0 else {}
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece, additional_kwargs=extra))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk

    def understand(self, text: str, dialogue: DialogueState) -> Interpretation:
        ctx = UnderstandingContext(role=self.role, directory=self.directory, as_of=self.as_of,
                                   principal_id=self.principal_id)
        return get_understander().interpret(text, dialogue, ctx)

    def decide(self, messages: list[BaseMessage]) -> AIMessage:
        text, _history, turn = split_turn(messages)
        dialogue = DialogueState.load(self.dialogue)
        interp = self.understand(text, dialogue)
        decision = decide(interp, dialogue, self.role)
        names = {r.partner_id: r.name for r in self.directory}
        done = turn_results(turn)
        if done and done[0][0] == "decline_request" and decision.kind != "decline":
            # The input guard declined this message before the planner ran: the answer is that refusal.
            reason = str(done[0][1].get("reason") or "escalation")
            decision = Decision(kind="decline", steps=[Step(intent=reason)], confidence=decision.confidence,
                                declined=asked_for(interp))
        if decision.kind == "clarify":
            sample = [names[p] for p in dialogue.focus if p in names] + [r.name for r in self.directory[:3]]
            content, meta = clarify(decision, names, list(dict.fromkeys(sample)))
            return self._message(content, meta, interp)
        if decision.kind == "decline":
            decision = Decision(kind="act", steps=[Step(intent=decision.steps[0].intent)],
                                confidence=decision.confidence, declined=decision.declined)
        calls = plan_calls(decision, self.role, interp, dialogue)
        stop = any(r.get("refused") or r.get("code") == "ambiguous" for _n, _a, r in done)
        if len(done) < len(calls) and not stop:
            call = calls[len(done)]
            args = call_args(call, decision, interp, done, dialogue, self.role)
            return AIMessage(content="", tool_calls=[new_call(call.tool, args, salt=f"{len(messages)}:{text}")])
        scope = "your own partner account" if self.role == "partner" else (
            "your book" if self.role == "pam" else "the program")
        content, meta = compose(decision, calls, done, self.role, scope, self.as_of.isoformat(), names, dialogue)
        return self._message(content, meta, interp)

    @staticmethod
    def _message(content: str, meta: dict[str, Any], interp: Interpretation) -> AIMessage:
        meta["understood"] = [{"intent": s.intent, "p": s.probability} for s in interp.intents[:3]]
        if len(interp.parts) > 1:
            meta["parts"] = [p.intent for p in interp.parts]
        return AIMessage(content=content, additional_kwargs={"planner": meta})
