"""Abuse probe (JSON on stdout): the identity and hostile-input findings of issue 17, replayed against a running
server on 127.0.0.1, so a before/after comparison is one command against each build.

    python -m benchmarks.abuse_probe --base http://127.0.0.1:8000 --token TOKEN [--body-mb 20]

TOKEN: any valid bearer for a partner (a store key or a PARTNERPILOT_API_TOKENS token). Probes: demo login with no
credential (while a token is configured), an oversize unauthenticated body, a validation error on a long input,
lone surrogates on the chat and login routes, /metrics without a key, security headers on the page.
"""

from __future__ import annotations

import argparse
import json
import time
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True)
    parser.add_argument("--body-mb", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(probe(args.base, args.token, args.body_mb), indent=2))


if __name__ == "__main__":
    main()
