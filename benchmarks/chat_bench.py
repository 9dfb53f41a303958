"""Concurrent streaming chat through the OpenAI-compatible API, driven by the official `openai` client.

Starts `partnerpilot up --workers N` on a throw-away store (PostgreSQL and Redis when N > 1, SQLite otherwise),
then runs S sessions at once, each a conversation of T turns whose history the client sends back (the stateless
OpenAI way, so the server finds each thread from it), waiting W seconds between an answer and its next message.
Measures time to first token and whole-turn time, errors, and the workers' resident memory after warm-up and at
the end. Bounded: S·T turns, 127.0.0.1 only.

    .venv/bin/python -m benchmarks.chat_bench --sessions 50 --turns 10 --wait 2 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from openai import AsyncOpenAI

ROOT = Path(__file__).resolve().parent.parent
LUMENWARE = ROOT / "evals" / "datasets" / "lumenware"
PG_ADMIN = os.environ.get("PARTNERPILOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# Who talks, and what they say: PAMs about their book, partners about themselves (lumenware's principals).
PRINCIPALS = ["pam:pam-01", "pam:pam-02", "pam:pam-03", "partner:p-004", "partner:p-014", "partner:p-002"]
PAM_TURNS = ["Which dormant partners should I call this week?", "Why is the first one on the list?",
             "What is their readiness score?", "What are their biggest gaps?", "Any nudges in my book?",
             "Show me the pipeline of my book", "How about the second one on the list?",
             "What playbook helps with a first call to a dormant partner?", "What is the revenue at stake?",
             "Thanks, what should I do first?"]
PARTNER_TURNS = ["What's my readiness score?", "Why is it that low?", "What should I do next?",
                 "What is my next milestone?", "Any reminders for me?", "How is my pipeline?",
                 "How do I build an ICP?", "What is holding us back?", "How much revenue could we make?",
                 "Thanks, where do we stand overall?"]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else float("nan")


def _rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    kids = [int(p) for p in out.split()]
    return kids + [g for k in kids for g in _children(k)]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _session(client: AsyncOpenAI, turns: list[str], wait_s: float, stats: dict[str, list[Any]]) -> None:
    history: list[dict[str, str]] = []
    for i, message in enumerate(turns):
        history.append({"role": "user", "content": message})
        started = time.perf_counter()
        first: float | None = None
        answer = ""
        try:
            stream = await client.chat.completions.create(model="partnerpilot", messages=history,  # type: ignore[arg-type]
                                                          stream=True)
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    if first is None:
                        first = time.perf_counter() - started
                    answer += chunk.choices[0].delta.content
            if not answer or first is None:
                raise RuntimeError("empty answer")
        except Exception as exc:
            stats["errors"].append(f"{type(exc).__name__}: {str(exc)[:120]}")
            return
        stats["ttft"].append(first)
        stats["turn"].append(time.perf_counter() - started)
        history.append({"role": "assistant", "content": answer})
        if i + 1 < len(turns):
            await asyncio.sleep(wait_s)


async def _load(base: str, tokens: list[str], sessions: int, turns: int, wait_s: float) -> dict[str, list[Any]]:
    stats: dict[str, list[Any]] = {"ttft": [], "turn": [], "errors": []}
    clients = [AsyncOpenAI(base_url=f"{base}/v1", api_key=tokens[i], max_retries=0, timeout=120)
               for i in range(sessions)]
    jobs = []
    for i, client in enumerate(clients):
        script = PAM_TURNS if PRINCIPALS[i % len(PRINCIPALS)].startswith("pam") else PARTNER_TURNS
        jobs.append(_session(client, script[:turns], wait_s, stats))
    await asyncio.gather(*jobs)
    for client in clients:
        await client.close()
    return stats


def _store(workers: int, home: Path) -> tuple[dict[str, str], str | None]:
    """Environment for the server: a fresh store holding lumenware (PostgreSQL when several workers)."""
    env: dict[str, str] = {}
    db_name = None
    if workers > 1:
        import psycopg

        db_name = f"pp_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        env["PARTNERPILOT_DATABASE_URL"] = f"{base}/{db_name}"
        env["PARTNERPILOT_REDIS_URL"] = os.environ.get("PARTNERPILOT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    else:
        env["PARTNERPILOT_DATABASE_URL"] = f"sqlite:///{home / 'store.db'}"
    return env, db_name


def run(sessions: int, turns: int, wait_s: float, workers: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="pp-chat-bench-"))
    store_env, db_name = _store(workers, home)
    tokens = [f"bench-{i}-{uuid.uuid4().hex[:8]}" for i in range(sessions)]
    env = {**os.environ, **store_env, "PARTNERPILOT_HOME": str(home / "home"), "PARTNERPILOT_AS_OF": "2026-10-31",
           "PARTNERPILOT_PROVIDER": "offline", "PARTNERPILOT_LOG_FORMAT": "json",
           "PARTNERPILOT_API_TOKENS": ",".join(f"{t}={PRINCIPALS[i % len(PRINCIPALS)]}"
                                               for i, t in enumerate(tokens))}
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(var, None)
    exe = str(Path(sys.executable).with_name("partnerpilot"))
    subprocess.run([exe, "import", str(LUMENWARE), "--json"], env=env, check=True, capture_output=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([exe, "up", "--port", str(port), "--workers", str(workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(1)
        # Warm-up: every worker loads its models and caches before memory is measured.
        asyncio.run(_load(base, tokens, min(sessions, 4 * workers), 2, 0.0))
        pids = [server.pid, *_children(server.pid)]
        rss_before = _rss_kib(pids)
        started = time.perf_counter()
        stats = asyncio.run(_load(base, tokens, sessions, turns, wait_s))
        elapsed = time.perf_counter() - started
        rss_after = _rss_kib(pids)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(home, ignore_errors=True)
        if db_name:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    return {
        "sessions": sessions, "turns_per_session": turns, "wait_s": wait_s, "workers": workers,
        "store": "postgresql" if workers > 1 else "sqlite",
        "turns_completed": len(stats["turn"]), "errors": len(stats["errors"]), "error_samples": stats["errors"][:5],
        "ttft_p50_ms": round(1000 * statistics.median(stats["ttft"]), 1) if stats["ttft"] else None,
        "ttft_p95_ms": round(1000 * _percentile(stats["ttft"], 0.95), 1),
        "turn_p50_ms": round(1000 * statistics.median(stats["turn"]), 1) if stats["turn"] else None,
        "turn_p95_ms": round(1000 * _percentile(stats["turn"], 0.95), 1),
        "wall_s": round(elapsed, 1),
        "rss_after_warmup_mib": round(rss_before / 1024, 1), "rss_end_mib": round(rss_after / 1024, 1),
        "rss_growth_pct": round(100 * (rss_after - rss_before) / rss_before, 1) if rss_before else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--wait", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(run(args.sessions, min(args.turns, len(PAM_TURNS)), args.wait, args.workers), indent=2))


if __name__ == "__main__":
    main()
