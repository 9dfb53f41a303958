"""The agent over the Model Context Protocol (official `mcp` SDK): its tools, plus `ask_partnerpilot`, which runs
a whole conversation turn.

Two transports, one server definition:
- streamable HTTP at `/mcp` on the API server: every HTTP request is authenticated with the same bearer keys and
  the same dependency as the rest of the API, and each tool call runs as that request's principal;
- stdio (`partnerpilot mcp`) for a desktop client: the principal comes from the key given on the command line or
  in the environment when the process starts.
Never from tool arguments: the tools take no identity, and each one checks scope in code (a partner's key reaches
only that partner; PAM-only tools refuse partners). The HTTP transport is stateless (no MCP session to pin to a
worker), so any worker can answer any request.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
import structlog
from fastapi import FastAPI, HTTPException, Request
from langchain.tools import ToolRuntime
from langchain_core.tools import BaseTool
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from agent.tools import ALL_TOOLS, tools_for
from readiness.scope import Principal
from readiness.settings import get_settings
from server.auth import agent_role, current_principal
from server.deps import context_for
from server.schemas import THREAD_ID_PATTERN
from server.turn_service import TurnService

log = structlog.get_logger("partnerpilot.mcp")
ASK_TOOL = "ask_partnerpilot"
# The agent's way of declining inside a conversation; a client asking directly has nothing to decline.
_HIDDEN = {"decline_request"}

PrincipalOf = Callable[[ServerRequestContext[Any, Any]], Principal]


class AskArgs(BaseModel):
    message: str = Field(min_length=1, description="What to ask the PartnerPilot agent, in your own words.")
    thread_id: str | None = Field(default=None, pattern=THREAD_ID_PATTERN,
                                  description="Continue this conversation (returned by an earlier call).")


def _agent_tools(role: str) -> list[BaseTool]:
    return [t for t in tools_for(role) if t.name not in _HIDDEN]


def _callable_tools() -> dict[str, BaseTool]:
    # Listed per role, callable by name: a tool outside the role refuses in code, which the caller sees.
    return {t.name: t for t in ALL_TOOLS if t.name not in _HIDDEN}


def list_tools_for(principal: Principal) -> list[types.Tool]:
    tools = [types.Tool(name=t.name, description=t.description, input_schema=t.tool_call_schema.model_json_schema())
             for t in _agent_tools(agent_role(principal))]
    tools.append(types.Tool(
        name=ASK_TOOL, input_schema=AskArgs.model_json_schema(),
        description="Ask the PartnerPilot agent a question and get its answer: it picks and runs the tools itself, "
                    "within your scope. Pass the returned thread_id to continue the conversation."))
    return tools


def _result(body: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=json.dumps(body, ensure_ascii=False))],
                                structured_content=body, is_error=not body.get("ok", True))


def call_agent_tool(principal: Principal, tool: BaseTool, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    """Run one agent tool as `principal` (synchronous: called in a worker thread). The runtime carries only the
    authenticated context; an argument named like it is overwritten, never trusted."""
    ctx = context_for(principal, get_settings())
    runtime = ToolRuntime(state={"messages": []}, context=ctx, config={"configurable": {"thread_id": call_id}},
                          stream_writer=lambda _chunk: None, tool_call_id=call_id, store=None)
    try:
        out = tool.invoke({**args, "runtime": runtime})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        return {"ok": False, "code": "invalid_arguments", "error": problems, "refused": False}
    try:
        body = json.loads(out)
    except (TypeError, json.JSONDecodeError):
        return {"ok": True, "data": out}
    return body if isinstance(body, dict) else {"ok": True, "data": body}


async def ask(principal: Principal, turns: TurnService, args: AskArgs) -> dict[str, Any]:
    """One conversation turn through the same turn service (thread claim and lock, bounded pool) as `/invoke`."""
    settings = get_settings()
    if len(args.message) > settings.max_input_chars:
        return {"ok": False, "code": "too_long", "refused": False,
                "error": f"message is {len(args.message):,} characters long; the limit is "
                         f"{settings.max_input_chars:,}"}
    try:
        result = await turns.invoke(principal, context_for(principal, settings), args.thread_id, args.message)
    except HTTPException as exc:
        code = {404: "not_found", 409: "busy", 503: "unavailable"}.get(exc.status_code, "error")
        return {"ok": False, "code": code, "error": str(exc.detail), "refused": False}
    return {"ok": True, "data": result.model_dump(mode="json")}


def build_server(principal_of: PrincipalOf, turns_of: Callable[[], TurnService]) -> Server[Any]:
    """The MCP server. `principal_of` reads the caller from a request; `turns_of` gives the turn service."""

    async def on_list_tools(ctx: ServerRequestContext[Any, Any],
                            params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=list_tools_for(principal_of(ctx)))

    async def on_call_tool(ctx: ServerRequestContext[Any, Any],
                           params: types.CallToolRequestParams) -> types.CallToolResult:
        principal = principal_of(ctx)
        args = dict(params.arguments or {})
        if params.name == ASK_TOOL:
            try:
                ask_args = AskArgs.model_validate(args)
            except ValidationError as exc:
                return _result({"ok": False, "code": "invalid_arguments", "refused": False,
                                "error": "; ".join(e["msg"] for e in exc.errors(include_url=False))})
            body = await ask(principal, turns_of(), ask_args)
        else:
            tool = _callable_tools().get(params.name)
            if tool is None:
                raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r}")
            # Each call its own id: write tools derive their idempotency key from it, and two calls with the same
            # arguments (a milestone claimed again after a rejection) are two writes.
            call_id = f"mcp:{secrets.token_hex(12)}"
            body = await anyio.to_thread.run_sync(call_agent_tool, principal, tool, args, call_id)
        log.info("mcp_tool", tool=params.name, principal=principal.actor, ok=body.get("ok"),
                 refused=body.get("refused", False))
        return _result(body)

    return Server("partnerpilot", version="0.1.0", title="PartnerPilot",
                  instructions="Partner readiness: scores, gaps, plans, call lists and playbooks, scoped to the "
                               "caller's key. Use ask_partnerpilot for questions in your own words.",
                  on_list_tools=on_list_tools, on_call_tool=on_call_tool)


# ---- streamable HTTP on the API server ----------------------------------------------------------------------


def _http_principal(ctx: ServerRequestContext[Any, Any]) -> Principal:
    request = ctx.request
    principal = getattr(getattr(request, "state", None), "principal", None)
    if not isinstance(principal, Principal):  # the /mcp route authenticates before the SDK sees a request
        raise MCPError(types.INVALID_REQUEST, "not authenticated")
    return principal


class MCPEndpoint:
    """ASGI endpoint for `/mcp`: authenticate like every API route, then hand the request to the SDK."""

    def __init__(self) -> None:
        self.route: Route | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route  # so request metrics and logs name the route, as FastAPI's routes do
        request = Request(scope, receive)
        try:
            current_principal(request, None)  # the API's own check: key, revocation, rate limit; sets state
        except HTTPException as exc:
            response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
            await response(scope, receive, send)
            return
        manager: StreamableHTTPSessionManager = request.app.state.mcp
        await manager.handle_request(scope, receive, send)


@asynccontextmanager
async def mcp_lifespan(app: FastAPI) -> Any:
    """Run the MCP session manager for the app's lifetime (a new one per startup: they cannot be restarted)."""
    server = build_server(_http_principal, lambda: app.state.turns)
    # Stateless and JSON: no session pinned to one worker, one JSON answer per request.
    manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=True)
    app.state.mcp = manager
    async with manager.run():
        yield


def mount_mcp(app: FastAPI, path: str = "/mcp") -> None:
    endpoint = MCPEndpoint()
    endpoint.route = Route(path, endpoint, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    app.router.routes.append(endpoint.route)


__all__ = ["ASK_TOOL", "MCPEndpoint", "build_server", "call_agent_tool", "list_tools_for", "mcp_lifespan",
           "mount_mcp"]
