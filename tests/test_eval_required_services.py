"""Required components fail loudly: a PostgreSQL test that cannot connect fails (never skips) in CI or when a
server was named for it, and `.ci/run` refuses to start the tests when PostgreSQL or Redis does not answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_TEST = "tests/test_memory.py::test_postgres_checkpointer_survives_dropped_connections"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PARTNERPILOT_TEST_POSTGRES_URL"}}
    return {**env, **extra}


def test_a_postgres_test_fails_instead_of_skipping_when_postgres_is_required() -> None:
    dead = f"postgresql://postgres@127.0.0.1:{_closed_port()}/test"
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", PG_TEST],
                         cwd=ROOT, env=_env(PARTNERPILOT_TEST_POSTGRES_URL=dead), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1, out.stdout[-2000:]
    # pytest.fail in the fixture reports the test as an error at setup: the run fails either way
    assert ("1 failed" in out.stdout or "1 error" in out.stdout) and "skipped" not in out.stdout
    assert "PostgreSQL is required" in out.stdout


def test_ci_run_stops_with_a_clear_message_when_services_do_not_answer(tmp_path: Path) -> None:
    port = _closed_port()
    env = _env(PARTNERPILOT_TEST_POSTGRES_URL=f"postgresql://postgres@127.0.0.1:{port}/test",
               PARTNERPILOT_TEST_REDIS_PORT=str(port))
    out = subprocess.run(["bash", str(ROOT / ".ci" / "run")], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2
    assert "PostgreSQL does NOT answer" in out.stderr
    assert "Redis does NOT answer" in out.stderr
    assert "not running the tests" in out.stderr
