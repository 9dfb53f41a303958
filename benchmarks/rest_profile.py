"""Server CPU per REST read, by route (JSON on stdout): the rest_bench read mix run in-process, one request at a
time, against the app on a fresh PostgreSQL database of the lumenware program (built as benchmarks.deployment does)
with Redis, so the figure is the server's own CPU time and does not move with the machine's load.

Sync routes and dependencies run inline on the event loop thread (not in the thread pool), so process CPU time per
request is the request's cost; `--profile DIR` also writes a cProfile of each route there (pstats files).

    python -m benchmarks.rest_profile [--reads 600] [--profile var/rest-profile]
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
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.deployment import AS_OF, LUMENWARE, POSTGRES_URL, REDIS_URL, Deployment


def _database() -> tuple[str, str, dict[str, str]]:
    import psycopg

    from readiness.db import init_db, make_engine, session_scope
    from readiness.importers import import_dataset
    from readiness.keys import create_key
    from readiness.models import Pam, Partner

    name = f"pp_prof_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    engine = make_engine(url)
    init_db(engine)
    import_dataset(engine, LUMENWARE)
    keys: dict[str, str] = {}
    with session_scope(engine) as s:
        for pam in s.query(Pam).all():
            keys[f"pam:{pam.pam_id}"] = create_key(s, "pam", pam.pam_id, name="bench").key
        for partner in s.query(Partner).all():
            keys[f"partner:{partner.partner_id}"] = create_key(s, "partner", partner.partner_id, name="bench").key
        keys["leader"] = create_key(s, "leader", name="bench").key
    engine.dispose()
    return name, url, keys


def _inline_threadpool() -> None:
    """Run sync endpoints and dependencies on the calling thread, so cProfile and process time see all of it."""
    import fastapi.dependencies.utils as dep_utils
    import fastapi.routing as routing

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    routing.run_in_threadpool = inline  # type: ignore[assignment]
    dep_utils.run_in_threadpool = inline  # type: ignore[assignment]


async def _run(reads: int, keys: dict[str, str], url: str, profile_dir: Path | None) -> dict[str, Any]:
    import httpx

    from benchmarks.rest_bench import read_mix
    from server.app import create_app

    app = create_app()
    d = Deployment(base="http://testserver", database_url=url, process=None, keys=keys)  # type: ignore[arg-type]
    cpu: dict[str, list[float]] = defaultdict(list)
    profiles: dict[str, cProfile.Profile] = defaultdict(cProfile.Profile)
    async with app.router.lifespan_context(app):
        for t in threading.enumerate():  # the planner's warm-up would bill its CPU to the first requests
            if t.name == "planner-warm-up":
                t.join()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=d.base) as c:
            books: dict[str, list[str]] = {}
            for actor in [a for a in keys if a.startswith("pam:")]:
                page = (await c.get("/v1/partners", params={"limit": 500}, headers=d.auth(actor))).json()
                books[actor.split(":", 1)[1]] = [p["partner_id"] for p in page["items"]]
            rng = random.Random(7)
            plan = [read_mix(d, books, rng) for _ in range(reads + 100)]
            from agent.services import get_services
            from readiness.dataversion import read_version

            versions = [read_version(get_services().engine)]
            for n, (actor, label, path) in enumerate(plan):
                record = n >= 100  # the first 100 warm caches and connections
                prof = profiles[label] if record and profile_dir is not None else None
                started = time.process_time()
                if prof is not None:
                    prof.enable()
                r = await c.get(path, headers=d.auth(actor))
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
    counts = {k: len(v) for k, v in sorted(cpu.items())}
    return {"reads": len(every), "cpu_ms_per_read": round(sum(every) / len(every), 2),
            "per_route_cpu_ms": {k: round(sum(v) / len(v), 2) for k, v in sorted(cpu.items())},
            "per_route_count": counts,
            # Reads must not move the store's data version, or they would throw the read caches away.
            "data_version_before_after": versions}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=600)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile per route into this folder")
    args = parser.parse_args()
    name, url, keys = _database()
    home = Path(tempfile.mkdtemp(prefix="pp-rest-profile-"))
    try:
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
            result = asyncio.run(_run(args.reads, keys, url, args.profile))
        finally:
            sys.stderr.close()
            sys.stderr = real_stderr
        print(json.dumps(result, indent=2))
    finally:
        import psycopg

        from agent.services import get_services

        get_services().engine.dispose()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
