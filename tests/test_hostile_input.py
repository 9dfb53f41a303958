"""Hostile input against the server (issue 17): every route refuses an oversize body before parsing it, validation
errors never echo more than a short prefix of the input, invalid Unicode is a 400 (never a 500), HTML carries
security headers, metrics need an admin key. Each test failed on the server as it was before these guards."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import uvicorn
from fastapi.testclient import TestClient

from server.observability import configure_logging
from tests.api_support import Api, app_for, free_port

pytestmark = pytest.mark.xdist_group("server")


def test_an_oversize_body_is_refused_on_every_route_before_it_is_read(api: Api) -> None:
    limit = 256 * 1024
    big = b'{"message": "' + b"x" * (limit + 10) + b'"}'
    for method, path, headers in (("POST", "/login", {}), ("POST", "/invoke", api.h("p004")),
                                  ("POST", "/v1/partners/p-004/signals", api.h("p004")),
                                  ("POST", "/no-such-route", {})):
        r = api.client.request(method, path, content=big, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 413, (path, r.status_code)
        assert len(r.content) < 200 and f"{limit:,}" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b'{"as": "'
        for _ in range(300):
            yield b"y" * 1024
        yield b'"}'

    assert api.client.post("/login", content=chunks(), headers={"Content-Type": "application/json"}
                           ).status_code == 413
    # Uploads have their own, larger limit.
    upload = {"files": ("partners.csv", b"partner_id,name\n" + b"p-1,x\n" * 60_000, "text/csv")}
    assert api.client.post("/v1/imports", files=upload, headers=api.h("admin")).status_code != 413


@pytest.fixture
def live_server(api: Api) -> Iterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app_for(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def test_a_200_mb_unauthenticated_login_is_refused_from_its_headers_alone(live_server: int) -> None:
    """Before: the server read all 200 MB, answered a 200 MB 422, and its memory grew by 0.8 GB."""
    with socket.create_connection(("127.0.0.1", live_server), timeout=5) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 209715200\r\n\r\n" + b'{"as": "' + b"z" * 65536)
        started = time.monotonic()
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < 60:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert time.monotonic() - started < 2 and len(reply) < 1000


def test_validation_errors_quote_at_most_a_short_prefix_of_the_input(api: Api) -> None:
    """Before: each validation error carried the whole offending input back to the caller."""
    marker = "Q" * 100_000
    cases: list[tuple[str, str, Any, dict[str, str]]] = [
        ("POST", "/login", {"as": marker}, {}),
        ("POST", "/invoke", {"message": "hi", "thread_id": marker}, api.h("p004")),
        ("POST", "/v1/partners/p-004/signals", {"dimension": marker, "level": "high", "evidence": "e"}, api.h("p004")),
        ("POST", "/invoke", {"message": "hi", marker[:5000]: 1}, api.h("p004")),
    ]
    for method, path, body, headers in cases:
        r = api.client.request(method, path, json=body, headers=headers)
        assert r.status_code == 422, (path, r.status_code)
        assert len(r.content) < 2000, (path, len(r.content))
        assert "Q" * 40 not in r.text
        payload = r.json()
        assert isinstance(payload["detail"], str) and payload["errors"][0]["loc"]
    broken = api.client.post("/invoke", content=b'{"message": "' + marker.encode(), headers={
        **api.h("p004"), "Content-Type": "application/json"})
    assert broken.status_code == 422 and "Q" * 40 not in broken.text


@pytest.mark.parametrize("path", ["/invoke", "/stream", "/login", "/v1/partners/p-004/signals"])
def test_a_lone_surrogate_is_a_400_never_a_500(api: Api, path: str) -> None:
    """Before: `"\\ud800"` in a message reached the tokenizer and the store and came back as a 500."""
    field = {"/login": "as", "/v1/partners/p-004/signals": "evidence"}.get(path, "message")
    extra = {"/v1/partners/p-004/signals": ', "dimension": "capability", "level": "high"'}.get(path, "")
    raw = ('{"' + field + '": "abc \\ud800 def"' + extra + "}").encode()
    r = api.client.post(path, content=raw, headers={**api.h("p004"), "Content-Type": "application/json"})
    assert r.status_code == 400, (path, r.status_code, r.text[:200])
    assert "Unicode" in r.json()["detail"]
    not_utf8 = ('{"' + field + '": "abc ').encode() + b"\xed\xa0\x80\xff" + b'"}'
    assert api.client.post(path, content=not_utf8, headers={**api.h("p004"), "Content-Type": "application/json"}
                           ).status_code == 400


def test_a_paired_surrogate_escape_is_ordinary_text(api: Api) -> None:
    r = api.client.post("/invoke", content=b'{"message": "what is my score? \\ud83d\\ude00"}',
                        headers={**api.h("p004"), "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["answer"]
    history = api.client.get(f"/history/{r.json()['thread_id']}", headers=api.h("p004")).json()
    assert history["messages"][0]["content"] == "what is my score? \U0001f600"


def test_hostile_strings_in_paths_queries_and_bodies_never_cause_a_5xx(api: Api) -> None:
    hostile = ["\u0000", "%00", "../../etc/passwd", "' OR 1=1 --", "p-004\u200b", "\u202ep-004", "𝔭-004",
               "a" * 5000, "%ED%A0%80", "{{7*7}}", "<script>x</script>", "p-004/../p-014", "\\", "🙂" * 50]
    seen = []
    for h in hostile:
        q = quote(h, safe="")  # as a client must send it in a path
        for method, path, kwargs in (
            ("GET", f"/v1/partners/{q}", {}), ("GET", f"/v1/partners/{q}/score", {}),
            ("GET", "/v1/partners", {"params": {"q": h}}), ("GET", "/v1/pipeline", {"params": {"partner_id": h}}),
            ("GET", "/v1/playbooks/search", {"params": {"q": h}}), ("GET", f"/v1/playbooks/{q}", {}),
            ("POST", "/v1/partners/p-004/signals", {"json": {"dimension": "capability", "level": "high",
                                                             "evidence": h}}),
            ("PATCH", f"/v1/partners/p-004/plan/milestones/{q}", {"json": {"action": "claim", "note": h}}),
            ("POST", "/invoke", {"json": {"message": h}}), ("POST", "/login", {"json": {"as": h}}),
        ):
            r = api.client.request(method, path, headers=api.h("p004"), **kwargs)
            seen.append(r.status_code)
            assert r.status_code < 500, (method, path[:80], r.status_code, r.text[:200])
            assert r.headers["content-type"].startswith("application/json")
    assert 200 in seen and 404 in seen and 422 in seen


def test_html_responses_carry_security_headers_and_metrics_need_an_admin_key(api: Api) -> None:
    page = api.client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in api.client.get("/docs").headers
    authed = api.client.get("/v1/me", headers=api.h("p004"))
    assert authed.headers["cache-control"] == "no-store" and authed.headers["x-request-id"]
    assert api.client.get("/metrics").status_code == 401
    assert api.client.get("/metrics", headers=api.h("pam2")).status_code == 403
    assert api.client.get("/metrics", headers=api.h("admin")).text.startswith("# HELP")


def test_request_ids_are_echoed_and_logged_as_json(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(logging.INFO, "json")  # as the server configures it (another test may have changed it)
    r = api.client.get("/v1/me", headers=api.h("pam2", **{"X-Request-ID": "trace-abc.123"}))
    assert r.headers["x-request-id"] == "trace-abc.123"
    forged = api.client.get("/v1/me", headers=api.h("pam2", **{"X-Request-ID": "bad id\twith spaces"}))
    assert forged.headers["x-request-id"] != "bad id\twith spaces" and len(forged.headers["x-request-id"]) == 16
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    logged = [x for x in lines if x.get("event") == "request" and x.get("request_id") == "trace-abc.123"]
    assert logged and logged[0]["route"] == "/v1/me" and logged[0]["principal"] == "pam:pam-02"
    assert logged[0]["status"] == 200 and isinstance(logged[0]["ms"], float)


def test_an_unexpected_error_is_a_json_500_with_the_request_id(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    import server.api.book as book

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(book, "call_list", broken)
    with TestClient(api.client.app, raise_server_exceptions=False) as c:
        r = c.get("/v1/call-list", headers=api.h("pam2"))
    assert r.status_code == 500 and "secret" not in r.text
    assert r.json()["request_id"] == r.headers["x-request-id"]
