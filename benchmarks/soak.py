"""Soak benchmark (JSON on stdout): S chat sessions for M minutes plus a steady stream of signal writes, against a
server of this checkout on 127.0.0.1 (offline model), then a count of what the server kept.

    python -m benchmarks.soak [--sessions 50] [--minutes 5] [--think 2] [--signals-per-s 2] [--postgres]

- Server: `partnerpilot up` on a fresh SQLite store of the lumenware program (default), or with `--postgres` the
  PostgreSQL + Redis deployment of the other API benchmarks (`--workers N`). A key per principal, made in the store.
- Sessions: one in five a PAM; each sends a turn on `POST /invoke` (its own thread), waits for the answer, thinks
  `--think` seconds, and goes on until the time is up. The client records every acknowledged turn; at the end each
  thread's `GET /history` is compared with that record (in order): **lost** = acknowledged turns missing from the
  history, **duplicated** = user turns in the history beyond the acknowledged ones (minus at most one per attempt
  that got no answer, which may or may not have been stored: `stored_unacknowledged`). A 409 (thread busy) is
  counted apart, not as lost.
- Signals: `POST /v1/partners/{id}/signals` with an `Idempotency-Key` at a steady rate by PAMs; one in five is sent
  again after its answer and one in ten has its first attempt cut off by a 5-30 ms client timeout and is retried
  until answered. The store is then counted (rows, distinct keys, audit entries per key, as `rest_bench` does).
- Server memory: resident set of the server's processes right after start (`rss_mb_cold`), after a warm-up (every
  session's first turn and whole scripts on ten threads: `rss_mb_start`) and at the end; growth is end vs start.
- Checkpoint bytes per turn: the checkpointer's storage after the warm-up and at the end (SQLite: the
  checkpoints file with its WAL, and the stored payload bytes; PostgreSQL: the checkpoint tables' total relation
  size), divided by the turns acknowledged in between.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.deployment import (
    AS_OF,
    LUMENWARE,
    Deployment,
    deployment,
    free_port,
    load_average,
    percentile,
    principal_keys,
    served,
)
from benchmarks.rest_bench import _books, count_stored
from benchmarks.stream_bench import PAM_TURNS, PARTNER_TURNS

WARM_THREADS = 10
TURN_TIMEOUT_S = 120.0
SIGNAL_DIMENSIONS = ("engagement", "capability", "icp", "use_case")


# --- the server ------------------------------------------------------------------------------------------------

@contextmanager
def sqlite_deployment(rate_limit: int = 100_000) -> Iterator[Deployment]:
    """`partnerpilot up` (one process) on a fresh SQLite copy of lumenware under a temporary home, removed after."""
    tmp = Path(tempfile.mkdtemp(prefix="pp-soak-"))
    db = tmp / "store.db"
    try:
        with _sqlite_server(tmp, db, rate_limit) as d:
            yield d
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _sqlite_server(tmp: Path, db: Path, rate_limit: int) -> Iterator[Deployment]:
    from readiness.db import make_engine
    from readiness.importers import import_into_sqlite_file

    import_into_sqlite_file(db, LUMENWARE)
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    keys = principal_keys(engine, "soak", leader=False)
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERPILOT_") or k == "PARTNERPILOT_MODELS_DIR"}
    env.update({"PARTNERPILOT_DATABASE_URL": url, "PARTNERPILOT_HOME": str(tmp / "home"),
                "PARTNERPILOT_AS_OF": AS_OF, "PARTNERPILOT_PROVIDER": "offline",
                "PARTNERPILOT_RATE_LIMIT_PER_MINUTE": str(rate_limit), "PARTNERPILOT_LOG_FORMAT": "json",
                "ANONYMIZED_TELEMETRY": "False"})
    port = free_port()
    with served(env, port, tmp / "server.log") as proc:
        yield Deployment(base=f"http://127.0.0.1:{port}", database_url=url, process=proc, keys=keys)


def tree_rss_mb(root: int) -> float:
    """Resident memory of a process and all its descendants (the server and its workers), from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            status = (entry / "status").read_text()
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[int(entry.name)] = int(line.split()[1]) / 1024
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return round(total, 1)


def checkpoint_bytes(d: Deployment, home: Path | None) -> dict[str, int | None]:
    """The checkpointer's storage now: SQLite file + WAL and payload bytes, or PostgreSQL relation sizes."""
    if d.database_url.startswith("sqlite"):
        assert home is not None
        path = home / "checkpoints.db"
        files = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        payload: int | None = None
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
                cp = conn.execute("SELECT coalesce(sum(length(checkpoint) + length(metadata)), 0) "
                                  "FROM checkpoints").fetchone()[0]
                wr = conn.execute("SELECT coalesce(sum(length(value)), 0) FROM writes").fetchone()[0]
                payload = int(cp) + int(wr)
        except sqlite3.Error:
            payload = None  # another checkpoint layout: the file size still says what was written
        return {"file_bytes": files, "payload_bytes": payload}
    import psycopg

    from agent.memory import libpq_url

    with psycopg.connect(libpq_url(d.database_url), autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                           "WHERE c.relkind = 'r' AND c.relname LIKE 'checkpoint%'").fetchone()
    return {"file_bytes": int(row[0]) if row else None, "payload_bytes": None}


# --- the load --------------------------------------------------------------------------------------------------

@dataclass
class Thread:
    actor: str
    thread_id: str | None = None
    acknowledged: list[str] = field(default_factory=list)  # messages answered 200, in order
    unanswered: int = 0  # attempts with no answer (timeout, connection error, 5xx): stored or not, unknown


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    turn_ms: list[float] = field(default_factory=list)
    turns_sent: int = 0
    busy: int = 0

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)


async def turn(c: httpx.AsyncClient, d: Deployment, thread: Thread, message: str, tally: Tally | None) -> None:
    body: dict[str, Any] = {"message": message, **({"thread_id": thread.thread_id} if thread.thread_id else {})}
    started = time.perf_counter()
    if tally is not None:
        tally.turns_sent += 1
    try:
        r = await c.post("/invoke", json=body, headers=d.auth(thread.actor), timeout=TURN_TIMEOUT_S)
    except httpx.HTTPError as exc:
        thread.unanswered += 1
        if tally is not None:
            tally.transport_errors[type(exc).__name__] += 1
        return
    if tally is not None:
        tally.statuses[r.status_code] += 1
    if r.status_code == 200:
        thread.thread_id = r.json()["thread_id"]
        thread.acknowledged.append(message)
        if tally is not None:
            tally.turn_ms.append((time.perf_counter() - started) * 1000)
    elif r.status_code == 409:
        if tally is not None:
            tally.busy += 1  # the thread was busy: refused, nothing stored, not a lost turn
    else:
        thread.unanswered += r.status_code >= 500


async def session(c: httpx.AsyncClient, d: Deployment, thread: Thread, until: float, think: float, offset: float,
                  tally: Tally) -> None:
    await asyncio.sleep(offset)  # sessions arrive spread over the first think interval
    script = PAM_TURNS if thread.actor.startswith("pam:") else PARTNER_TURNS
    i = 0
    while time.monotonic() < until:
        await turn(c, d, thread, script[i % len(script)], tally)
        i += 1
        await asyncio.sleep(think)


@dataclass
class SignalJob:
    pam: str
    partner: str
    key: str
    body: dict[str, Any]
    again: bool
    cut_ms: int | None


async def signal_stream(c: httpx.AsyncClient, d: Deployment, books: dict[str, list[str]], until: float, rate: float,
                        tally: Tally, rng: random.Random) -> tuple[list[SignalJob], dict[str, Any]]:
    run = uuid.uuid4().hex[:8]
    jobs: list[SignalJob] = []
    answers: dict[str, set[int]] = {}
    counts: Counter[str] = Counter()

    async def send(job: SignalJob, timeout: float) -> httpx.Response | None:
        counts["attempts"] += 1
        headers = {**d.auth(f"pam:{job.pam}"), "Idempotency-Key": job.key}
        try:
            r = await c.post(f"/v1/partners/{job.partner}/signals", json=job.body, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            counts["client_timeouts"] += 1
            return None
        except httpx.HTTPError as exc:
            tally.transport_errors[f"signal:{type(exc).__name__}"] += 1
            return None
        tally.statuses[r.status_code] += 1
        if r.status_code in (200, 201):
            answers.setdefault(job.key, set()).add(int(r.json()["id"]))
        return r

    async def write(job: SignalJob) -> None:
        if job.cut_ms is not None:
            await send(job, job.cut_ms / 1000)  # the client gives up; the server may or may not have written it
        for _ in range(20):  # the client's retry loop: the same key until an answer
            r = await send(job, 60)
            if r is not None and r.status_code in (200, 201):
                break
            await asyncio.sleep(0.2)
        else:
            counts["unanswered"] += 1
            return
        if job.again:
            await send(job, 60)  # a retry of a write that did succeed: must write nothing

    tasks = []
    i = 0
    while time.monotonic() < until:
        pam = rng.choice(sorted(books))
        job = SignalJob(pam=pam, partner=rng.choice(books[pam]), key=f"soak-{run}-{i}",
                        body={"dimension": rng.choice(SIGNAL_DIMENSIONS), "evidence": f"soak write {run}-{i}",
                              "level": rng.choice(["low", "medium", "high"])},
                        again=rng.random() < 0.2, cut_ms=rng.choice([5, 10, 20, 30]) if rng.random() < 0.1 else None)
        jobs.append(job)
        tasks.append(asyncio.create_task(write(job)))
        i += 1
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks)
    return jobs, {"attempts": counts["attempts"], "client_timeouts": counts["client_timeouts"],
                  "unanswered": counts["unanswered"], "sent_again_after_answer": sum(j.again for j in jobs),
                  "first_attempt_cut": sum(j.cut_ms is not None for j in jobs),
                  "keys_with_several_ids": sum(len(v) > 1 for v in answers.values())}


def compare(acknowledged: list[str], stored: list[str]) -> int:
    """How many acknowledged turns the stored history holds in order (longest common subsequence)."""
    prev = [0] * (len(stored) + 1)
    for a in acknowledged:
        row = [0]
        for j, s in enumerate(stored):
            row.append(prev[j] + 1 if a == s else max(prev[j + 1], row[j]))
        prev = row
    return prev[-1]


async def histories(c: httpx.AsyncClient, d: Deployment, threads: list[Thread], tally: Tally) -> dict[str, int]:
    lost = duplicated = unacknowledged = unreadable = 0
    for t in threads:
        if t.thread_id is None:
            lost += len(t.acknowledged)
            continue
        r = await c.get(f"/history/{t.thread_id}", headers=d.auth(t.actor), timeout=60)
        tally.statuses[r.status_code] += 1
        if r.status_code != 200:
            unreadable += 1
            lost += len(t.acknowledged)
            continue
        stored = [m["content"] for m in r.json()["messages"] if m["role"] == "user"]
        matched = compare(t.acknowledged, stored)
        lost += len(t.acknowledged) - matched
        extra = len(stored) - matched
        maybe = min(extra, t.unanswered)
        unacknowledged += maybe
        duplicated += extra - maybe
    return {"lost": lost, "duplicated": duplicated, "stored_unacknowledged": unacknowledged,
            "threads_unreadable": unreadable}


async def soak(d: Deployment, home: Path | None, sessions: int, minutes: float, think: float,
               signals_per_s: float, seed: int = 17) -> dict[str, Any]:
    rss_cold = tree_rss_mb(d.process.pid)
    books = await _books(d)
    partners = sorted(a for a in d.keys if a.startswith("partner:"))
    pams = sorted(a for a in d.keys if a.startswith("pam:"))
    actors = [pams[i % len(pams)] if i % 5 == 0 else partners[i % len(partners)] for i in range(sessions)]
    limits = httpx.Limits(max_connections=sessions + 40, max_keepalive_connections=sessions + 40)
    async with httpx.AsyncClient(base_url=d.base, limits=limits) as c:
        # Warm-up (not counted): whole scripts on a few threads, then every session's first turn on its own thread.
        warm = [Thread(actor=a) for a in actors[:WARM_THREADS]]
        for i in range(len(PARTNER_TURNS)):
            await asyncio.gather(*(turn(c, d, t, (PAM_TURNS if t.actor.startswith("pam:") else PARTNER_TURNS)[i],
                                        None) for t in warm))
        threads = [Thread(actor=a) for a in actors]
        await asyncio.gather(*(turn(c, d, t, (PAM_TURNS if t.actor.startswith("pam:") else PARTNER_TURNS)[0], None)
                               for t in threads))
        warm_acknowledged = {id(t): len(t.acknowledged) for t in threads}
        rss_start = tree_rss_mb(d.process.pid)
        cp_start = checkpoint_bytes(d, home)
        load_start = load_average()
        tally = Tally()
        started = time.monotonic()
        until = started + minutes * 60
        rng = random.Random(seed)
        session_tasks = [session(c, d, t, until, think, think * i / sessions, tally) for i, t in enumerate(threads)]
        results = await asyncio.gather(signal_stream(c, d, books, until, signals_per_s, tally, rng), *session_tasks)
        wall = time.monotonic() - started
        jobs, signal_counts = results[0]
        load_end = load_average()
        rss_end = tree_rss_mb(d.process.pid)
        cp_end = checkpoint_bytes(d, home)
        turns = await histories(c, d, threads, tally)
    from benchmarks.rest_bench import store_key

    stored = count_stored(d.database_url, [store_key({"pam": j.pam, "key": j.key}) for j in jobs])
    measured_ok = sum(len(t.acknowledged) - warm_acknowledged[id(t)] for t in threads)

    def per_turn(key: str) -> float | None:
        a, b = cp_start.get(key), cp_end.get(key)
        return round((b - a) / measured_ok) if a is not None and b is not None and measured_ok else None

    return {
        "store": "postgresql" if d.database_url.startswith("postgresql") else "sqlite",
        "sessions": sessions, "minutes": minutes, "think_s": think, "seconds": round(wall, 1),
        "load_average_start": load_start, "load_average_end": load_end,
        "turns": {
            "sent": tally.turns_sent, "ok": measured_ok, "busy_409": tally.busy, **turns,
            "p50_ms": percentile(tally.turn_ms, 50), "p95_ms": percentile(tally.turn_ms, 95),
            "per_s": round(measured_ok / wall, 2),
        },
        "signals": {
            "sent": len(jobs), **signal_counts, "stored_rows": stored["rows"],
            "stored_distinct_keys": stored["distinct_keys"], "audit_rows": stored["audit_rows"],
            "lost": len(jobs) - stored["distinct_keys"],
            "duplicated": (stored["rows"] - stored["distinct_keys"]) + max(0, stored["audit_rows"] - stored["rows"]),
        },
        "http_5xx": tally.server_errors, "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "transport_errors": dict(tally.transport_errors),
        "rss_mb_cold": rss_cold, "rss_mb_start": rss_start, "rss_mb_end": rss_end,
        "rss_growth_pct": round((rss_end - rss_start) / rss_start * 100, 1) if rss_start else None,
        "checkpoint_start": cp_start, "checkpoint_end": cp_end,
        "checkpoint_file_bytes_per_turn": per_turn("file_bytes"),
        "checkpoint_payload_bytes_per_turn": per_turn("payload_bytes"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--think", type=float, default=2.0, help="seconds between an answer and the next turn")
    parser.add_argument("--signals-per-s", type=float, default=2.0)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL + Redis (`partnerpilot up --workers`)")
    parser.add_argument("--workers", type=int, default=1, help="with --postgres: server processes")
    args = parser.parse_args()
    if args.sessions < 1 or args.minutes <= 0 or args.signals_per_s <= 0:
        parser.error("--sessions, --minutes and --signals-per-s must be positive")
    if args.postgres:
        shared = {k: v for k, v in os.environ.items() if k == "PARTNERPILOT_MODELS_DIR"}  # the fitted intent model
        with deployment(workers=args.workers, extra_env=shared) as d:
            result = asyncio.run(soak(d, None, args.sessions, args.minutes, args.think, args.signals_per_s))
    else:
        with sqlite_deployment() as d:
            home = Path(d.database_url.split("///", 1)[1]).parent / "home"
            result = asyncio.run(soak(d, home, args.sessions, args.minutes, args.think, args.signals_per_s))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
