"""Conversation memory survives a restart (new checkpointer, new graph) on SQLite and PostgreSQL, threads are
stamped with their owner, and the PostgreSQL pool recovers from connections the server dropped."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from sqlalchemy import Engine

from agent import services
from agent.context import Context
from agent.graph import build_graph
from agent.memory import list_threads, open_checkpointer, run_config, thread_owner
from agent.services import configure
from readiness.settings import Settings


@pytest.fixture(autouse=True)
def _restore_services(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests point the process-wide services at their own store; put the previous ones back after."""
    monkeypatch.setattr(services, "_services", services._services)


CTX = Context(role="pam", principal_id="pam-01", as_of=date(2026, 10, 31), provider="offline", model="offline")


def _settings(engine: Engine, home: Path) -> Settings:
    return Settings(home=home, database_url=engine.url.render_as_string(hide_password=False))


def _say(graph: Any, thread: str, text: str) -> list[Any]:
    state = graph.invoke({"messages": [HumanMessage(content=text)]}, config=run_config(thread, "pam:pam-01"),
                         context=CTX)
    return list(state["messages"])


def test_a_conversation_resumes_after_reopening_the_checkpointer(any_engine: Engine, tmp_path: Path) -> None:
    configure(any_engine)
    settings = _settings(any_engine, tmp_path)
    with open_checkpointer(settings) as cp:
        first = _say(build_graph(checkpointer=cp), "t-resume", "hello")
    assert isinstance(first[-1], AIMessage) and first[-1].content

    with open_checkpointer(settings) as cp:  # a restarted process: nothing shared but the database
        graph = build_graph(checkpointer=cp)
        restored = graph.get_state(run_config("t-resume", "pam:pam-01")).values["messages"]
        assert [m.content for m in restored] == [m.content for m in first]
        after = _say(graph, "t-resume", "thanks")
        assert [m.content for m in after[: len(first)]] == [m.content for m in first]
        assert [m.content for m in after if isinstance(m, HumanMessage)] == ["hello", "thanks"]
        assert thread_owner(cp, "t-resume") == "pam:pam-01"
        assert thread_owner(cp, "t-unknown") is None
        mine = list_threads(cp, "pam:pam-01")
        assert [(t.thread_id, t.title, t.messages) for t in mine] == [("t-resume", "hello", len(after))]
        assert list_threads(cp, "pam:pam-02") == []


def test_default_checkpointer_is_a_sqlite_file_under_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    with open_checkpointer(settings) as cp:
        assert isinstance(cp, SqliteSaver)
    assert settings.checkpoint_path.is_file()


@pytest.mark.postgres
def test_postgres_checkpointer_survives_dropped_connections(postgres_engine: Engine, tmp_path: Path) -> None:
    import psycopg

    from tests.conftest import POSTGRES_URL

    configure(postgres_engine)
    with open_checkpointer(_settings(postgres_engine, tmp_path)) as cp:
        assert isinstance(cp, PostgresSaver)
        graph = build_graph(checkpointer=cp)
        _say(graph, "t-drop", "hello")
        # Kill every server session on this database (what an idle timeout or a failover does to the pool).
        dbname = postgres_engine.url.database
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)).fetchone()
        assert killed is not None and killed[0] >= 1
        postgres_engine.dispose()  # the store's own pool lost its connections too
        after = _say(graph, "t-drop", "thanks")
        assert [m.content for m in after if isinstance(m, HumanMessage)] == ["hello", "thanks"]
