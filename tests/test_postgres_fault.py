"""PostgreSQL goes away mid-run and comes back: the server answers 503 with a clear JSON message (never a 500 with
a traceback), /healthz says degraded within seconds, and once the database is back the same requests succeed
without restarting the server.

The test runs its own cluster (tests/pg_cluster.py) on a free port: the shared server is never stopped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from readiness.db import init_db, make_engine, session_scope
from readiness.importers import import_dataset
from readiness.keys import create_key
from tests.api_support import FIXTURE_PLAYBOOKS, free_port
from tests.conftest import LUMENWARE, LUMENWARE_AS_OF, POSTGRES_REQUIRED
from tests.pg_cluster import Cluster, cluster_problem, destroy, make_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("workers")]
ROOT = Path(__file__).resolve().parents[1]
DOWN_ANSWER_S = 10.0  # every request while the database is down must be answered within this
RECOVER_S = 60.0  # after the restart, the same requests must succeed within this


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    problem = cluster_problem()
    if problem is not None:
        if POSTGRES_REQUIRED:
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    made = make_cluster()
    try:
        yield made
    finally:
        destroy(made)


@pytest.fixture
def server(cluster: Cluster, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[Any], dict[str, str]]]:
    import psycopg

    with psycopg.connect(cluster.libpq_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute('CREATE DATABASE "pp"')
    url = cluster.url("pp")
    engine = make_engine(url)
    try:
        init_db(engine)
        import_dataset(engine, LUMENWARE)
        with session_scope(engine) as s:
            keys = {"pam": create_key(s, "pam", "pam-02").key, "partner": create_key(s, "partner", "p-004").key}
    finally:
        engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERPILOT_")}
    env.update({"PARTNERPILOT_DATABASE_URL": url, "PARTNERPILOT_HOME": str(tmp_path / "home"),
                "PARTNERPILOT_AS_OF": LUMENWARE_AS_OF, "PARTNERPILOT_PROVIDER": "offline",
                "PARTNERPILOT_MODELS_DIR": os.environ["PARTNERPILOT_MODELS_DIR"],
                "PARTNERPILOT_KNOWLEDGE_DIR": str(FIXTURE_PLAYBOOKS), "ANONYMIZED_TELEMETRY": "False",
                "PARTNERPILOT_DB_POOL_TIMEOUT_S": "2"})
    port = free_port()
    log = tmp_path / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "server.app:app", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning"], cwd=ROOT, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}: {log.read_text()[-3000:]}")
            try:
                if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not up in 240 s: {log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base, proc, {name: f"Bearer {key}" for name, key in keys.items()}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _requests(base: str, auth: dict[str, str], thread_id: str | None) -> dict[str, tuple[httpx.Response, float]]:
    """A REST read, a chat turn and /healthz: each response with the seconds it took."""
    invoke: dict[str, Any] = {"message": "what's my readiness score?"}
    if thread_id:
        invoke["thread_id"] = thread_id
    calls = {
        "read": ("GET", "/v1/partners/p-004/score", {"headers": {"Authorization": auth["pam"]}}),
        "invoke": ("POST", "/invoke", {"json": invoke, "headers": {"Authorization": auth["partner"]}}),
        "healthz": ("GET", "/healthz", {}),
    }
    out = {}
    with httpx.Client(base_url=base, timeout=DOWN_ANSWER_S + 30) as client:
        for name, (method, path, kwargs) in calls.items():
            started = time.monotonic()
            response = client.request(method, path, **kwargs)
            out[name] = (response, time.monotonic() - started)
    return out


def test_postgres_down_mid_run_gives_503_and_recovers_without_a_restart(
        cluster: Cluster, server: tuple[str, subprocess.Popen[Any], dict[str, str]]) -> None:
    base, proc, auth = server
    before = _requests(base, auth, None)
    assert {k: r.status_code for k, (r, _) in before.items()} == {"read": 200, "invoke": 200, "healthz": 200}
    thread_id = before["invoke"][0].json()["thread_id"]

    cluster.stop("immediate")
    down = _requests(base, auth, thread_id)
    for name, (r, took) in down.items():
        assert r.status_code == 503, (name, r.status_code, r.text[:500])
        assert r.headers["content-type"].startswith("application/json") and "Traceback" not in r.text
        assert took < DOWN_ANSWER_S, (name, took)
    for name in ("read", "invoke"):
        r = down[name][0]
        assert "database" in r.json()["detail"] and int(r.headers["Retry-After"]) >= 1
    assert down["healthz"][0].json()["status"] == "degraded"

    cluster.start()
    deadline = time.monotonic() + RECOVER_S
    while True:
        after = _requests(base, auth, thread_id)
        codes = {k: r.status_code for k, (r, _) in after.items()}
        if codes == {"read": 200, "invoke": 200, "healthz": 200} or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert codes == {"read": 200, "invoke": 200, "healthz": 200}, {k: r.text[:300] for k, (r, _) in after.items()}
    assert proc.poll() is None  # the same server process
    assert after["invoke"][0].json()["thread_id"] == thread_id
    history = httpx.get(f"{base}/history/{thread_id}", headers={"Authorization": auth["partner"]}, timeout=30)
    users = [m for m in history.json()["messages"] if m["role"] == "user"]
    assert len(users) == 2  # the turn refused while the database was down wrote nothing
