"""Several workers, one truth: server processes on one PostgreSQL store and one Redis.

Turn 1 of a thread goes to one worker and turn 2 to another; a key revoked in the store fails on both at once;
a per-key rate limit counts across both; and `partnerpilot up --workers 2` serves from two processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from readiness.db import init_db, make_engine, session_scope
from readiness.importers import import_dataset
from readiness.keys import create_key, revoke_key
from tests.api_support import FIXTURE_PLAYBOOKS, REDIS_URL, free_port, redis_problem, require_service
from tests.conftest import LUMENWARE, LUMENWARE_AS_OF, POSTGRES_URL, _postgres_admin, require_postgres

pytestmark = [pytest.mark.xdist_group("workers"), pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def pg_program() -> Iterator[tuple[str, Engine]]:
    """The lumenware program in a throw-away PostgreSQL database: (SQLAlchemy URL, engine)."""
    require_postgres()
    require_service(redis_problem(REDIS_URL))
    name = f"pp_workers_{uuid.uuid4().hex[:10]}"
    with _postgres_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    engine = make_engine(url)
    try:
        init_db(engine)
        import_dataset(engine, LUMENWARE)
        yield url, engine
    finally:
        engine.dispose()
        with _postgres_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(url: str, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERPILOT_")}
    return {**env, "PARTNERPILOT_DATABASE_URL": url, "PARTNERPILOT_REDIS_URL": REDIS_URL,
            "PARTNERPILOT_HOME": str(home), "PARTNERPILOT_AS_OF": LUMENWARE_AS_OF, "PARTNERPILOT_PROVIDER": "offline",
            "PARTNERPILOT_MODELS_DIR": os.environ["PARTNERPILOT_MODELS_DIR"],  # the fitted intent model, shared
            "PARTNERPILOT_KNOWLEDGE_DIR": str(FIXTURE_PLAYBOOKS), "PARTNERPILOT_LOG_FORMAT": "json",
            "ANONYMIZED_TELEMETRY": "False", **extra}


def _wait_ready(base: str, proc: subprocess.Popen[Any], log: Path, path: str = "/healthz",
                timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(base + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"server at {base} not ready in {timeout}s: {log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def two_workers(pg_program: tuple[str, Engine], tmp_path: Path) -> Iterator[tuple[str, str, Engine]]:
    """Two independent server processes (as two workers are) on the same store, checkpoints and Redis."""
    url, engine = pg_program
    procs, bases = [], []
    try:
        for i in range(2):
            port = free_port()
            log = tmp_path / f"worker{i}.log"
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "server.app:app", "--host", "127.0.0.1", "--port", str(port),
                 "--log-level", "warning"], cwd=ROOT, env=_env(url, tmp_path / "home",
                                                               PARTNERPILOT_RATE_LIMIT_PER_MINUTE="20"),
                stdout=log.open("wb"), stderr=subprocess.STDOUT)
            procs.append((proc, log))
            bases.append(f"http://127.0.0.1:{port}")
        for (proc, log), base in zip(procs, bases, strict=True):
            _wait_ready(base, proc, log)
        yield bases[0], bases[1], engine
    finally:
        for proc, _ in procs:
            _stop(proc)


def test_turn_two_of_a_thread_on_another_worker_continues_the_same_conversation(
    two_workers: tuple[str, str, Engine],
) -> None:
    a, b, engine = two_workers
    with session_scope(engine) as s:
        partner = {"Authorization": f"Bearer {create_key(s, 'partner', 'p-004').key}"}
        other = {"Authorization": f"Bearer {create_key(s, 'partner', 'p-014').key}"}
    first = httpx.post(f"{a}/invoke", json={"message": "what's my readiness score?"}, headers=partner, timeout=60)
    assert first.status_code == 200, first.text
    thread = first.json()["thread_id"]
    second = httpx.post(f"{b}/invoke", json={"message": "and what should I do next?", "thread_id": thread},
                        headers=partner, timeout=60)
    assert second.status_code == 200, second.text
    assert second.json()["thread_id"] == thread and second.json()["answer"]
    named = {str(c["args"].get("partner", "p-004")) for c in second.json()["tool_calls"]}
    assert named <= {"p-004", "Thistle Networks"}
    seen_a = httpx.get(f"{a}/history/{thread}", headers=partner, timeout=30).json()["messages"]
    seen_b = httpx.get(f"{b}/history/{thread}", headers=partner, timeout=30).json()["messages"]
    assert seen_a == seen_b
    assert [m["content"] for m in seen_a if m["role"] == "user"] == ["what's my readiness score?",
                                                                      "and what should I do next?"]
    assert seen_a[-1]["role"] == "assistant" and seen_a[-1]["content"] == second.json()["answer"]
    assert [t["thread_id"] for t in httpx.get(f"{b}/threads", headers=partner, timeout=30).json()] == [thread]
    # The thread belongs to its owner on every worker.
    assert httpx.get(f"{b}/history/{thread}", headers=other, timeout=30).status_code == 404


def test_a_revoked_key_fails_at_once_on_every_worker_and_a_rate_limit_counts_across_them(
    two_workers: tuple[str, str, Engine],
) -> None:
    a, b, engine = two_workers
    with session_scope(engine) as s:
        made = create_key(s, "pam", "pam-02")
        limited = {"Authorization": f"Bearer {create_key(s, 'pam', 'pam-03').key}"}
    auth = {"Authorization": f"Bearer {made.key}"}
    assert [httpx.get(f"{base}/v1/me", headers=auth).status_code for base in (a, b)] == [200, 200]
    with session_scope(engine) as s:
        revoke_key(s, made.info.key_id)
    assert [httpx.get(f"{base}/v1/me", headers=auth).status_code for base in (a, b)] == [401, 401]

    left = 60 - time.time() % 60
    if left < 15:  # the one-minute window must not end mid-count
        time.sleep(left + 0.2)
    codes = [httpx.get(f"{(a, b)[i % 2]}/v1/me", headers=limited).status_code for i in range(24)]
    assert codes.count(200) == 20 and codes[20:] == [429] * 4, codes


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_up_with_two_workers_serves_from_two_processes_on_postgres(pg_program: tuple[str, Engine],
                                                                    tmp_path: Path) -> None:
    url, _ = pg_program
    port = free_port()
    log = tmp_path / "up.log"
    cli = str(Path(sys.executable).parent / "partnerpilot")
    proc = subprocess.Popen([cli, "up", "--port", str(port), "--workers", "2"],
                            cwd=ROOT, env=_env(url, tmp_path / "home"), stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, proc, log, path="/readyz", timeout=300)
        # Each worker answers for itself, and a worker opens the index in the background: poll until one says ready.
        deadline = time.monotonic() + 60
        while (r := httpx.get(f"{base}/readyz", timeout=5)).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        ready = r.json()
        assert set(ready["checks"]) == {"store", "checkpointer", "index", "redis"}
        assert all(c["ok"] for c in ready["checks"].values()) and "Redis" in ready["checks"]["redis"]["detail"]
        workers = [p for p in _children(proc.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
        assert len(workers) == 2, (workers, log.read_text()[-2000:])
        assert "2 workers" in log.read_text() and "Demo login is off" in log.read_text()
    finally:
        _stop(proc)
