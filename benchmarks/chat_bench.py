"""OpenAI-compatible chat benchmark (JSON on stdout): S concurrent conversations through `POST
/v1/chat/completions`, streamed, driven by the official `openai` client, T turns each, each session waiting W
seconds between an answer and its next message, on the offline model, against `partnerpilot up --workers N` on
PostgreSQL + Redis (the same throw-away deployment, principals and warm-up as benchmarks.stream_bench, so the two
compare). Each turn sends the whole history back, as chat front ends do: the server finds the thread from it.

Per turn: time to the first content chunk and to the end of the stream, from the request being sent; errors are
exceptions, empty answers and streams without a final `partnerpilot` end event.

    python -m benchmarks.chat_bench [--sessions 50] [--turns 10] [--think 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from openai import AsyncOpenAI

from benchmarks.deployment import Deployment, deployment, load_average, percentile
from benchmarks.stream_bench import PAM_TURNS, PARTNER_TURNS


async def one_turn(client: AsyncOpenAI, history: list[dict[str, str]]) -> dict[str, Any]:
    started = time.perf_counter()
    first: float | None = None
    answer, ended = "", False
    stream = await client.chat.completions.create(model="partnerpilot", messages=history,  # type: ignore[arg-type]
                                                  stream=True)
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter()
            answer += chunk.choices[0].delta.content
        ended = ended or (chunk.model_extra or {}).get("partnerpilot", {}).get("type") == "end"
    done = time.perf_counter()
    if not answer or not ended:
        return {"ok": False, "error": "empty answer" if not answer else "no end event"}
    return {"ok": True, "answer": answer, "ttft_ms": ((first or done) - started) * 1000,
            "turn_ms": (done - started) * 1000}


async def session(d: Deployment, actor: str, turns: int, think: float, out: list[dict[str, Any]],
                  offset: float) -> None:
    await asyncio.sleep(offset)
    script = PAM_TURNS if actor.startswith("pam:") else PARTNER_TURNS
    history: list[dict[str, str]] = []
    async with AsyncOpenAI(base_url=f"{d.base}/v1", api_key=d.keys[actor], max_retries=0, timeout=120) as client:
        for i in range(turns):
            history.append({"role": "user", "content": script[i % len(script)]})
            try:
                r = await one_turn(client, history)
            except Exception as exc:  # the client's API errors, timeouts, broken streams
                r = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:120]}"}
            out.append(r)
            if not r["ok"]:
                return
            history.append({"role": "assistant", "content": r["answer"]})
            await asyncio.sleep(think)


async def run(d: Deployment, sessions: int, turns: int, think: float) -> dict[str, Any]:
    partners = sorted(a for a in d.keys if a.startswith("partner:"))
    pams = sorted(a for a in d.keys if a.startswith("pam:"))
    actors = [pams[i % len(pams)] if i % 5 == 0 else partners[i % len(partners)] for i in range(sessions)]
    warm: list[dict[str, Any]] = []
    await asyncio.gather(*(session(d, a, 2, 0.0, warm, 0.0) for a in actors[:10]))
    rss_start = d.worker_rss_mb()
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    await asyncio.gather(*(session(d, a, turns, think, results, think * i / sessions) for i, a in enumerate(actors)))
    wall = time.perf_counter() - started
    rss_end = d.worker_rss_mb()
    ok = [r for r in results if r["ok"]]
    before, after = sum(rss_start.values()), sum(rss_end.values())
    return {
        "sessions": sessions, "turns_per_session": turns, "think_s": think, "turns": len(results),
        "errors": len(results) - len(ok) + (sessions * turns - len(results)),
        "error_samples": [r.get("error") for r in results if not r["ok"]][:5],
        "ttft_p50_ms": percentile([r["ttft_ms"] for r in ok], 50),
        "ttft_p95_ms": percentile([r["ttft_ms"] for r in ok], 95),
        "turn_p50_ms": percentile([r["turn_ms"] for r in ok], 50),
        "turn_p95_ms": percentile([r["turn_ms"] for r in ok], 95),
        "turns_per_s": round(len(ok) / wall, 1), "seconds": round(wall, 1),
        "worker_rss_mb_start": {str(k): round(v, 1) for k, v in rss_start.items()},
        "worker_rss_mb_end": {str(k): round(v, 1) for k, v in rss_end.items()},
        "rss_growth_pct": round((after - before) / before * 100, 1) if before else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--think", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with deployment(workers=args.workers) as d:
        load_before = load_average()
        result = asyncio.run(run(d, args.sessions, args.turns, args.think))
        print(json.dumps({"endpoint": "/v1/chat/completions", "workers": args.workers, "store": "postgresql",
                          "model": "offline", "load_average_before": load_before,
                          "load_average_after": load_average(), **result}, indent=2))


if __name__ == "__main__":
    main()
