"""Checkpoint benchmark (a table on stderr, JSON on stdout): what a chat turn costs the checkpointer, and how fast
`GET /threads` answers with many threads stored.

1. N turns through `POST /invoke` of the real app (offline planner, the lumenware sample program, SQLite store and
   checkpointer under a temporary home), spread over a few threads of partners and PAMs asking a realistic mix of
   questions. Reported per turn: growth of checkpoints.db (+ its WAL, after a WAL checkpoint) and the bytes the
   checkpointer holds (sum of checkpoint, metadata and pending-write blob lengths), plus the latest checkpoint's
   size of the longest thread.
2. 10,000 threads seeded directly through the checkpointer (`put()`, as a turn writes them; no agent run), of
   which `--mine` belong to the caller: each of the caller's threads gets a copy of every checkpoint a real
   two-turn thread holds, every other thread a copy of its latest. Then `GET /threads` as the caller, timed
   in-process (TestClient: routing, auth, the listing, JSON), p50 / p95 / max over `--requests` calls.

    python -m benchmarks.checkpoint_bench [--turns 40] [--threads 10000] [--mine 200] [--requests 50] [--postgres]

`--postgres` runs the same on a throw-away database on the local PostgreSQL server (store and checkpointer; bytes
are the checkpoint, blob and write columns' lengths, and the tables' total relation size for "file").
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LUMENWARE = ROOT / "evals" / "datasets" / "lumenware"
AS_OF = "2026-10-31"
TOKENS = {"tok-p004": "partner:p-004", "tok-p002": "partner:p-002", "tok-pam1": "pam:pam-01",
          "tok-pam2": "pam:pam-02"}
PARTNER_TURNS = ["hello", "what's my readiness score?", "why is it so low?", "what is my biggest gap?",
                 "show me the playbook for it", "how is my plan going?", "what should I do next?",
                 "any nudges for me?", "how is my pipeline?", "we finished our ICP statement", "thanks"]
PAM_TURNS = ["Which dormant partners should I call this week?", "and the second one?",
             "how is the pipeline in my book?", "any nudges?", "who has claims waiting for me?",
             "what is at stake in my book?", "which partners stalled in onboarding?", "what should I do first?",
             "show me the call list again", "what's the readiness score of Summit Technologies?", "thanks"]


POSTGRES_URL = os.environ.get("PARTNERPILOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")


def _pg_stored_bytes(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows, meta = conn.execute("SELECT COUNT(*), COALESCE(SUM(octet_length(checkpoint::text) "
                                  "+ octet_length(metadata::text)), 0) FROM checkpoints").fetchone()  # type: ignore[misc]
        blobs = conn.execute("SELECT COALESCE(SUM(octet_length(blob)), 0) FROM checkpoint_blobs").fetchone()
        writes = conn.execute("SELECT COALESCE(SUM(octet_length(blob)), 0) FROM checkpoint_writes").fetchone()
        size = sum(int(conn.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0])  # type: ignore[index]
                   for t in PG_TABLES)
    return {"rows": int(rows), "blob_bytes": int(meta) + int(blobs[0]) + int(writes[0]),  # type: ignore[index]
            "file_bytes": size}


def _stored_bytes(db: Path) -> dict[str, int]:
    """Blob bytes the SQLite checkpointer holds, and its file size after folding the WAL in."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        checkpoints = conn.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(checkpoint) + LENGTH(metadata)), 0) "
                                   "FROM checkpoints").fetchone()
        writes = conn.execute("SELECT COALESCE(SUM(LENGTH(value)), 0) FROM writes").fetchone()
    wal = db.with_name(db.name + "-wal")
    return {"rows": int(checkpoints[0]), "blob_bytes": int(checkpoints[1]) + int(writes[0]),
            "file_bytes": db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)}


def _percentile(values: list[float], q: float) -> float:
    import numpy as np

    return round(float(np.percentile(values, q)), 2)


def _run_turns(client: Any, turns: int) -> dict[str, Any]:
    scripts = [("tok-p004", PARTNER_TURNS), ("tok-pam1", PAM_TURNS), ("tok-p002", PARTNER_TURNS),
               ("tok-pam2", PAM_TURNS)]
    threads: dict[str, str | None] = {tok: None for tok, _ in scripts}
    said: dict[str, int] = {tok: 0 for tok, _ in scripts}
    latencies: list[float] = []
    for i in range(turns):
        tok, script = scripts[i % len(scripts)]
        body: dict[str, Any] = {"message": script[said[tok] % len(script)]}
        if threads[tok]:
            body["thread_id"] = threads[tok]
        started = time.perf_counter()
        r = client.post("/invoke", json=body, headers={"Authorization": f"Bearer {tok}"})
        latencies.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
        threads[tok] = r.json()["thread_id"]
        said[tok] += 1
    return {"threads": {TOKENS[t]: th for t, th in threads.items()}, "turn_p50_ms": _percentile(latencies, 50),
            "turn_p95_ms": _percentile(latencies, 95)}


def _seed(checkpointer: Any, template: str, threads: int, mine: int, owner: str) -> float:
    """Copy the template thread's checkpoints into `threads` new threads; returns seconds taken."""
    chain = list(checkpointer.list({"configurable": {"thread_id": template}}))[::-1]  # oldest first
    latest = chain[-1:]
    others = ["pam:pam-02", "pam:pam-03", "partner:p-004", "partner:p-014", "leader:*"]
    started = time.perf_counter()
    for n in range(threads):
        thread_id = f"seed-{n:05d}"
        who = owner if n < mine else others[n % len(others)]
        parent: dict[str, Any] = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        for tup in (chain if n < mine else latest):
            metadata = {**(tup.metadata or {}), "owner": who}
            checkpoint = tup.checkpoint
            parent = checkpointer.put(parent, checkpoint, metadata, dict(checkpoint["channel_versions"]))
    return time.perf_counter() - started


def _time_listing(client: Any, requests: int) -> dict[str, Any]:
    headers = {"Authorization": "Bearer tok-pam1"}
    for _ in range(3):  # warm caches and connections
        client.get("/threads", headers=headers).raise_for_status()
    latencies = []
    rows = 0
    for _ in range(requests):
        started = time.perf_counter()
        r = client.get("/threads", headers=headers)
        latencies.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
        rows = len(r.json())
    return {"p50_ms": _percentile(latencies, 50), "p95_ms": _percentile(latencies, 95),
            "max_ms": round(max(latencies), 2), "rows_returned": rows, **_concurrent(client, headers)}


def _concurrent(client: Any, headers: dict[str, str], rounds: int = 5, at_once: int = 8) -> dict[str, float]:
    """`at_once` listings sent together, with a `/healthz` among them: the slowest of each, over `rounds`."""
    from concurrent.futures import ThreadPoolExecutor

    def timed(path: str, h: dict[str, str]) -> float:
        started = time.perf_counter()
        client.get(path, headers=h).raise_for_status()
        return (time.perf_counter() - started) * 1000

    listing: list[float] = []
    health: list[float] = []
    with ThreadPoolExecutor(max_workers=at_once + 1) as pool:
        for _ in range(rounds):
            lists = [pool.submit(timed, "/threads", headers) for _ in range(at_once)]
            probe = pool.submit(timed, "/healthz", {})
            listing += [f.result() for f in lists]
            health.append(probe.result())
    return {f"{at_once}_at_once_max_ms": round(max(listing), 1), "healthz_meanwhile_max_ms": round(max(health), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--mine", type=int, default=200, help="Seeded threads that belong to the caller.")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--postgres", action="store_true", help="Store and checkpoints on the local PostgreSQL.")
    args = parser.parse_args()
    if not args.postgres:
        run(args, None)
        return
    import psycopg

    name = f"pp_bench_ckpt_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        run(args, POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args: argparse.Namespace, postgres_url: str | None) -> None:

    home = Path(tempfile.mkdtemp(prefix="pp-checkpoint-bench-"))
    os.environ.update({"PARTNERPILOT_HOME": str(home), "PARTNERPILOT_AS_OF": AS_OF,
                       "PARTNERPILOT_PROVIDER": "offline", "PARTNERPILOT_RATE_LIMIT_PER_MINUTE": "0",
                       "PARTNERPILOT_API_TOKENS": ",".join(f"{k}={v}" for k, v in TOKENS.items()),
                       "PARTNERPILOT_LOG_FORMAT": "console", "ANONYMIZED_TELEMETRY": "False"})
    os.environ.pop("PARTNERPILOT_DATABASE_URL", None)
    if postgres_url:
        os.environ["PARTNERPILOT_DATABASE_URL"] = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    os.environ.setdefault("PARTNERPILOT_MODELS_DIR", str(ROOT / "var" / "models"))

    from fastapi.testclient import TestClient

    from knowledge.index import build_index
    from readiness.db import init_db, make_engine
    from readiness.importers import import_dataset
    from readiness.settings import get_settings
    from server.app import create_app

    get_settings.cache_clear()
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    import_dataset(engine, LUMENWARE)
    engine.dispose()
    build_index()
    load_before = [round(x, 2) for x in os.getloadavg()]

    db = settings.checkpoint_path
    stored: Callable[[], dict[str, int]] = ((lambda: _pg_stored_bytes(postgres_url)) if postgres_url
                                            else (lambda: _stored_bytes(db)))
    with TestClient(create_app(settings)) as client:
        client.post("/invoke", json={"message": "hello", "thread_id": "warm-up"},
                    headers={"Authorization": "Bearer tok-pam2"}).raise_for_status()
        start = stored()
        turns = _run_turns(client, args.turns)
        end = stored()
        checkpointer = client.app.state.checkpointer  # type: ignore[attr-defined]
        longest = turns["threads"]["partner:p-004"]
        latest = checkpointer.get_tuple({"configurable": {"thread_id": longest}})
        latest_bytes = len(checkpointer.serde.dumps_typed(latest.checkpoint)[1])

        template = "seed-template"
        for text in PAM_TURNS[:2]:
            client.post("/invoke", json={"message": text, "thread_id": template},
                        headers={"Authorization": "Bearer tok-pam1"}).raise_for_status()
        seed_s = _seed(checkpointer, template, args.threads, args.mine, "pam:pam-01")
        listing = _time_listing(client, args.requests)

    result = {
        "benchmark": "checkpoints",
        "backend": "postgresql" if postgres_url else "sqlite",
        "turns": args.turns,
        "threads_chatted": len(turns["threads"]),
        "turn_p50_ms": turns["turn_p50_ms"],
        "turn_p95_ms": turns["turn_p95_ms"],
        "checkpoint_rows_added": end["rows"] - start["rows"],
        "stored_bytes_per_turn": round((end["blob_bytes"] - start["blob_bytes"]) / args.turns),
        "file_growth_bytes_per_turn": round((end["file_bytes"] - start["file_bytes"]) / args.turns),
        "latest_checkpoint_bytes_longest_thread": latest_bytes,
        "turns_in_longest_thread": -(-args.turns // 4),
        "threads_seeded": args.threads,
        "callers_threads": args.mine,
        "seed_seconds": round(seed_s, 1),
        "threads_listing": listing,
        "checkpoint_storage_bytes_after_seed": stored()["file_bytes"],
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    _print_table(result)
    print(json.dumps(result, indent=2))


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"checkpoints (offline planner, lumenware, {result['backend']})")
    t.add_column("figure")
    t.add_column("value", justify="right")
    for key, value in result.items():
        if isinstance(value, dict):
            for k, v in value.items():
                t.add_row(f"{key}.{k}", str(v))
        else:
            t.add_row(key, str(value))
    Console(file=sys.stderr).print(t)


if __name__ == "__main__":
    main()
