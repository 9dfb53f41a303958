"""Server CPU per REST read, by route (JSON on stdout): rest_bench's read mix (same seed, warm-up and count) run
in-process, one request at a time, over N apps standing for N workers, against a fresh PostgreSQL database of the
lumenware program (built as benchmarks.deployment does) with Redis: the server's own CPU time (with the in-process
HTTP client's), which does not move with the machine's load as latencies do.

Sync routes and dependencies run inline on the event loop thread (not in the thread pool), so process CPU time per
request is the request's cost; `--profile DIR` also writes a cProfile of each route there (pstats files).

    python -m benchmarks.rest_profile [--reads 2000] [--workers 2] [--profile var/rest-profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.deployment import AS_OF, REDIS_URL, Deployment, lumenware_database


def _inline_threadpool() -> None:
    """Run sync endpoints and dependencies on the calling thread, so cProfile and process time see all of it."""
    import fastapi.dependencies.utils as dep_utils
    import fastapi.routing as routing

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    routing.run_in_threadpool = inline  # type: ignore[assignment]
    dep_utils.run_in_threadpool = inline  # type: ignore[assignment]


async def _run(reads: int, warm: int, workers: int, keys: dict[str, str], url: str, profile_dir: Path | None
               ) -> dict[str, Any]:
    import httpx

    from agent.services import get_services
    from benchmarks.rest_bench import read_mix
    from readiness.dataversion import read_version
    from server.app import create_app

    # One app per worker (each its own caches; the store, and whatever a process keeps, shared), requests spread
    # over them in turn, as `partnerpilot up --workers N` spreads the benchmark's connections.
    apps = [create_app() for _ in range(workers)]
    d = Deployment(base="http://testserver", database_url=url, process=None, keys=keys)  # type: ignore[arg-type]
    cpu: dict[str, list[float]] = defaultdict(list)
    profiles: dict[str, cProfile.Profile] = defaultdict(cProfile.Profile)
    async with AsyncExitStack() as stack:
        clients = []
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients.append(await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=d.base)))
        for t in threading.enumerate():  # the planner's warm-up would bill its CPU to the first requests
            if t.name == "planner-warm-up":
                t.join()
        books: dict[str, list[str]] = {}
        for actor in [a for a in keys if a.startswith("pam:")]:
            page = (await clients[0].get("/v1/partners", params={"limit": 500}, headers=d.auth(actor))).json()
            books[actor.split(":", 1)[1]] = [p["partner_id"] for p in page["items"]]
        rng = random.Random(7)  # rest_bench's seed: the same requests in the same order
        plan = [read_mix(d, books, rng) for _ in range(reads + warm)]
        versions = [read_version(get_services().engine)]
        for n, (actor, label, path) in enumerate(plan):
            record = n >= warm
            prof = profiles[label] if record and profile_dir is not None else None
            started = time.process_time()
            if prof is not None:
                prof.enable()
            r = await clients[n % workers].get(path, headers=d.auth(actor))
            if prof is not None:
                prof.disable()
            elapsed = (time.process_time() - started) * 1000
            if r.status_code not in (200, 404):
                raise RuntimeError(f"{label}: {r.status_code} {r.text[:300]}")
            if record:
                cpu[label].append(elapsed)
        versions.append(read_version(get_services().engine))
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        for label, prof in profiles.items():
            prof.dump_stats(profile_dir / (label.strip("/").replace("/", "_").replace("{id}", "id") + ".pstats"))
    every = [x for xs in cpu.values() for x in xs]
    return {"reads": len(every), "workers": workers, "warm_up": warm,
            "cpu_ms_per_read": round(sum(every) / len(every), 2),
            "cpu_ms_p95": round(float(np.percentile(every, 95)), 2),
            "per_route_cpu_ms": {k: round(sum(v) / len(v), 2) for k, v in sorted(cpu.items())},
            "per_route_count": {k: len(v) for k, v in sorted(cpu.items())},
            # Reads must not move the store's data version, or they would throw the read caches away.
            "data_version_before_after": versions}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--warm-up", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile per route into this folder")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="pp-rest-profile-"))
    with lumenware_database("pp_prof") as (url, keys):
        for k in [k for k in os.environ if k.startswith("PARTNERPILOT_") and k != "PARTNERPILOT_MODELS_DIR"]:
            del os.environ[k]
        os.environ.update({"PARTNERPILOT_DATABASE_URL": url, "PARTNERPILOT_REDIS_URL": REDIS_URL,
                           "PARTNERPILOT_HOME": str(home / "home"), "PARTNERPILOT_AS_OF": AS_OF,
                           "PARTNERPILOT_PROVIDER": "offline", "PARTNERPILOT_RATE_LIMIT_PER_MINUTE": "100000",
                           "PARTNERPILOT_LOG_FORMAT": "json", "ANONYMIZED_TELEMETRY": "False"})
        from readiness.settings import get_settings

        get_settings.cache_clear()
        _inline_threadpool()
        # The JSON request log lines are part of the cost: written, but to nowhere.
        real_stderr = sys.stderr
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
        try:
            result = asyncio.run(_run(args.reads, args.warm_up, args.workers, keys, url, args.profile))
        finally:
            sys.stderr.close()
            sys.stderr = real_stderr
            from agent.services import get_services

            get_services().engine.dispose()  # before the database is dropped
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
