"""REST API benchmark (JSON on stdout), against `partnerpilot up --workers 2` on PostgreSQL + Redis (lumenware):

- reads: N mixed REST reads (PAM, partner and leader dashboards: call list, partners, score with breakdown,
  diagnosis, plan, nudges, pipeline, lifecycle, book health, claims, program health, playbooks) from C concurrent
  clients, after a warm-up; latency per request (client side, 127.0.0.1) overall and per route.
- writes: M signal writes, each with its own Idempotency-Key and each retried: the first attempt is cut off by a
  client timeout of a few milliseconds (the server may or may not have written it), some are sent twice at once,
  and every write is retried until it answers. Then the store is counted: one row and one audit entry per key.

    python -m benchmarks.rest_bench [--reads 2000] [--writes 500] [--concurrency 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from collections import defaultdict
from typing import Any

import httpx

from benchmarks.deployment import Deployment, deployment, load_average, percentile

OK_STATUS = {200, 201, 404}  # 404: a partner without an active plan yet (the dashboard then offers to create one)


def read_mix(d: Deployment, books: dict[str, list[str]], rng: random.Random) -> list[tuple[str, str, str]]:
    """(actor, route label, path) for one dashboard-like read."""
    pam = rng.choice(sorted(books))
    partner = rng.choice(books[pam])
    choices: list[tuple[str, str, str]] = [
        (f"pam:{pam}", "/v1/call-list", "/v1/call-list?limit=10"),
        (f"pam:{pam}", "/v1/partners", "/v1/partners"),
        (f"pam:{pam}", "/v1/book", "/v1/book"),
        (f"pam:{pam}", "/v1/claims", "/v1/claims"),
        (f"pam:{pam}", "/v1/nudges", "/v1/nudges"),
        (f"pam:{pam}", "/v1/lifecycle", "/v1/lifecycle"),
        (f"pam:{pam}", "/v1/pipeline", "/v1/pipeline"),
        (f"pam:{pam}", "/v1/partners/{id}/score", f"/v1/partners/{partner}/score"),
        (f"partner:{partner}", "/v1/partners/{id}", f"/v1/partners/{partner}"),
        (f"partner:{partner}", "/v1/partners/{id}/score", f"/v1/partners/{partner}/score"),
        (f"partner:{partner}", "/v1/partners/{id}/diagnosis", f"/v1/partners/{partner}/diagnosis"),
        (f"partner:{partner}", "/v1/partners/{id}/plan", f"/v1/partners/{partner}/plan"),
        (f"partner:{partner}", "/v1/nudges", "/v1/nudges"),
        (f"partner:{partner}", "/v1/pipeline", "/v1/pipeline"),
        (f"partner:{partner}", "/v1/partners/{id}/signals", f"/v1/partners/{partner}/signals"),
        (f"partner:{partner}", "/v1/playbooks", "/v1/playbooks"),
        ("leader", "/v1/program/health", "/v1/program/health"),
        ("leader", "/v1/call-list", "/v1/call-list?limit=10"),
    ]
    return rng.choice(choices)


async def _books(d: Deployment) -> dict[str, list[str]]:
    async with httpx.AsyncClient(base_url=d.base, timeout=60) as c:
        out = {}
        for actor in [a for a in d.keys if a.startswith("pam:")]:
            page = (await c.get("/v1/partners", params={"limit": 500}, headers=d.auth(actor))).json()
            out[actor.split(":", 1)[1]] = [p["partner_id"] for p in page["items"]]
        return out


async def run_reads(d: Deployment, n: int, concurrency: int, seed: int = 7) -> dict[str, Any]:
    books = await _books(d)
    rng = random.Random(seed)
    plan = [read_mix(d, books, rng) for _ in range(n + 200)]
    warm, measured = plan[:200], plan[200:]
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()

    async def worker(c: httpx.AsyncClient, record: bool) -> None:
        while not queue.empty():
            actor, label, path = queue.get_nowait()
            started = time.perf_counter()
            r = await c.get(path, headers=d.auth(actor))
            elapsed = (time.perf_counter() - started) * 1000
            if r.status_code not in OK_STATUS:
                errors.append(f"{label} {r.status_code}")
            elif record:
                latencies[label].append(elapsed)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=d.base, timeout=60, limits=limits) as c:
        for batch, record in ((warm, False), (measured, True)):
            for item in batch:
                queue.put_nowait(item)
            started = time.perf_counter()
            await asyncio.gather(*(worker(c, record) for _ in range(concurrency)))
            wall = time.perf_counter() - started
    every = [x for xs in latencies.values() for x in xs]
    return {
        "reads": len(every), "concurrency": concurrency, "errors": len(errors), "error_samples": errors[:5],
        "p50_ms": percentile(every, 50), "p95_ms": percentile(every, 95), "p99_ms": percentile(every, 99),
        "throughput_per_s": round(len(every) / wall, 1),
        "per_route_p95_ms": {k: percentile(v, 95) for k, v in sorted(latencies.items())},
        "per_route_count": {k: len(v) for k, v in sorted(latencies.items())},
    }


async def run_writes(d: Deployment, n: int, concurrency: int, seed: int = 11) -> dict[str, Any]:
    books = await _books(d)
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    jobs = []
    for i in range(n):
        pam = rng.choice(sorted(books))
        jobs.append({"pam": pam, "partner": rng.choice(books[pam]), "key": f"bench-{run}-{i}",
                     "body": {"dimension": rng.choice(["engagement", "capability", "icp", "use_case"]),
                              "level": rng.choice(["low", "medium", "high"]),
                              "evidence": f"benchmark write {run}-{i}"},
                     "cut_ms": rng.choice([1, 3, 5, 10, 20, 40]), "double": rng.random() < 0.2})
    answers: dict[str, set[int]] = defaultdict(set)
    attempts = timeouts = failures = 0
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def send(c: httpx.AsyncClient, job: dict[str, Any], timeout: float) -> httpx.Response | None:
        nonlocal attempts, timeouts
        attempts += 1
        headers = {**d.auth(f"pam:{job['pam']}"), "Idempotency-Key": job["key"]}
        started = time.perf_counter()
        try:
            r = await c.post(f"/v1/partners/{job['partner']}/signals", json=job["body"], headers=headers,
                             timeout=timeout)
        except httpx.TimeoutException:
            timeouts += 1
            return None
        latencies.append((time.perf_counter() - started) * 1000)
        return r

    async def write(c: httpx.AsyncClient, job: dict[str, Any]) -> None:
        nonlocal failures
        async with sem:
            first = [send(c, job, job["cut_ms"] / 1000)]
            if job["double"]:
                first.append(send(c, job, 30))
            for r in await asyncio.gather(*first):
                if r is not None and r.status_code in (200, 201):
                    answers[job["key"]].add(r.json()["id"])
            for _ in range(10):  # the client's retry loop: same key until an answer
                r = await send(c, job, 30)
                if r is not None and r.status_code in (200, 201):
                    answers[job["key"]].add(r.json()["id"])
                    return
                await asyncio.sleep(0.05)
            failures += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=d.base, limits=httpx.Limits(max_connections=concurrency * 2)) as c:
        await asyncio.gather(*(write(c, job) for job in jobs))
    wall = time.perf_counter() - started
    stored = count_stored(d.database_url, [store_key(j) for j in jobs])
    return {
        "writes": n, "attempts": attempts, "client_timeouts": timeouts, "sent_twice_at_once": sum(j["double"]
                                                                                               for j in jobs),
        "unanswered": failures, "keys_with_one_id": sum(len(v) == 1 for v in answers.values()),
        "keys_with_several_ids": sum(len(v) > 1 for v in answers.values()), **stored,
        # Lost: a write the client sent whose key is not in the store. Duplicated: a second row or audit entry.
        "lost": n - stored["distinct_keys"],
        "duplicated": (stored["rows"] - stored["distinct_keys"]) + max(0, stored["audit_rows"] - stored["rows"]),
        "answered_p95_ms": percentile(latencies, 95), "seconds": round(wall, 1),
    }


def store_key(job: dict[str, Any]) -> str:
    from readiness.scope import Principal
    from server.api.signals import store_key as key_of

    return key_of(Principal(role="pam", id=job["pam"]), job["key"])


def count_stored(url: str, keys: list[str]) -> dict[str, int]:
    from sqlalchemy import func, select

    from readiness.db import make_engine, session_scope
    from readiness.models import AuditLog, ReadinessSignal

    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            rows = s.scalar(select(func.count()).select_from(ReadinessSignal)
                            .where(ReadinessSignal.idempotency_key.in_(keys))) or 0
            distinct = s.scalar(select(func.count(func.distinct(ReadinessSignal.idempotency_key)))
                                .where(ReadinessSignal.idempotency_key.in_(keys))) or 0
            audits = [a.detail.get("idempotency_key") for a in s.scalars(
                select(AuditLog).where(AuditLog.action == "signal.record"))]
    finally:
        engine.dispose()
    wanted = set(keys)
    return {"rows": int(rows), "distinct_keys": int(distinct), "audit_rows": sum(k in wanted for k in audits)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with deployment(workers=args.workers) as d:
        load_before = load_average()
        reads = asyncio.run(run_reads(d, args.reads, args.concurrency)) if args.reads else None
        writes = asyncio.run(run_writes(d, args.writes, args.concurrency * 4)) if args.writes else None
        print(json.dumps({"workers": args.workers, "store": "postgresql", "shared_state": "redis",
                          "load_average_before": load_before, "load_average_after": load_average(),
                          "reads": reads, "writes": writes}, indent=2))


if __name__ == "__main__":
    main()
