"""Abuse probe (JSON on stdout): the identity and hostile-input findings of issue 17, replayed against a running
server on 127.0.0.1, so a before/after comparison is one command against each build.

    python -m benchmarks.abuse_probe [--base http://127.0.0.1:8000 --token TOKEN] [--body-mb 20]

TOKEN: any valid bearer for a partner (a store key or a PARTNERPILOT_API_TOKENS token). Without --base, the probe
starts a server of its own (this checkout, lumenware in a temp SQLite store, a development token configured and
PARTNERPILOT_DEMO_LOGIN=true) on a free 127.0.0.1 port. Probes: demo login with no credential (while a token is
configured), an oversize unauthenticated body, a validation error on a long input, lone surrogates on the chat and
login routes, /metrics without a key, security headers on the page.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def _timed(fn: Any) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    r = fn()
    return r, round((time.perf_counter() - started) * 1000, 1)


def probe(base: str, token: str, body_mb: int) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=300) as c:
        login = c.post("/login", json={"as": "pam:pam-02"})
        out["demo_login_without_credential"] = {"status": login.status_code,
                                                "token_issued": "token" in login.text}
        big = b'{"as": "' + b"x" * (body_mb * 1024 * 1024) + b'"}'
        r, ms = _timed(lambda: c.post("/login", content=big, headers={"Content-Type": "application/json"}))
        out["oversize_login_body"] = {"sent_mb": body_mb, "status": r.status_code, "response_bytes": len(r.content),
                                      "ms": ms}
        r = c.post("/login", json={"as": "Q" * 100_000})
        out["validation_error_on_100k_input"] = {"status": r.status_code, "response_bytes": len(r.content)}
        surrogate = b'{"message": "hi \\ud800"}'
        out["lone_surrogate"] = {}
        for path, body in (("/invoke", surrogate), ("/stream", surrogate), ("/login", b'{"as": "pam:\\ud800"}')):
            try:
                r = c.post(path, content=body, headers={**auth, "Content-Type": "application/json"})
                out["lone_surrogate"][path] = r.status_code
            except httpx.HTTPError as exc:  # a server that dies mid-response resets the connection
                out["lone_surrogate"][path] = f"no response ({type(exc).__name__})"
        out["metrics_without_key"] = c.get("/metrics").status_code
        page = c.get("/")
        out["page_headers"] = {h: page.headers.get(h) is not None for h in (
            "content-security-policy", "x-frame-options", "referrer-policy")}
    return out


@contextmanager
def own_server(token: str) -> Iterator[str]:
    from benchmarks.deployment import AS_OF, LUMENWARE, ROOT, free_port
    from readiness.importers import import_into_sqlite_file

    tmp = Path(tempfile.mkdtemp(prefix="pp-abuse-probe-"))
    import_into_sqlite_file(tmp / "store.db", LUMENWARE)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERPILOT_")}
    env.update({"PARTNERPILOT_DATABASE_URL": f"sqlite:///{tmp / 'store.db'}", "PARTNERPILOT_HOME": str(tmp / "home"),
                "PARTNERPILOT_AS_OF": AS_OF, "PARTNERPILOT_PROVIDER": "offline", "PARTNERPILOT_DEMO_LOGIN": "true",
                "PARTNERPILOT_API_TOKENS": f"{token}=partner:p-004", "ANONYMIZED_TELEMETRY": "False"})
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "server.app:app", "--port", str(port), "--log-level",
                             "warning"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the probe's own server did not start")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default=None, help="A running server; default: start one of this checkout.")
    parser.add_argument("--token", default=None, help="A partner's bearer on that server.")
    parser.add_argument("--body-mb", type=int, default=20)
    args = parser.parse_args()
    if args.base is not None:
        if not args.token:
            parser.error("--base needs --token")
        print(json.dumps(probe(args.base, args.token, args.body_mb), indent=2))
        return
    token = "probe-" + uuid.uuid4().hex
    with own_server(token) as base:
        print(json.dumps({"server": "own (this checkout)", **probe(base, token, args.body_mb)}, indent=2))


if __name__ == "__main__":
    main()
