"""A throw-away deployment for the API benchmarks: the lumenware program in a fresh PostgreSQL database, served by
`partnerpilot up --workers N` with Redis, on a free 127.0.0.1 port; a key per principal; worker memory from /proc.

Used by benchmarks.rest_bench and benchmarks.stream_bench; everything is removed on exit.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LUMENWARE = ROOT / "evals" / "datasets" / "lumenware"
AS_OF = "2026-10-31"
POSTGRES_URL = os.environ.get("PARTNERPILOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PARTNERPILOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Deployment:
    base: str
    database_url: str
    process: subprocess.Popen[bytes]
    keys: dict[str, str] = field(default_factory=dict)  # "pam:pam-02" -> bearer key

    def auth(self, actor: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[actor]}"}

    def worker_pids(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.process.pid and b"spawn_main" in cmdline:
                found.append(int(entry.name))
        return sorted(found)

    def worker_rss_mb(self) -> dict[int, float]:
        out = {}
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[pid] = int(line.split()[1]) / 1024
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _admin_url() -> str:
    return POSTGRES_URL


def principal_keys(engine: Any, name: str, leader: bool = True) -> dict[str, str]:
    """A key per PAM and per partner (and the program leader's): the actors the benchmarks sign in as."""
    from readiness.db import session_scope
    from readiness.keys import create_key
    from readiness.models import Pam, Partner

    keys: dict[str, str] = {}
    with session_scope(engine) as s:
        for pam in s.query(Pam).all():
            keys[f"pam:{pam.pam_id}"] = create_key(s, "pam", pam.pam_id, name=name).key
        for partner in s.query(Partner).all():
            keys[f"partner:{partner.partner_id}"] = create_key(s, "partner", partner.partner_id, name=name).key
        if leader:
            keys["leader"] = create_key(s, "leader", name=name).key
    return keys


@contextmanager
def lumenware_database(prefix: str = "pp_bench") -> Iterator[tuple[str, dict[str, str]]]:
    """(URL, keys) of a fresh PostgreSQL database holding the lumenware program, scored for AS_OF as `partnerpilot
    import` does for the server's as-of date (the stored scores a call list reads); dropped on exit."""
    import psycopg

    from readiness.db import init_db, make_engine, session_scope
    from readiness.importers import import_dataset
    from readiness.scoring import refresh_snapshots

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    try:
        engine = make_engine(url)
        init_db(engine)
        import_dataset(engine, LUMENWARE)
        with session_scope(engine) as s:
            refresh_snapshots(s, date.fromisoformat(AS_OF))
        keys = principal_keys(engine, "bench")
        engine.dispose()
        yield url, keys
    finally:
        with psycopg.connect(_admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def deployment(workers: int = 2, rate_limit: int = 100_000, extra_env: dict[str, str] | None = None
               ) -> Iterator[Deployment]:
    tmp = Path(tempfile.mkdtemp(prefix="pp-api-bench-"))
    with lumenware_database() as (url, keys):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERPILOT_")}
        if os.environ.get("PARTNERPILOT_MODELS_DIR"):
            # The fitted intent model is keyed by its training data's hash: sharing it only skips the fit at start.
            env["PARTNERPILOT_MODELS_DIR"] = os.environ["PARTNERPILOT_MODELS_DIR"]
        env.update({"PARTNERPILOT_DATABASE_URL": url, "PARTNERPILOT_REDIS_URL": REDIS_URL,
                    "PARTNERPILOT_HOME": str(tmp / "home"), "PARTNERPILOT_AS_OF": AS_OF,
                    "PARTNERPILOT_PROVIDER": "offline", "PARTNERPILOT_RATE_LIMIT_PER_MINUTE": str(rate_limit),
                    "PARTNERPILOT_LOG_FORMAT": "json", "ANONYMIZED_TELEMETRY": "False", **(extra_env or {})})
        with served(env, port, tmp / "server.log", workers=workers) as proc:
            yield Deployment(base=f"http://127.0.0.1:{port}", database_url=url, process=proc, keys=keys)


@contextmanager
def served(env: dict[str, str], port: int, log: Path, workers: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    """`partnerpilot up` of this checkout on 127.0.0.1:`port`, once `/readyz` answers 200; stopped (SIGINT, then
    kill) on exit. Its stderr goes to `log`, quoted when it exits early or never gets ready."""
    cli = str(Path(sys.executable).parent / "partnerpilot")
    proc = subprocess.Popen([cli, "up", "--port", str(port), "--workers", str(workers)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        deadline = time.monotonic() + 600
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready: {log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


__all__ = ["AS_OF", "Deployment", "deployment", "free_port", "load_average", "lumenware_database", "percentile",
           "principal_keys"]
