"""`OfflinePlanner`: a LangChain chat model that plans tool calls and composes answers without any LLM."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from agent.planner.compose import render_result, t
from agent.planner.turn import (
    TurnPlan,
    new_call,
    plan_steps,
    plan_turn,
    split_turn,
    tool_args,
    tool_results,
)
from readiness.scope import PartnerRef

CLARIFY_OPTIONS = {
    "partner": "your next steps, your readiness score and why, your biggest gap and the playbook for it, "
    "your 30/60/90 plan, recording progress",
    "pam": "the dormant partners to call, why a partner is on the list, revenue at stake, a partner's score, "
    "gaps or plan, pipeline (sourced vs influenced), nudges",
}


class OfflinePlanner(BaseChatModel):
    """Deterministic planner. `directory` is the partners the principal may see (for name matching only;
    the tools enforce scope themselves)."""

    role: str = "partner"
    principal_id: str = ""
    directory: list[PartnerRef] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "partnerpilot-offline-planner"

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
        """Word-by-word chunks, so clients stream the planner's answers like an LLM's."""
        message = self.decide(messages)
        if message.tool_calls:
            chunks = [{"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                      for i, c in enumerate(message.tool_calls)]
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=chunks))  # type: ignore[arg-type]
            return
        pieces = re.findall(r"\S+\s*|\s+", str(message.content)) or [""]
        for i, piece in enumerate(pieces):
            extra = message.additional_kwargs if i == 0 else {}
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece, additional_kwargs=extra))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk

    def decide(self, messages: list[BaseMessage]) -> AIMessage:
        text, history, turn = split_turn(messages)
        plan = plan_turn(text, history, self.role, self.directory)
        done = tool_results(turn)
        meta: dict[str, Any] = {"intent": plan.intent, "confidence": round(plan.confidence, 3)}
        if plan.clarify:
            return self._clarify(plan, meta)
        steps = plan_steps(plan, self.role)
        failed = any(not r.get("ok") for _n, _a, r in done)
        if len(done) < len(steps) and not failed:
            tool = steps[len(done)]
            args = tool_args(tool, plan, text, done, history, self.role)
            return AIMessage(content="", tool_calls=[new_call(tool, args, salt=f"{len(messages)}:{text}")])
        return self._answer(plan, done, meta)

    def _clarify(self, plan: TurnPlan, meta: dict[str, Any]) -> AIMessage:
        if plan.clarify == "ambiguous":
            names = {r.partner_id: r.name for r in self.directory}
            text = t("clarify_ambiguous", candidates=", ".join(f"{names.get(c, c)} ({c})" for c in plan.candidates))
            meta.update(pending=plan.intent, list=plan.candidates)
        elif plan.clarify == "which_partner":
            examples = ", ".join(r.name for r in self.directory[:3])
            text = t("clarify_which_partner", examples=f" (for example {examples})" if examples else "")
            meta.update(pending=plan.intent)
        elif plan.clarify == "which_dimension":
            text = t("clarify_which_dimension")
            meta.update(pending=plan.intent)
        else:
            text = t("clarify_unclear", options=CLARIFY_OPTIONS["partner" if self.role == "partner" else "pam"])
        meta["clarify"] = plan.clarify
        return AIMessage(content=text, additional_kwargs={"planner": meta})

    def _answer(self, plan: TurnPlan, done: list[tuple[str, dict[str, Any], dict[str, Any]]],
                meta: dict[str, Any]) -> AIMessage:
        scope = "your own partner account" if self.role == "partner" else f"the book of {self.principal_id}"
        parts: list[str] = []
        if plan.intent == "greeting" and done and done[0][2].get("ok"):
            first = done[0][2]["data"]
            if self.role == "partner":
                parts.append(t("greeting_partner", name=first.get("name", ""), segment=first.get("segment", ""),
                               score=first.get("score", 0), tier=first.get("tier", "")))
                done = done[1:]
            else:
                parts.append(t("greeting_pam"))
        for name, _args, result in done:
            rendered = render_result(name, result, scope)
            if rendered:
                parts.append(rendered)
            data = result.get("data") or {}
            if name == "list_dormant_partners" and result.get("ok"):
                meta["list"] = [p["partner_id"] for p in data.get("partners") or []]
            if name == "find_partner" and result.get("ok"):
                meta["list"] = [p["partner_id"] for p in data.get("matches") or []]
            if name == "diagnose_gtm_gaps" and result.get("ok") and data.get("top_gap"):
                meta["top_gap"] = data["top_gap"]["gap"]
            if isinstance(data, dict) and data.get("partner_id") and self.role != "partner":
                meta["subject"] = data["partner_id"]
            if name == "search_playbooks" and result.get("ok"):
                meta["citations"] = [h["playbook_id"] for h in data.get("results") or []][:3]
        if plan.subject and "subject" not in meta and self.role != "partner" and all(r.get("ok") for *_x, r in done):
            meta["subject"] = plan.subject
        content = "\n\n".join(parts) if parts else t("clarify_unclear", options=CLARIFY_OPTIONS["partner"])
        return AIMessage(content=content, additional_kwargs={"planner": meta})
