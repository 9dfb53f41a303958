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
POSTGRES_URL = os.environ.get("PARTNERPILOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# PostgreSQL is required (its tests fail, never skip) when a server was named for them or in CI, where one runs.
POSTGRES_REQUIRED = bool(os.environ.get("PARTNERPILOT_TEST_POSTGRES_URL")) or \
    os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _postgres_admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)


def _postgres_available() -> str | None:
    try:
        with _postgres_admin():
            return None
    except Exception as exc:
        return f"no PostgreSQL server answers at {POSTGRES_URL}: {exc}"


_PG_UNAVAILABLE = _postgres_available()


def pytest_report_header(config: pytest.Config) -> str:
    if not _PG_UNAVAILABLE:
        return f"postgres: available at {POSTGRES_URL}"
    if POSTGRES_REQUIRED:
        return f"postgres: REQUIRED (CI or PARTNERPILOT_TEST_POSTGRES_URL) and its tests FAIL: {_PG_UNAVAILABLE}"
    return f"postgres: SKIPPED ({_PG_UNAVAILABLE})"


def require_postgres() -> None:
    """Skip a PostgreSQL test when no server answers, unless PostgreSQL is required: then fail it."""
    if _PG_UNAVAILABLE:
        if POSTGRES_REQUIRED:
            pytest.fail(f"PostgreSQL is required here (CI or PARTNERPILOT_TEST_POSTGRES_URL set): {_PG_UNAVAILABLE}",
                        pytrace=False)
        pytest.skip(reason=_PG_UNAVAILABLE)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    """A throw-away database on the shared server, dropped after the test."""
    require_postgres()
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


# Fixtures of the REST / auth tests (an app on a lumenware copy with a store key per principal).
from tests.api_support import api, store  # noqa: E402, F401
