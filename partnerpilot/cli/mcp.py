"""`partnerpilot mcp [--key KEY]`: the MCP server over stdio, for a desktop client (Claude Desktop, an IDE...).

The principal comes from the API key given here or in `PARTNERPILOT_API_KEY`, authenticated exactly as the HTTP
server does when the process starts; tool arguments never carry identity. Standard output is the protocol:
logs go to standard error.
"""

from __future__ import annotations

import anyio
import typer

from partnerpilot.cli.common import fail
from readiness.scope import Principal


def authenticate(key: str) -> Principal:
    """The principal a key stands for, as the HTTP API would resolve it, or exit with an error."""
    from agent.services import get_services
    from readiness.errors import OutOfScope
    from readiness.scope import validate_principal
    from readiness.settings import get_settings
    from server.auth import Authenticator
    from server.shared import SharedUnavailable, shared_state

    settings = get_settings()
    try:
        with get_services().session() as s:
            cred = Authenticator(settings, shared_state(settings.redis_url)).authenticate(s, key)
            if cred is None:
                fail("the key is not valid (unknown, revoked or expired)", 2)
            validate_principal(s, cred.principal)
    except OutOfScope as exc:
        fail(str(exc), 2)
    except SharedUnavailable as exc:
        fail(str(exc), 2)
    return cred.principal


async def _serve(principal: Principal) -> None:
    from mcp.server.stdio import stdio_server

    from agent.graph import build_graph
    from agent.memory import open_checkpointer
    from readiness.settings import get_settings
    from server.mcp_server import build_server
    from server.turn_service import TurnService

    with open_checkpointer() as checkpointer:
        graph = build_graph(checkpointer=checkpointer)
        turns = TurnService(get_settings(), graph, checkpointer)
        server = build_server(lambda _ctx: principal, lambda: turns)
        try:
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())
        finally:
            turns.close()


def mcp_command(
    key: str = typer.Option(..., "--key", envvar="PARTNERPILOT_API_KEY", show_default=False,
                            help="API key whose principal the tools act as (or PARTNERPILOT_API_KEY)."),
) -> None:
    """Serve the agent's tools and ask_partnerpilot over MCP on stdin/stdout."""
    from server.observability import configure_logging

    configure_logging()
    principal = authenticate(key)
    anyio.run(_serve, principal)


def register(app: typer.Typer) -> None:
    app.command("mcp")(mcp_command)


__all__ = ["authenticate", "mcp_command", "register"]
