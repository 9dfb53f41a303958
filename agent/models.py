"""Chat models: the offline planner (default) and any OpenAI-compatible endpoint."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from langchain_core.language_models import BaseChatModel

from agent.context import Context
from agent.planner import OfflinePlanner
from agent.services import get_services
from agent.turn_memo import remembered
from readiness.scope import PartnerRef, visible_partners
from readiness.settings import get_settings


def directory_of(ctx: Context, turn: str | None = None) -> list[PartnerRef]:
    """The partners the principal may see (for name matching), read once per turn (agent.turn_memo)."""

    def read() -> list[PartnerRef]:
        with get_services().session() as s:
            return visible_partners(s, ctx.principal)

    return remembered(turn, ctx, "directory", read)


def offline_planner(ctx: Context, dialogue: dict[str, Any] | None = None, turn: str | None = None
                    ) -> OfflinePlanner:
    directory = directory_of(ctx, turn)
    return OfflinePlanner(role=ctx.role, principal_id=ctx.principal_id, directory=directory, as_of=ctx.as_of,
                          dialogue=dialogue or {})


@lru_cache(maxsize=8)
def openai_model(model: str, base_url: str | None, api_key: str | None, timeout: float, retries: int,
                 temperature: float, max_tokens: int) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    kwargs: dict[str, Any] = {"model": model, "timeout": timeout, "max_retries": retries, "max_tokens": max_tokens,
                              "temperature": temperature, "streaming": True,
                              "stream_usage": True, "api_key": api_key or "not-needed"}
    if base_url:
        kwargs["base_url"] = base_url
    return ChatOpenAI(**kwargs)


def llm_for(ctx: Context) -> BaseChatModel:
    """The turn's chat model, without client retries: the graph retries within the turn's time budget
    (agent.budget.call_within), so retries can never add up past it."""
    s = get_settings()
    return openai_model(ctx.model or s.model, ctx.base_url or s.openai_base_url, s.openai_api_key, s.llm_timeout_s,
                        0, s.temperature, s.llm_max_tokens)


def llm_attempts(ctx: Context) -> int:
    """Calls allowed per model step: the first plus the configured retries (none in replay)."""
    s = get_settings()
    return 1 + max(0, s.llm_max_retries if ctx.max_retries is None else ctx.max_retries)
