"""Streaming chat benchmark (JSON on stdout): S concurrent sessions on `/stream` (SSE), T turns each, each session
waiting W seconds between an answer and its next message, on the offline model, against `partnerpilot up
--workers N` on PostgreSQL (store and checkpoints) + Redis.

Per turn: time to first token (the first `token` event, or the complete `message` when nothing streamed token by
token) and time to the `end` event, both from the request being sent; errors are any non-200, an `error` event or a
turn without an `end`. Worker resident memory is read from /proc after a warm-up round and after the run.

    python -m benchmarks.stream_bench [--sessions 50] [--turns 10] [--think 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx

from benchmarks.deployment import Deployment, deployment, load_average, percentile

WARM_SESSIONS = 10
PARTNER_TURNS = ["hello", "what's my readiness score?", "why is it so low?", "what is my biggest gap?",
                 "show me the playbook for it", "how is my plan going?", "what should I do next?",
                 "any nudges for me?", "how is my pipeline?", "thanks"]
PAM_TURNS = ["Which dormant partners should I call this week?", "and the second one?", "how is the pipeline in my "
             "book?", "any nudges?", "who has claims waiting for me?", "what is at stake in my book?",
             "which partners stalled in onboarding?", "what should I do first?", "show me the call list again",
             "thanks"]


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            out.append((name, json.loads("\n".join(data))))
    return out


async def one_turn(c: httpx.AsyncClient, d: Deployment, actor: str, message: str, thread: str | None
                   ) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, **({"thread_id": thread} if thread else {})}
    started = time.perf_counter()
    first: float | None = None
    buffer = ""
    result: dict[str, Any] = {"ok": False, "thread": thread}
    async with c.stream("POST", "/stream", json=body, headers=d.auth(actor)) as r:
        if r.status_code != 200:
            result["error"] = f"status {r.status_code}"
            return result
        async for chunk in r.aiter_text():
            buffer += chunk
            if first is None and ("event: token" in buffer or "event: message" in buffer):
                first = time.perf_counter()
    done = time.perf_counter()
    events = _events(buffer)
    names = [n for n, _ in events]
    if names and names[0] == "start":
        result["thread"] = events[0][1]["thread_id"]
    if "error" in names or not names or names[-1] != "end":
        result["error"] = f"events {names[-3:]}"
        return result
    result.update(ok=True, ttft_ms=((first or done) - started) * 1000, turn_ms=(done - started) * 1000)
    return result


async def session(c: httpx.AsyncClient, d: Deployment, actor: str, turns: int, think: float,
                  out: list[dict[str, Any]], offset: float) -> None:
    await asyncio.sleep(offset)  # sessions start spread over the first think interval, as people arrive
    script = PAM_TURNS if actor.startswith("pam:") else PARTNER_TURNS
    thread = None
    for i in range(turns):
        try:
            r = await one_turn(c, d, actor, script[i % len(script)], thread)
        except httpx.HTTPError as exc:
            r = {"ok": False, "error": type(exc).__name__}
        out.append(r)
        thread = r.get("thread") or thread
        await asyncio.sleep(think)


async def run(d: Deployment, sessions: int, turns: int, think: float) -> dict[str, Any]:
    partners = sorted(a for a in d.keys if a.startswith("partner:"))
    pams = sorted(a for a in d.keys if a.startswith("pam:"))
    # One session in five is a PAM (several sessions per PAM, as a PAM keeps a tab per question).
    actors = [pams[i % len(pams)] if i % 5 == 0 else partners[i % len(partners)] for i in range(sessions)]
    limits = httpx.Limits(max_connections=sessions + 10, max_keepalive_connections=sessions + 10)
    async with httpx.AsyncClient(base_url=d.base, timeout=120, limits=limits) as c:
        # Warm-up: the whole script, by enough sessions that every worker has run every kind of turn (loaded the
        # knowledge base, filled its caches) before the memory baseline is read; then every session's first turn.
        warm: list[dict[str, Any]] = []
        await asyncio.gather(*(session(c, d, a, turns, 0.0, warm, 0.0) for a in actors[:WARM_SESSIONS]))
        await asyncio.gather(*(session(c, d, a, 1, 0.0, warm, think * i / sessions) for i, a in enumerate(actors)))
        rss_start = d.worker_rss_mb()
        results: list[dict[str, Any]] = []
        started = time.perf_counter()
        await asyncio.gather(*(session(c, d, a, turns, think, results, think * i / sessions)
                               for i, a in enumerate(actors)))
        wall = time.perf_counter() - started
        rss_end = d.worker_rss_mb()
    ok = [r for r in results if r["ok"]]
    before, after = sum(rss_start.values()), sum(rss_end.values())
    return {
        "sessions": sessions, "turns_per_session": turns, "think_s": think, "turns": len(results),
        "errors": len(results) - len(ok), "error_samples": [r.get("error") for r in results if not r["ok"]][:5],
        "ttft_p50_ms": percentile([r["ttft_ms"] for r in ok], 50),
        "ttft_p95_ms": percentile([r["ttft_ms"] for r in ok], 95),
        "turn_p50_ms": percentile([r["turn_ms"] for r in ok], 50),
        "turn_p95_ms": percentile([r["turn_ms"] for r in ok], 95),
        "turns_per_s": round(len(ok) / wall, 1), "seconds": round(wall, 1),
        "worker_rss_mb_start": {str(k): round(v, 1) for k, v in rss_start.items()},
        "worker_rss_mb_end": {str(k): round(v, 1) for k, v in rss_end.items()},
        "rss_growth_pct": round((after - before) / before * 100, 1) if before else None,
        "worker_restarts": len(set(rss_start) - set(rss_end)),
        "warmup_errors": sum(not r["ok"] for r in warm),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--think", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-read-cache", action="store_true",
                        help="PARTNERPILOT_READ_CACHE=false: every tool read and scoring frame computed afresh")
    args = parser.parse_args()
    env = {"PARTNERPILOT_READ_CACHE": "false"} if args.no_read_cache else None
    with deployment(workers=args.workers, extra_env=env) as d:
        load_before = load_average()
        result = asyncio.run(run(d, args.sessions, args.turns, args.think))
        print(json.dumps({"workers": args.workers, "store": "postgresql", "checkpointer": "postgresql",
                          "model": "offline", "read_cache": not args.no_read_cache, "load_average_before": load_before,
                          "load_average_after": load_average(), **result}, indent=2))


if __name__ == "__main__":
    main()
