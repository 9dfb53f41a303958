"""The HTTP API on the lumenware program, offline planner: identity from tokens only, thread ownership, limits,
streaming, metrics, and a bounded concurrent load on a real uvicorn server.

From the raw data (evals/datasets/lumenware/partners.csv): p-014 Vantage Networks is in pam-03's book; p-004
Thistle Networks is in pam-02's book; p-002 Westbrook Consulting is in pam-01's.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from readiness.settings import Settings, get_settings
from server.app import create_app

pytestmark = pytest.mark.xdist_group("server")
TOKENS = "tok-pam2=pam:pam-02,tok-p014=partner:p-014,tok-p004=partner:p-004,tok-admin=admin:ops"
PAM2 = {"Authorization": "Bearer tok-pam2"}
P014 = {"Authorization": "Bearer tok-p014"}
P004 = {"Authorization": "Bearer tok-p004"}
ADMIN = {"Authorization": "Bearer tok-admin"}


@pytest.fixture
def make_app(store: Engine) -> Any:
    """An app factory on a fresh lumenware store copy (tests.api_support.store), offline planner."""

    def make(**overrides: Any) -> Any:
        return create_app(Settings(**{"api_tokens": TOKENS, "secret_key": "test-secret", **overrides}))

    return make


@pytest.fixture
def client(make_app: Any) -> Iterator[TestClient]:
    with TestClient(make_app()) as c:
        yield c


def _partner_ids(calls: list[dict[str, Any]]) -> set[str]:
    return {str(c["args"][k]) for c in calls for k in ("partner", "partner_id") if k in c["args"]}


def test_pam_and_partner_get_answers_within_their_own_scope(client: TestClient) -> None:
    r = client.post("/invoke", json={"message": "Which dormant partners should I call this week?"}, headers=PAM2)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["name"] for c in body["tool_calls"]] == ["list_dormant_partners"]
    assert body["answer"] and body["refused"] is False and body["fallback"] is False and body["thread_id"]

    mine = client.post("/invoke", json={"message": "what's my readiness score?"}, headers=P014).json()
    assert mine["refused"] is False and mine["tool_calls"]
    assert _partner_ids(mine["tool_calls"]) <= {"p-014"}
    assert "/100" in mine["answer"]

    other = client.post("/invoke", json={"message": "What is Westbrook Consulting's readiness score?"},
                        headers=P014).json()
    assert other["refused"] is True
    # pam-02 cannot reach into pam-03's book either.
    theirs = client.post("/invoke", json={"message": "What is Vantage Networks' readiness score?"},
                         headers=PAM2).json()
    assert theirs["refused"] is True


def test_identity_comes_only_from_the_bearer_token(client: TestClient) -> None:
    assert client.post("/invoke", json={"message": "hi"}).status_code == 401
    bad = client.post("/invoke", json={"message": "hi"}, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    # A body cannot claim another identity: unknown fields are rejected, not ignored.
    smuggled = client.post("/invoke", json={"message": "hi", "as": "pam:pam-01"}, headers=P014)
    assert smuggled.status_code == 422
    me = client.get("/me", headers=P014).json()
    assert me == {"role": "partner", "principal_id": "p-014", "name": "Vantage Networks"}


def test_a_thread_is_visible_only_to_the_principal_that_started_it(client: TestClient) -> None:
    first = client.post("/invoke", json={"message": "what's my readiness score?"}, headers=P014).json()
    thread = first["thread_id"]
    history = client.get(f"/history/{thread}", headers=P014)
    assert history.status_code == 200
    roles = [m["role"] for m in history.json()["messages"]]
    assert roles[0] == "user" and roles[-1] == "assistant"
    assert history.json()["messages"][0]["content"] == "what's my readiness score?"

    for intruder in (P004, PAM2):
        assert client.get(f"/history/{thread}", headers=intruder).status_code == 404
        cont = client.post("/invoke", json={"message": "and my next milestone?", "thread_id": thread},
                           headers=intruder)
        assert cont.status_code == 404
    # The owner can continue it, and the intruders' attempts left no trace in it.
    again = client.post("/invoke", json={"message": "and what is my stage?", "thread_id": thread}, headers=P014)
    assert again.status_code == 200 and again.json()["thread_id"] == thread
    users = [m["content"] for m in client.get(f"/history/{thread}", headers=P014).json()["messages"]
             if m["role"] == "user"]
    assert users == ["what's my readiness score?", "and what is my stage?"]
    assert [t["thread_id"] for t in client.get("/threads", headers=P014).json()] == [thread]
    assert client.get("/threads", headers=P004).json() == []
    assert client.get("/history/never-created", headers=P014).status_code == 404


def test_oversize_and_malformed_input_get_clear_errors(client: TestClient) -> None:
    limit = get_settings().max_input_chars
    big = client.post("/invoke", json={"message": "x" * (limit + 1)}, headers=P014)
    assert big.status_code == 413
    assert f"{limit:,}" in big.json()["detail"] and "limit" in big.json()["detail"]
    assert client.post("/stream", json={"message": "x" * (limit + 1)}, headers=P014).status_code == 413
    raw = client.post("/invoke", content=b"{not json", headers={**P014, "Content-Type": "application/json"})
    assert raw.status_code == 422
    assert client.post("/invoke", json={"message": ""}, headers=P014).status_code == 422
    assert client.post("/invoke", json={"message": "hi", "thread_id": "../etc"}, headers=P014).status_code == 422


def _sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def test_stream_sends_tokens_tool_activity_and_a_final_end_event(client: TestClient) -> None:
    with client.stream("POST", "/stream", json={"message": "Which dormant partners should I call this week?"},
                       headers=PAM2) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = _sse(r.read().decode())
    names = [n for n, _ in events]
    assert names[0] == "start" and names[-1] == "end"
    assert names.index("tool_call") < names.index("tool_result") < names.index("token")
    assert [d["name"] for n, d in events if n == "tool_call"] == ["list_dormant_partners"]
    assert all(d["ok"] for n, d in events if n == "tool_result")
    streamed = "".join(d["text"] for n, d in events if n == "token")
    final = [d["text"] for n, d in events if n == "message"][-1]
    assert streamed.strip() == final.strip() and final
    end = events[-1][1]
    assert end == {"type": "end", "thread_id": events[0][1]["thread_id"], "refused": False, "fallback": False}
    history = client.get(f"/history/{end['thread_id']}", headers=PAM2).json()["messages"]
    assert history[-1]["content"] == final


def test_demo_login_issues_signed_tokens_only_when_enabled(make_app: Any) -> None:
    # Demo login never runs alongside API keys: this app has none, and enables it explicitly.
    with TestClient(make_app(api_tokens=None, demo_login=True)) as c:
        listed = {p["as"] for p in c.get("/principals").json()["principals"]}
        assert {"pam:pam-01", "pam:pam-02", "pam:pam-03"} <= listed
        partner = sorted(a for a in listed if a.startswith("partner:"))[0]
        token = c.post("/login", json={"as": partner}).json()["token"]
        me = c.get("/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert f"partner:{me['principal_id']}" == partner
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert c.get("/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        assert c.post("/login", json={"as": "partner:p-999"}).status_code == 404
        assert c.post("/login", json={"as": "admin:root"}).status_code == 422
    with TestClient(make_app(api_tokens=None, demo_login=False)) as c:
        assert c.post("/login", json={"as": "partner:p-014"}).status_code == 404
        assert c.get("/principals").status_code == 404
        # A token signed with the same key stops working when demo login is off.
        assert c.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_health_and_metrics_report_requests_turns_and_refusals(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "store": True, "checkpointer": True}
    client.post("/invoke", json={"message": "what's my readiness score?"}, headers=P014)
    client.post("/invoke", json={"message": "What is Westbrook Consulting's readiness score?"}, headers=P014)
    client.post("/invoke", json={"message": "hi"})
    # Metrics reveal traffic by route and role: admin keys only.
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=P014).status_code == 403
    text = client.get("/metrics", headers=ADMIN).text
    assert 'partnerpilot_turns_total{endpoint="invoke",role="partner"} 2.0' in text
    assert 'partnerpilot_refusals_total{role="partner"} 1.0' in text
    assert 'partnerpilot_http_requests_total{method="POST",route="/invoke",status="401"} 1.0' in text
    assert 'partnerpilot_http_request_duration_seconds_count{method="POST",route="/invoke"} 3.0' in text
    assert "text/html" in client.get("/").headers["content-type"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_concurrent_invokes_on_a_live_server_all_succeed(make_app: Any) -> None:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        questions = ["what's my readiness score?", "what should I do next?", "hello",
                     "Which dormant partners should I call this week?"]
        heads = [P014, P004, P014, PAM2]

        def call(i: int) -> httpx.Response:
            return httpx.post(f"{base}/invoke", json={"message": questions[i % 4]}, headers=heads[i % 4], timeout=30)

        def fault(i: int) -> httpx.Response:  # bad requests interleaved with the load must not disturb it
            body = {"message": "x" * 10_000} if i % 2 else {"message": "hi"}
            return httpx.post(f"{base}/invoke", json=body, headers=P014 if i % 2 else {}, timeout=30)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=24) as pool:
            good = [pool.submit(call, i) for i in range(20)]
            bad = [pool.submit(fault, i) for i in range(4)]
            responses = [f.result() for f in good]
            faults = [f.result().status_code for f in bad]
        elapsed = time.perf_counter() - started
        assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses if r.status_code != 200]
        assert all(r.json()["answer"] for r in responses)
        assert len({r.json()["thread_id"] for r in responses}) == 20
        assert sorted(faults) == [401, 401, 413, 413]
        assert httpx.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
        assert elapsed < 20, f"20 concurrent turns took {elapsed:.1f}s"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
