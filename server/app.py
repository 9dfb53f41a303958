"""The PartnerPilot HTTP API and web chat page.

The lifespan owns the checkpointer and the compiled graph (one of each per process). Identity and tenancy come
only from the bearer token (see server.auth); the graph's tools enforce scope from that identity. The graph is
synchronous, so turns run in Starlette's threadpool.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from agent.context import Context
from agent.graph import build_graph
from agent.memory import ThreadSummary, list_threads, open_checkpointer, run_config, thread_owner
from agent.services import get_services
from readiness.errors import OutOfScope
from readiness.models import Pam, Partner
from readiness.scope import Principal, validate_principal
from readiness.settings import Settings, get_settings
from server.auth import Authenticator, AuthSettings, demo_principals, require_principal
from server.observability import Metrics, configure_logging
from server.schemas import (
    THREAD_ID_PATTERN,
    Health,
    HistoryResponse,
    InvokeRequest,
    InvokeResponse,
    LoginRequest,
    LoginResponse,
    PrincipalsResponse,
    WhoAmI,
)
from server.turns import history_of, run_turn, stream_turn

STATIC = Path(__file__).resolve().parent / "static"
log = structlog.get_logger("partnerpilot.server")


# ---- dependencies -------------------------------------------------------------------------------------------


def current_principal(principal: Principal = Depends(require_principal)) -> Principal:
    """The authenticated principal, rejected when it no longer exists in the store (stale token)."""
    try:
        with get_services().session() as s:
            validate_principal(s, principal)
    except OutOfScope as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc
    return principal


def context_for(principal: Principal, settings: Settings) -> Context:
    return Context(role=principal.role, principal_id=principal.id, as_of=settings.today(),
                   provider=settings.resolved_provider, model=settings.model)


def _check_size(message: str, settings: Settings) -> None:
    if len(message) > settings.max_input_chars:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"message is {len(message):,} characters long; the limit is {settings.max_input_chars:,}",
        )


def _claim_thread(app: FastAPI, principal: Principal, thread_id: str | None) -> str:
    """A new thread id, or the given one when it is new or already this principal's. Someone else's thread is
    reported as not found, so thread ids cannot be probed."""
    if thread_id is None:
        return uuid.uuid4().hex
    owner = thread_owner(app.state.checkpointer, thread_id)
    if owner is not None and owner != principal.actor:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="thread not found")
    return thread_id


# ---- app ----------------------------------------------------------------------------------------------------


def _warm_planner() -> None:
    from agent.planner.classifier import warm_up

    try:
        warm_up()
    except Exception:  # the first turn retries and reports; start-up must not die on it
        log.exception("planner_warm_up_failed")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    get_services()  # open (and migrate) the store before the first request
    # The offline planner (default model, and every LLM turn's fallback) loads its intent model off the request path;
    # the first turn waits for it only if it arrives first.
    threading.Thread(target=_warm_planner, name="planner-warm-up", daemon=True).start()
    with open_checkpointer(settings) as checkpointer:
        app.state.checkpointer = checkpointer
        app.state.graph = build_graph(checkpointer=checkpointer)
        log.info("server_started", provider=settings.resolved_provider, as_of=settings.today().isoformat(),
                 demo_login=app.state.auth.demo_enabled)
        yield
    log.info("server_stopped")


def create_app(settings: Settings | None = None, auth_settings: AuthSettings | None = None) -> FastAPI:
    app = FastAPI(title="PartnerPilot", version="0.1.0", lifespan=lifespan)
    app.state.auth = Authenticator(auth_settings or AuthSettings(), settings or get_settings())
    app.state.metrics = Metrics()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Details go to the log only; the client learns the turn did not complete and can retry.
        log.error("unhandled_error", route=request.url.path, error=type(exc).__name__, exc_info=exc)
        return JSONResponse({"detail": "internal error: the request was not completed; please try again"},
                            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status_code = 500
        try:
            response = await call_next(request)
            status_code = response.status_code
            response.headers["X-Request-ID"] = request_id
            return response
        finally:
            # Label by route template, never by raw path: unknown paths must not grow the label set.
            route = getattr(request.scope.get("route"), "path", None) or (
                "/static" if request.url.path.startswith("/static/") else "unmatched")
            elapsed = time.perf_counter() - started
            metrics: Metrics = app.state.metrics
            metrics.requests.labels(request.method, route, str(status_code)).inc()
            metrics.latency.labels(request.method, route).observe(elapsed)
            principal = getattr(request.state, "principal", None)
            log.info("request", method=request.method, route=route, status=status_code,
                     ms=round(elapsed * 1000, 1), principal=principal.actor if principal else None)
            structlog.contextvars.unbind_contextvars("request_id")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/healthz", response_model=Health)
    def healthz(response: Response) -> Health:
        store = checkpointer = True
        try:
            with get_services().session() as s:
                s.execute(text("SELECT 1"))
        except Exception:
            log.exception("health_store_failed")
            store = False
        try:
            app.state.checkpointer.get_tuple({"configurable": {"thread_id": "__healthz__"}})
        except Exception:
            log.exception("health_checkpointer_failed")
            checkpointer = False
        ok = store and checkpointer
        if not ok:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="ok" if ok else "degraded", store=store, checkpointer=checkpointer)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/principals", response_model=PrincipalsResponse, response_model_by_alias=True)
    def principals() -> PrincipalsResponse:
        """Demo only: who one can sign in as (every PAM and a few partners of each book)."""
        if not app.state.auth.demo_enabled:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="demo login is disabled")
        with get_services().session() as s:
            options = demo_principals(s)
        return PrincipalsResponse(principals=options)

    @app.post("/login", response_model=LoginResponse)
    def login(body: LoginRequest) -> LoginResponse:
        auth: Authenticator = app.state.auth
        if not auth.demo_enabled:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="demo login is disabled")
        role, _, pid = body.as_.partition(":")
        principal = Principal(role=role, id=pid)  # type: ignore[arg-type]
        try:
            with get_services().session() as s:
                validate_principal(s, principal)
        except OutOfScope as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
        token, expires = auth.issue_demo_token(principal)
        log.info("demo_login", principal=principal.actor)
        return LoginResponse(token=token, role=role, principal_id=pid, expires_at=expires)

    @app.get("/me", response_model=WhoAmI)
    def me(principal: Principal = Depends(current_principal)) -> WhoAmI:
        with get_services().session() as s:
            row = s.get(Partner, principal.id) if principal.role == "partner" else s.get(Pam, principal.id)
            name = row.name if row else None
        return WhoAmI(role=principal.role, principal_id=principal.id, name=name)

    @app.post("/invoke", response_model=InvokeResponse)
    async def invoke(body: InvokeRequest, principal: Principal = Depends(current_principal)) -> InvokeResponse:
        settings = get_settings()
        _check_size(body.message, settings)
        thread_id = await run_in_threadpool(_claim_thread, app, principal, body.thread_id)
        started = time.perf_counter()
        result = await run_in_threadpool(run_turn, app.state.graph, context_for(principal, settings), thread_id,
                                         principal.actor, body.message)
        app.state.metrics.turn(principal.role, "invoke", result.refused, result.fallback,
                               time.perf_counter() - started)
        log.info("turn", thread_id=thread_id, chars=len(body.message), refused=result.refused,
                 fallback=result.fallback, tools=[c.name for c in result.tool_calls])
        return InvokeResponse(**result.model_dump())

    @app.post("/stream")
    async def stream(body: InvokeRequest, principal: Principal = Depends(current_principal)) -> EventSourceResponse:
        settings = get_settings()
        _check_size(body.message, settings)
        thread_id = await run_in_threadpool(_claim_thread, app, principal, body.thread_id)
        events = stream_turn(app.state.graph, context_for(principal, settings), thread_id, principal.actor,
                             body.message)

        async def sse() -> AsyncIterator[dict[str, Any]]:
            started = time.perf_counter()
            yield {"event": "start", "data": json.dumps({"thread_id": thread_id})}
            try:
                async for event in iterate_in_threadpool(events):
                    yield {"event": event.type, "data": event.model_dump_json(exclude_none=True)}
                    if event.type == "end":
                        app.state.metrics.turn(principal.role, "stream", bool(event.refused), bool(event.fallback),
                                               time.perf_counter() - started)
            except Exception:
                log.exception("stream_failed", thread_id=thread_id)
                yield {"event": "error", "data": json.dumps({"detail": "the turn failed; please try again"})}

        return EventSourceResponse(sse(), headers={"X-Thread-Id": thread_id})

    @app.get("/threads", response_model=list[ThreadSummary])
    def threads(principal: Principal = Depends(current_principal)) -> list[ThreadSummary]:
        return list_threads(app.state.checkpointer, principal.actor)

    @app.get("/history/{thread_id}", response_model=HistoryResponse)
    def history(thread_id: str = PathParam(pattern=THREAD_ID_PATTERN),
                principal: Principal = Depends(current_principal)) -> HistoryResponse:
        if thread_owner(app.state.checkpointer, thread_id) != principal.actor:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="thread not found")
        values = app.state.graph.get_state(run_config(thread_id, principal.actor)).values
        return HistoryResponse(thread_id=thread_id, messages=history_of(list(values.get("messages", []))))

    return app


configure_logging()
app = create_app()

__all__ = ["app", "create_app"]
