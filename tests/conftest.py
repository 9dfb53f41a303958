"""Shared fixtures: a fresh store per test on SQLite, and on PostgreSQL when a server answers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from readiness.db import init_db, make_engine, session_scope

ROOT = Path(__file__).resolve().parent.parent
LUMENWARE = ROOT / "evals" / "datasets" / "lumenware"
LUMENWARE_AS_OF = "2026-10-31"

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# One fitted intent model for every test worker and temporary home (it is keyed by its training data's hash; fitting
# it takes minutes, loading it a second).
os.environ.setdefault("PARTNERPILOT_MODELS_DIR", str(ROOT / "var" / "models"))
POSTGRES_URL = os.environ.get("PARTNERPILOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)


def _postgres_available() -> str | None:
    try:
        with _postgres_admin():
            return None
    except Exception as exc:
        return f"no PostgreSQL server answers at {POSTGRES_URL}: {exc}"


_PG_SKIP_REASON = _postgres_available()


def pytest_report_header(config: pytest.Config) -> str:
    return "postgres: " + (f"SKIPPED ({_PG_SKIP_REASON})" if _PG_SKIP_REASON else f"available at {POSTGRES_URL}")


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    """A throw-away database on the shared server, dropped after the test."""
    if _PG_SKIP_REASON:
        pytest.skip(reason=_PG_SKIP_REASON)
    name = f"pp_test_{uuid.uuid4().hex[:12]}"
    with _postgres_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = make_engine(f"{base}/{name}")
    try:
        init_db(engine)
        yield engine
    finally:
        engine.dispose()
        with _postgres_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """The test runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture(scope="session")
def lumenware_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lumenware program imported once per test worker into a SQLite file; copy it before writing to it."""
    from readiness.importers import import_into_sqlite_file

    path = tmp_path_factory.mktemp("lumen") / "store.db"
    import_into_sqlite_file(path, LUMENWARE)
    return path


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    return sqlite_engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as s:
        yield s
