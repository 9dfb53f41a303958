"""The MCP server, driven by the official `mcp` SDK client: over streamable HTTP on a live server and over stdio
(`partnerpilot mcp`), listing and calling tools as the key's principal, never anyone the arguments name.

From the raw data: p-014 Vantage Networks is in pam-03's book, p-004 Thistle Networks in pam-02's,
p-002 Westbrook Consulting in pam-01's.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from agent.services import get_services
from readiness.scoring import call_list
from tests.conftest import LUMENWARE_AS_OF
from tests.live import serve
from tests.test_server import TOKENS, make_app  # noqa: F401  (the native API's app fixture and keys)

pytestmark = pytest.mark.xdist_group("server")
PAM_TOOLS = {"find_partner", "list_dormant_partners"}


@pytest.fixture
def base(make_app: Any) -> Iterator[str]:  # noqa: F811
    with serve(make_app()) as url:
        yield url


def _over_http(base: str, key: str) -> Client:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    return Client(streamable_http_client(f"{base}/mcp", http_client=http))


async def _call(client: Client, tool: str, args: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    result = await client.call_tool(tool, args)
    return result.is_error, dict(result.structured_content or {})


def test_tools_listed_per_role_and_called_as_the_keys_principal(base: str) -> None:
    async def scenario() -> None:
        async with _over_http(base, "tok-p014") as partner:
            names = {t.name for t in (await partner.list_tools()).tools}
            assert {"get_readiness_score", "get_activation_plan", "ask_partnerpilot"} <= names
            assert not names & PAM_TOOLS and "decline_request" not in names
            failed, own = await _call(partner, "get_readiness_score", {})
            assert not failed and own["data"]["partner_id"] == "p-014" and own["data"]["name"] == "Vantage Networks"

            # The partner key cannot reach another partner, by name, by id, or by smuggling an identity.
            for args in ({"partner": "Westbrook Consulting"}, {"partner": "p-002"},
                         {"partner": "p-002", "runtime": {"context": {"role": "leader", "principal_id": "x"}}}):
                failed, body = await _call(partner, "get_readiness_score", args)
                assert failed and body["refused"] is True and "p-002" not in str(body.get("data", "")), args
            failed, body = await _call(partner, "list_dormant_partners", {})  # a PAM tool, not listed for it
            assert failed and body["refused"] is True
            failed, body = await _call(partner, "record_readiness_signal", {"dimension": "bogus", "evidence": "x"})
            assert failed and body["code"] == "invalid_arguments"

        async with _over_http(base, "tok-pam2") as pam:
            assert {t.name for t in (await pam.list_tools()).tools} >= PAM_TOOLS
            failed, book = await _call(pam, "list_dormant_partners", {"limit": 3})
            with get_services().session() as s:
                expected = [e.partner_id for e in call_list(s, date.fromisoformat(LUMENWARE_AS_OF), pam_id="pam-02",
                                                           limit=3)]
            assert not failed and [p["partner_id"] for p in book["data"]["partners"]] == expected
            failed, body = await _call(pam, "get_readiness_score", {"partner": "Vantage Networks"})  # pam-03's
            assert failed and body["refused"] is True
            failed, body = await _call(pam, "get_readiness_score", {"partner": "Thistle Networks"})
            assert not failed and body["data"]["partner_id"] == "p-004"

    asyncio.run(scenario())


def test_ask_partnerpilot_runs_whole_turns_on_threads_only_their_owner_continues(base: str) -> None:
    async def scenario() -> None:
        async with _over_http(base, "tok-p014") as partner:
            failed, first = await _call(partner, "ask_partnerpilot", {"message": "what's my readiness score?"})
            turn = first["data"]
            assert not failed and "/100" in turn["answer"] and turn["refused"] is False
            assert [c["name"] for c in turn["tool_calls"]] == ["get_readiness_score"]
            failed, second = await _call(partner, "ask_partnerpilot", {"message": "and what should I do next?",
                                                                       "thread_id": turn["thread_id"]})
            assert not failed and second["data"]["thread_id"] == turn["thread_id"]
            failed, refused = await _call(partner, "ask_partnerpilot",
                                          {"message": "What is Westbrook Consulting's readiness score?"})
            assert refused["data"]["refused"] is True
        async with _over_http(base, "tok-p004") as other:
            failed, body = await _call(other, "ask_partnerpilot", {"message": "hi", "thread_id": turn["thread_id"]})
            assert failed and body["code"] == "not_found"

        history = httpx.get(f"{base}/history/{turn['thread_id']}", headers={"Authorization": "Bearer tok-p014"},
                            timeout=30).json()["messages"]
        assert [m["content"] for m in history if m["role"] == "user"] == [
            "what's my readiness score?", "and what should I do next?"]

    asyncio.run(scenario())


def test_mcp_endpoint_rejects_missing_and_bad_keys(base: str) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    assert httpx.post(f"{base}/mcp", json=ping, headers=headers, timeout=10).status_code == 401
    bad = httpx.post(f"{base}/mcp", json=ping, headers={**headers, "Authorization": "Bearer nope"}, timeout=10)
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"


def test_stdio_server_acts_as_the_key_given_at_start(lumenware_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    shutil.copyfile(lumenware_db, db)
    env = {**os.environ, "PARTNERPILOT_HOME": str(tmp_path / "home"), "PARTNERPILOT_DATABASE_URL": f"sqlite:///{db}",
           "PARTNERPILOT_AS_OF": LUMENWARE_AS_OF, "PARTNERPILOT_PROVIDER": "offline",
           "PARTNERPILOT_API_TOKENS": TOKENS}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    exe = str(Path(sys.executable).with_name("partnerpilot"))

    refused = subprocess.run([exe, "mcp", "--key", "nope"], env=env, capture_output=True, text=True, timeout=120,
                             stdin=subprocess.DEVNULL)
    assert refused.returncode == 2 and "not valid" in refused.stderr

    async def scenario() -> None:
        params = StdioServerParameters(command=exe, args=["mcp"], env={**env, "PARTNERPILOT_API_KEY": "tok-p014"})
        async with Client(params, read_timeout_seconds=120) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert "ask_partnerpilot" in names and not names & PAM_TOOLS
            failed, own = await _call(client, "get_readiness_score", {})
            assert not failed and own["data"]["partner_id"] == "p-014"
            failed, body = await _call(client, "get_readiness_score", {"partner": "Thistle Networks"})
            assert failed and body["refused"] is True

    asyncio.run(scenario())
    assert subprocess.run([exe, "mcp", "--help"], capture_output=True, timeout=60).returncode == 0
