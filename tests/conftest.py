"""Shared fixtures: a fresh store per test on SQLite, and on PostgreSQL when a server answers."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from readiness.db import init_db, make_engine, session_scope

AGENT_AS_OF = date(2026, 10, 31)

ROOT = Path(__file__).resolve().parent.parent
LUMENWARE = ROOT / "evals" / "datasets" / "lumenware"
LUMENWARE_AS_OF = "2026-10-31"

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# One fitted intent model for every test worker and temporary home (it is keyed by its training data's hash; fitting
# it takes minutes, loading it a second).
os.environ.setdefault("PARTNERPILOT_MODELS_DIR", str(ROOT / "var" / "models"))
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


@pytest.fixture(scope="session")
def knowledge_base(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import os

    from knowledge.index import build_index
    from knowledge.retriever import KnowledgeBase
    from readiness.settings import get_settings

    home = tmp_path_factory.mktemp("kb-home")
    old = os.environ.get("PARTNERPILOT_HOME")
    os.environ["PARTNERPILOT_HOME"] = str(home)
    get_settings.cache_clear()
    try:
        build_index()
        kb = KnowledgeBase()
        kb.search("warm up", k=1)
    finally:
        if old is None:
            os.environ.pop("PARTNERPILOT_HOME", None)
        else:
            os.environ["PARTNERPILOT_HOME"] = old
        get_settings.cache_clear()
    return kb


@pytest.fixture
def chat(lumenware_db: Path, knowledge_base: Any, tmp_path: Path) -> Iterator[Any]:
    """Conversations through the real graph on the offline planner, on a fresh copy of the lumenware program."""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
    from langgraph.checkpoint.memory import InMemorySaver

    from agent.context import Context
    from agent.graph import build_graph
    from agent.services import configure

    db = tmp_path / "store.db"
    shutil.copyfile(lumenware_db, db)
    engine = make_engine(f"sqlite:///{db}")
    configure(engine, knowledge=knowledge_base)
    graph = build_graph(checkpointer=InMemorySaver())

    def make(role: str, pid: str, thread: str = "t1", provider: str = "offline") -> Any:
        ctx = Context(role=role, principal_id=pid, as_of=AGENT_AS_OF, provider=provider, model="test-model")
        config = {"configurable": {"thread_id": thread}}

        def say(text: str) -> dict[str, Any]:
            before = len(graph.get_state(config).values.get("messages", []))
            state = graph.invoke({"messages": [HumanMessage(content=text)]}, config=config, context=ctx)
            new = state["messages"][before + 1 :]
            calls = [c for m in new if isinstance(m, AIMessage) for c in m.tool_calls]
            results = [json.loads(m.content) for m in new if isinstance(m, ToolMessage)]
            return {"answer": str(state["messages"][-1].content), "calls": calls, "results": results,
                    "refused": state.get("refused"), "fallback": state.get("fallback"),
                    "fallback_reason": state.get("fallback_reason"), "state": state}

        return say

    yield make
    engine.dispose()


# Fixtures of the REST / auth tests (an app on a lumenware copy with a store key per principal).
from tests.api_support import api, store  # noqa: E402, F401


def signal_from_elsewhere(url: str, partner_id: str, evidence: str, actor: str, as_of: date) -> None:
    """A readiness signal recorded by another process (the CLI, a second worker) through an engine of its own."""
    from readiness.signals import record_signal

    other = make_engine(url)
    try:
        with session_scope(other) as s:
            record_signal(s, {"partner_id": partner_id, "dimension": "capability", "level": "high",
                              "evidence": evidence, "actor": actor, "source": "pam"}, as_of=as_of)
    finally:
        other.dispose()
