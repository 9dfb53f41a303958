"""OpenAI-compatible chat: `POST /v1/chat/completions` (plain and streamed) and `GET /v1/models`.

Any OpenAI SDK or chat front end can talk to the agent with a PartnerPilot API key as its API key. The turn runs
through the same graph, checkpointer and scope checks as `/invoke`; the identity is the key's, whatever the body
says. Which conversation a request continues:
- `X-Thread-Id: <id>` continues that thread (yours, or a new id); only the last user message is read.
- otherwise the thread is found from the message history (see `server.chat_threads`), or started, seeded with it.
System and developer messages are ignored: the agent's own prompts and the caller's scope govern the answer.

Tool activity is never turned into assistant text. It is reported in an extra `partnerpilot` object: on the
completion (`thread_id, refused, fallback, tool_calls[]`) and, streamed, on chunks whose `delta` is empty
(`{"type": "tool_call", "name", "args"}`, `{"type": "tool_result", "name", "ok", "refused"}`, and on the last
chunk `{"type": "end", "thread_id", "refused", "fallback"}`). `usage` counts the tokens (tiktoken o200k_base) of
the user's message and of the answer, not of the agent's internal model calls.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from knowledge.tokens import count_tokens
from readiness.scope import Principal
from readiness.settings import Settings, get_settings
from server.auth import current_principal
from server.chat_threads import Said, find_thread, remember, seed_thread, user_turns
from server.deps import IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_MAX, check_size, claim_thread, context_for
from server.errors import ErrorBody
from server.schemas import THREAD_ID_PATTERN, ToolCall
from server.turn_service import Reservation, TurnService, request_hash
from server.turns import TurnEvent, TurnResult

log = structlog.get_logger("partnerpilot.openai")
MODEL_ID = "partnerpilot"
THREAD_HEADER = "X-Thread-Id"


# ---- request and response bodies ----------------------------------------------------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, refusal...: accepted, not used
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        if any(p.type != "text" for p in self.content):
            raise HTTPException(status.HTTP_400_BAD_REQUEST,
                                detail="only text content is supported (no images, audio or files)")
        return "".join(p.text or "" for p in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    # Sampling parameters (temperature, max_tokens, ...) and client tools are accepted and ignored: the agent
    # chooses its own tools and the server configures its model.
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "model": MODEL_ID, "messages": [{"role": "user", "content": "Which dormant partners should I call?"}]}]})
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, description="Only 1: the agent gives one answer per turn.")


class ToolActivity(BaseModel):
    thread_id: str
    refused: bool
    fallback: bool
    tool_calls: list[ToolCall]


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: str | None = None


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    partnerpilot: ToolActivity = Field(description="Tool activity and flags of this turn (not assistant text).")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "partnerpilot"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# ---- helpers ------------------------------------------------------------------------------------------------


def _error(status_code: int, message: str, code: str, param: str | None = None) -> JSONResponse:
    """An error in the shape OpenAI clients parse."""
    kind = "invalid_request_error" if status_code < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}},
                        status_code=status_code)


def _conversation(body: ChatCompletionRequest) -> tuple[list[Said], str]:
    """(the history before the new message, the new user message)."""
    said = [Said(role=m.role, text=m.text()) for m in body.messages if m.role in ("user", "assistant")]
    if not said or said[-1].role != "user":
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="the last message must be the user's")
    if not said[-1].text.strip():
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="the user's message is empty")
    return said[:-1], said[-1].text


class _Turn(BaseModel):
    thread_id: str
    history: list[Said]
    message: str
    turns_before: int


def _place_turn(app: FastAPI, principal: Principal, settings: Settings, body: ChatCompletionRequest,
                header_thread: str | None, fork: bool = False) -> _Turn:
    """Which thread this turn runs on (claimed for the principal), seeding a new one with unknown history.
    `fork`: a new thread seeded with the history even when a thread holds it (that one is busy: another tab)."""
    history, message = _conversation(body)
    check_size(message, settings)
    graph, owner = app.state.graph, principal.actor
    if header_thread is not None:  # the client keeps the thread: its history is not looked up or recorded
        return _Turn(thread_id=claim_thread(app, principal, header_thread), history=[], message=message,
                     turns_before=0)
    known = find_thread(owner, history) if history and not fork else None
    if known is not None and user_turns(graph, known[0], owner) == known[1]:
        return _Turn(thread_id=known[0], history=history, message=message, turns_before=known[1])
    thread_id = claim_thread(app, principal, None)
    seeded = seed_thread(graph, thread_id, owner, history, settings.max_input_chars)
    return _Turn(thread_id=thread_id, history=history, message=message, turns_before=seeded)


def _another_tab(exc: HTTPException, turn: _Turn, header_thread: str | None, reservation: Reservation | None
                 ) -> bool:
    """A turn refused as busy on a thread found from the history alone: another tab (or client) with the same
    conversation so far is running a turn on it, so this request starts its own thread, seeded with that history,
    as it would once the other turn had moved the thread on. A client that names its thread, or sends an
    Idempotency-Key, still gets the 409."""
    return (exc.status_code == status.HTTP_409_CONFLICT and header_thread is None and reservation is None
            and bool(turn.history))


def _remember(principal: Principal, turn: _Turn, answer: str, header_thread: str | None) -> None:
    if header_thread is None:  # a client naming its thread does not need its history looked up
        transcript = [*turn.history, Said(role="user", text=turn.message), Said(role="assistant", text=answer)]
        remember(principal.actor, transcript, turn.thread_id, turn.turns_before + 1)


def _usage(message: str, answer: str) -> Usage:
    prompt, completion = count_tokens(message), count_tokens(answer)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _chunk(cid: str, created: int, delta: dict[str, Any], finish: str | None = None,
           extra: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
    if extra is not None:
        body["partnerpilot"] = extra
    return {"data": json.dumps(body, ensure_ascii=False)}


# ---- routes -------------------------------------------------------------------------------------------------


def chat_router(started: int | None = None) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["openai-compatible"], responses={
        401: {"model": ErrorBody}, 404: {"model": ErrorBody}, 413: {"model": ErrorBody}, 429: {"model": ErrorBody}})
    created_at = started if started is not None else int(time.time())

    @router.get("/models", response_model=ModelList)
    def models(principal: Principal = Depends(current_principal)) -> ModelList:
        """The agent, as the one model this API serves."""
        return ModelList(data=[ModelCard(id=MODEL_ID, created=created_at)])

    @router.post("/chat/completions", response_model=ChatCompletion,
                 responses={200: {"content": {"text/event-stream": {}}}})
    async def chat_completions(
        body: ChatCompletionRequest,
        request: Request,
        principal: Principal = Depends(current_principal),
        x_thread_id: str | None = Header(default=None, alias=THREAD_HEADER, pattern=THREAD_ID_PATTERN),
        idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER, min_length=1,
                                             max_length=IDEMPOTENCY_KEY_MAX),
    ) -> Any:
        """One turn of the agent, OpenAI-style; `stream: true` sends chat.completion.chunk events. An
        `Idempotency-Key` header (an extension) makes a retried request return the first turn's answer."""
        if body.model != MODEL_ID:
            return _error(404, f"the model {body.model!r} does not exist; use {MODEL_ID!r}", "model_not_found",
                          "model")
        if body.n != 1:
            return _error(400, "n must be 1: the agent gives one answer per turn", "invalid_value", "n")
        app: FastAPI = request.app
        settings = get_settings()
        turns: TurnService = app.state.turns
        reservation: Reservation | None = None
        if idempotency_key:
            fingerprint = request_hash(x_thread_id, body.stream, [[m.role, m.text()] for m in body.messages])
            reservation = await turns.reserve(principal, idempotency_key, fingerprint)
        turn = None
        if reservation is None or reservation.done is None:
            try:
                turn = await run_in_threadpool(_place_turn, app, principal, settings, body, x_thread_id)
            except BaseException:
                if reservation is not None:
                    await turns.release(reservation)
                raise
        ctx = context_for(principal, settings)
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not body.stream:
            started = time.perf_counter()
            if turn is None:
                assert reservation is not None and reservation.done is not None
                result, message = reservation.done, ""
            else:
                try:
                    result = await turns.invoke(principal, ctx, turn.thread_id, turn.message, reservation=reservation)
                except HTTPException as exc:
                    if not _another_tab(exc, turn, x_thread_id, reservation):
                        raise
                    turn = await run_in_threadpool(_place_turn, app, principal, settings, body, None, True)
                    result = await turns.invoke(principal, ctx, turn.thread_id, turn.message)
                message = turn.message
                app.state.metrics.turn(principal.role, "chat_completions", result.refused, result.fallback,
                                       time.perf_counter() - started)
                await run_in_threadpool(_remember, principal, turn, result.answer, x_thread_id)
            log.info("chat_turn", thread_id=result.thread_id, stream=False, refused=result.refused,
                     tools=[c.name for c in result.tool_calls])
            completion = _completion(cid, created, result, message)
            return JSONResponse(completion.model_dump(mode="json"), headers={THREAD_HEADER: result.thread_id})
        if turn is None:
            assert reservation is not None and reservation.done is not None
            thread_id, events = await turns.stream(principal, ctx, None, "", reservation=reservation)
            turn = _Turn(thread_id=thread_id, history=[], message="", turns_before=0)
            header_thread: str | None = thread_id  # a replay records nothing
        else:
            try:
                _, events = await turns.stream(principal, ctx, turn.thread_id, turn.message, reservation=reservation)
            except HTTPException as exc:
                if not _another_tab(exc, turn, x_thread_id, reservation):
                    raise
                turn = await run_in_threadpool(_place_turn, app, principal, settings, body, None, True)
                _, events = await turns.stream(principal, ctx, turn.thread_id, turn.message)
            header_thread = x_thread_id
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return EventSourceResponse(_stream(app, principal, turn, events, cid, created, include_usage, header_thread),
                                   headers={THREAD_HEADER: turn.thread_id})

    return router


def _completion(cid: str, created: int, result: TurnResult, message: str) -> ChatCompletion:
    return ChatCompletion(
        id=cid, created=created, model=MODEL_ID,
        choices=[Choice(message=AssistantMessage(content=result.answer))],
        usage=_usage(message, result.answer),
        partnerpilot=ToolActivity(thread_id=result.thread_id, refused=result.refused, fallback=result.fallback,
                                  tool_calls=result.tool_calls),
    )


async def _stream(app: FastAPI, principal: Principal, turn: _Turn, events: AsyncIterator[TurnEvent], cid: str,
                  created: int,
                  include_usage: bool, header_thread: str | None) -> AsyncIterator[dict[str, Any]]:
    started = time.perf_counter()
    answer, pending = "", ""  # all the answer text sent; what the current answer message streamed so far
    yield _chunk(cid, created, {"role": "assistant", "content": ""})
    try:
        async for event in events:
            if event.type == "token" and event.text:
                pending += event.text
                answer += event.text
                yield _chunk(cid, created, {"content": event.text})
            elif event.type == "message" and event.text:
                # A complete answer: send what its tokens did not (all of it when nothing was streamed).
                rest = event.text[len(pending):] if event.text.startswith(pending) else ""
                if not pending:
                    rest = event.text
                if rest:
                    answer += rest
                    yield _chunk(cid, created, {"content": rest})
                pending = ""
            elif event.type in ("tool_call", "tool_result"):
                yield _chunk(cid, created, {}, extra=event.model_dump(exclude_none=True))
            elif event.type == "end":
                app.state.metrics.turn(principal.role, "chat_completions", bool(event.refused), bool(event.fallback),
                                       time.perf_counter() - started)
                await run_in_threadpool(_remember, principal, turn, answer, header_thread)
                yield _chunk(cid, created, {}, finish="stop", extra=event.model_dump(exclude_none=True))
                if include_usage:
                    usage = _usage(turn.message, answer).model_dump()
                    yield {"data": json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created,
                                               "model": MODEL_ID, "choices": [], "usage": usage})}
    except Exception:
        log.exception("chat_stream_failed", thread_id=turn.thread_id)
        yield {"data": json.dumps({"error": {"message": "the turn failed; please try again", "type": "server_error",
                                             "param": None, "code": "turn_failed"}})}
    yield {"data": "[DONE]"}


__all__ = ["MODEL_ID", "THREAD_HEADER", "ChatCompletion", "ChatCompletionRequest", "chat_router"]
