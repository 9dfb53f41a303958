"""The PartnerPilot HTTP API and web chat page.

The lifespan owns the checkpointer, the compiled graph and the turn service (one of each per process). Identity and
tenancy come only from the bearer token (see server.auth: `current_principal` is the one dependency every
authenticated route uses); the graph's tools enforce scope from that identity. The graph is synchronous: turns run
on the turn service's own bounded pool (server.turn_service), one at a time per thread, so health checks and the
REST API never wait behind them. The REST API over the domain lives in server.api (`/v1`); server.middleware guards
every request (body limit before parsing, invalid Unicode, request ids, security headers).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response, status
from fastapi import Path as PathParam
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sse_starlette.sse import EventSourceResponse

from agent.graph import build_graph
from agent.memory import ThreadSummary, list_threads, open_checkpointer, run_config, thread_owner
from agent.services import get_services
from readiness.lru import Lru
from readiness.models import Pam, Partner
from readiness.scope import Principal
from readiness.settings import Settings, get_settings
from server.api import router as rest_router
from server.api.models import LogoutResponse
from server.auth import (
    Authenticator,
    authenticate_request,
    current_principal,
    local_address,
    require_roles,
)
from server.demo import demo_principals
from server.deps import IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_MAX, context_for
from server.deps import check_size as _check_size
from server.errors import ErrorBody, install_error_handlers
from server.health import IndexProbe, readiness
from server.mcp_server import mcp_lifespan, mount_mcp
from server.middleware import BodyGuard, RequestContext
from server.observability import Metrics, configure_logging
from server.openai_compat import chat_router
from server.readcache import READ_ENTRIES
from server.schemas import (
    THREAD_ID_PATTERN,
    Health,
    HistoryResponse,
    InvokeRequest,
    InvokeResponse,
    LoginRequest,
    LoginResponse,
    PrincipalsResponse,
    Readiness,
    WhoAmI,
)
from server.shared import shared_state
from server.turn_service import TurnService
from server.turns import history_of
from server.unsubscribe import router as unsubscribe_router
from server.web import router as web_router
from server.web.chat import ChatPresenter

STATIC = Path(__file__).resolve().parent / "static"
log = structlog.get_logger("partnerpilot.server")


# ---- app ----------------------------------------------------------------------------------------------------


def _warm_planner() -> None:
    from agent.planner.classifier import warm_up

    try:
        warm_up()
    except Exception:  # the first turn retries and reports; start-up must not die on it
        log.exception("planner_warm_up_failed")
    try:
        # The playbook index (Chroma client, BM25 over the chunks) too: otherwise the first playbook search in each
        # worker waits for it, and the worker's memory jumps mid-run.
        get_services().kb().search("warm up", k=1)
    except Exception:  # no index yet (`partnerpilot knowledge index`): the first search reports it
        log.exception("knowledge_warm_up_failed")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    get_services()  # open (and migrate) the store before the first request
    # The offline planner (default model, and every LLM turn's fallback) loads its intent model off the request path;
    # the first turn waits for it only if it arrives first.
    threading.Thread(target=_warm_planner, name="planner-warm-up", daemon=True).start()
    with open_checkpointer(settings) as checkpointer:
        app.state.checkpointer = checkpointer
        app.state.graph = build_graph(checkpointer=checkpointer)
        app.state.turns = TurnService(settings, app.state.graph, checkpointer)
        with get_services().session() as s:
            demo = app.state.auth.demo_state(s)
        log.info("server_started", provider=settings.resolved_provider, as_of=settings.today().isoformat(),
                 demo_login=demo.enabled, demo_reason=demo.reason, shared_state=app.state.auth.shared.description)
        try:
            async with mcp_lifespan(app):
                yield
        finally:
            app.state.turns.close()
    log.info("server_stopped")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="PartnerPilot", version="0.1.0", lifespan=lifespan,
                  description="Partner readiness over REST (`/v1`, bearer keys) and the activation agent "
                              "(`/invoke`, `/stream`).")
    app.state.settings = settings
    app.state.auth = Authenticator(settings, shared_state(settings.redis_url))
    app.state.read_cache = Lru(READ_ENTRIES)  # REST reads by data version (server.readcache)
    app.state.metrics = Metrics()
    app.state.index_probe = IndexProbe()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_error_handlers(app)
    # Starlette runs the last added middleware first: request context outermost, then the body guard.
    app.add_middleware(BodyGuard, settings=settings)
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    app.include_router(rest_router)
    app.include_router(web_router)

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

    @app.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
    async def readyz(response: Response) -> Readiness:
        """Ready to serve: store, checkpointer, knowledge index and Redis (when configured) all answer."""
        result = await readiness(app.state.checkpointer, app.state.index_probe, app.state.auth.shared)
        if result.status != "ready":
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return result

    @app.get("/metrics", include_in_schema=False)
    def metrics(principal: Principal = Depends(require_roles("admin"))) -> Response:
        """Prometheus metrics, for admin keys only (they reveal traffic by route and role)."""
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/principals", response_model=PrincipalsResponse, response_model_by_alias=True)
    def principals(request: Request) -> PrincipalsResponse:
        """Demo only: who one can sign in as (every PAM and a few partners of each book)."""
        with get_services().session() as s:
            if not app.state.auth.demo_state(s, local_address(request)).enabled:
                raise HTTPException(status.HTTP_404_NOT_FOUND, detail="demo login is disabled")
            options = demo_principals(s)
        return PrincipalsResponse(principals=options)

    @app.post("/login", response_model=LoginResponse, responses={404: {"model": ErrorBody}})
    def login(body: LoginRequest, request: Request) -> LoginResponse:
        """Demo only: a short-lived token for one of the principals offered on /principals."""
        auth: Authenticator = app.state.auth
        with get_services().session() as s:
            if not auth.demo_state(s, local_address(request)).enabled:
                raise HTTPException(status.HTTP_404_NOT_FOUND, detail="demo login is disabled")
            offered = {o.as_ for o in demo_principals(s)}
        if body.as_ not in offered:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="not a demo principal: pick one from /principals")
        role, _, pid = body.as_.partition(":")
        principal = Principal(role=role, id=pid)  # type: ignore[arg-type]
        token, expires = auth.demo.issue(principal)
        log.info("demo_login", principal=principal.actor)
        return LoginResponse(token=token, role=role, principal_id=pid, expires_at=expires)

    @app.post("/logout", response_model=LogoutResponse, responses={401: {"model": ErrorBody}})
    def logout(request: Request) -> LogoutResponse:
        """Revoke the demo token this request carries, on every worker. API keys are revoked with
        `partnerpilot keys revoke`."""
        cred = authenticate_request(request)
        if cred.kind != "demo" or cred.token_id is None or cred.expires is None:
            return LogoutResponse(revoked=False)
        app.state.auth.shared.revoke(cred.token_id, max(1, cred.expires - int(time.time())))
        return LogoutResponse(revoked=True, expired_at=None)

    @app.get("/me", response_model=WhoAmI)
    def me(principal: Principal = Depends(current_principal)) -> WhoAmI:
        with get_services().session() as s:
            row = s.get(Partner, principal.id) if principal.role == "partner" else s.get(Pam, principal.id)
            name = row.name if row else None
        return WhoAmI(role=principal.role, principal_id=principal.id, name=name)

    turn_errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 409: {"model": ErrorBody},
                                                    422: {"model": ErrorBody}, 503: {"model": ErrorBody}}

    @app.post("/invoke", response_model=InvokeResponse, responses=turn_errors)
    async def invoke(body: InvokeRequest, principal: Principal = Depends(current_principal),
                     idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER, min_length=1,
                                                          max_length=IDEMPOTENCY_KEY_MAX)) -> InvokeResponse:
        """One turn. 409 with Retry-After while another turn runs on the thread; 503 when the turn pool is full;
        an `Idempotency-Key` makes a retry return the first turn's result without running it again."""
        settings = get_settings()
        _check_size(body.message, settings)
        started = time.perf_counter()
        result = await app.state.turns.invoke(principal, context_for(principal, settings), body.thread_id,
                                              body.message, idempotency_key)
        app.state.metrics.turn(principal.role, "invoke", result.refused, result.fallback,
                               time.perf_counter() - started)
        log.info("turn", thread_id=result.thread_id, chars=len(body.message), refused=result.refused,
                 fallback=result.fallback, tools=[c.name for c in result.tool_calls])
        return InvokeResponse(**result.model_dump())

    @app.post("/stream", responses=turn_errors)
    async def stream(body: InvokeRequest, principal: Principal = Depends(current_principal),
                     idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER, min_length=1,
                                                          max_length=IDEMPOTENCY_KEY_MAX)) -> EventSourceResponse:
        settings = get_settings()
        _check_size(body.message, settings)
        thread_id, events = await app.state.turns.stream(principal, context_for(principal, settings),
                                                         body.thread_id, body.message, idempotency_key)
        presenter = ChatPresenter(principal)  # the answer rendered to sanitised HTML, tool activity in words

        async def sse() -> AsyncIterator[dict[str, Any]]:
            started = time.perf_counter()
            yield {"event": "start", "data": json.dumps({"thread_id": thread_id})}
            try:
                async for event in events:
                    shown = presenter.present(event)
                    yield {"event": event.type, "data": shown.model_dump_json(exclude_none=True)}
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
        messages = history_of(list(values.get("messages", [])))
        return HistoryResponse(thread_id=thread_id, messages=ChatPresenter(principal).history(messages))

    app.include_router(chat_router())  # OpenAI-compatible: /v1/chat/completions, /v1/models
    mount_mcp(app)  # MCP over streamable HTTP: /mcp
    app.include_router(unsubscribe_router)  # the signed link in nudge e-mails

    return app


configure_logging(fmt=get_settings().log_format)
app = create_app()

__all__ = ["app", "create_app"]
