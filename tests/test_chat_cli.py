"""`partnerpilot chat` driven by a piped script, and the bootstrap behind `partnerpilot up`.

From the raw data (evals/datasets/lumenware): 48 partners, 3 PAMs (pam-01..03), latest activity 2026-10-31;
p-004 Thistle Networks is in pam-02's book.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from readiness.settings import Settings, get_settings
from tests.conftest import LUMENWARE_AS_OF, ROOT

pytestmark = pytest.mark.xdist_group("server")


@pytest.fixture
def chat_env(lumenware_db: Path, tmp_path: Path) -> dict[str, str]:
    db = tmp_path / "store.db"
    shutil.copyfile(lumenware_db, db)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARTNERPILOT_", "OPENAI_"))}
    env.update(PARTNERPILOT_HOME=str(tmp_path / "home"), PARTNERPILOT_DATABASE_URL=f"sqlite:///{db}",
               PARTNERPILOT_MODELS_DIR=os.environ["PARTNERPILOT_MODELS_DIR"],  # the fitted intent model, shared
               PARTNERPILOT_AS_OF=LUMENWARE_AS_OF, PARTNERPILOT_PROVIDER="offline", COLUMNS="200")
    return env


def _chat(env: dict[str, str], script: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "partnerpilot"  # the installed console script, as a user runs it
    return subprocess.run([str(command), "chat", *args], input=script, env=env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def _threads(env: dict[str, str], owner: str) -> list[Any]:
    from agent.memory import list_threads, open_checkpointer

    settings = Settings(home=Path(env["PARTNERPILOT_HOME"]), database_url=env["PARTNERPILOT_DATABASE_URL"])
    with open_checkpointer(settings) as cp:
        return list_threads(cp, owner)


def test_piped_script_greets_answers_with_tool_activity_and_manages_threads(chat_env: dict[str, str]) -> None:
    script = "Which dormant partners should I call this week?\n/threads\n/reset\n/nope\n/quit\nnever sent\n"
    run = _chat(chat_env, script, "--as", "pam:pam-02")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    # Greeting turn first, then the scripted question; each answer shows its tool activity.
    assert out.index("pilot ›") < out.index("you › Which dormant partners")
    assert out.count("⚙ list_dormant_partners") >= 2
    assert out.count("pilot ›") >= 3
    assert "new thread" in out and "unknown command /nope" in out and out.rstrip().endswith("bye")
    assert "never sent" not in out  # /quit stops reading
    threads = _threads(chat_env, "pam:pam-02")
    assert len(threads) == 2  # the first conversation and the one /reset started
    first = min(threads, key=lambda t: t.updated_at or 0)
    assert first.thread_id in out and first.title == "hello"
    assert _threads(chat_env, "pam:pam-01") == []


def test_resuming_works_for_the_owner_and_not_for_anyone_else(chat_env: dict[str, str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # In-process (faster than three more subprocesses); the CLI's cached store engine is reset for this store.
    from agent import services
    from partnerpilot.cli import app, common

    for key, value in chat_env.items():
        if key.startswith("PARTNERPILOT_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setattr(common, "_engine", None)
    monkeypatch.setattr(services, "_services", services._services)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(app, ["chat", "--as", "pam:pam-02", "--thread", "t-1"],
                              input="What is Thistle Networks' readiness score?\n")
        assert first.exit_code == 0, first.output
        again = runner.invoke(app, ["chat", "--as", "pam:pam-02", "--thread", "t-1"], input="/quit\n")
        assert again.exit_code == 0 and "resuming: 2 earlier turns" in again.output
        other = runner.invoke(app, ["chat", "--as", "partner:p-004", "--thread", "t-1"], input="/quit\n")
        assert other.exit_code == 2 and "not found" in other.output
    finally:
        if common._engine is not None:
            common._engine.dispose()
        get_settings.cache_clear()


def _one_playbook(tmp_path: Path) -> Path:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    shutil.copy(ROOT / "knowledge" / "playbooks" / "co-sell-launch.md", folder)
    return folder


def test_bootstrap_imports_the_sample_once_and_remembers_its_as_of(tmp_path: Path) -> None:
    from partnerpilot.cli.up import SAMPLE_MARKER, bootstrap

    settings = Settings(home=tmp_path / "home", knowledge_dir=_one_playbook(tmp_path))
    first = bootstrap(settings)
    assert first.imported_sample and first.partners == 48
    assert first.sample_as_of == date(2026, 10, 31)  # the sample's latest activity
    assert (settings.home / SAMPLE_MARKER).is_file()
    assert first.index_chunks > 0 and first.index_embedded == first.index_chunks
    assert {"pam:pam-01", "pam:pam-02", "pam:pam-03"} <= {o.as_ for o in first.logins}
    assert any(o.role == "partner" for o in first.logins)

    second = bootstrap(settings)
    assert not second.imported_sample and second.partners == 48
    assert second.sample_as_of == date(2026, 10, 31) and second.index_embedded == 0


def test_bootstrap_leaves_an_existing_store_and_its_dates_alone(lumenware_db: Path, tmp_path: Path) -> None:
    from partnerpilot.cli.up import bootstrap

    db = tmp_path / "own.db"
    shutil.copyfile(lumenware_db, db)
    report = bootstrap(Settings(home=tmp_path / "home", database_url=f"sqlite:///{db}"), build_knowledge=False)
    assert not report.imported_sample and report.partners == 48 and report.sample_as_of is None


def test_up_sets_the_sample_as_of_prints_logins_and_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from partnerpilot.cli import app

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: served.update(target=target, **kw))
    # Recorded, so the values `up` writes for its workers are undone afterwards.
    for written in ("PARTNERPILOT_AS_OF", "PARTNERPILOT_HOST", "PARTNERPILOT_SECRET_KEY"):
        monkeypatch.setenv(written, "unset")
    for key in [k for k in os.environ if k.startswith("PARTNERPILOT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PARTNERPILOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PARTNERPILOT_KNOWLEDGE_DIR", str(_one_playbook(tmp_path)))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["up", "--port", "8765"])
        assert result.exit_code == 0, result.output
        assert served == {"target": "server.app:app", "host": "127.0.0.1", "port": 8765, "log_level": "warning",
                          "workers": 1, "timeout_worker_healthcheck": 30, "timeout_keep_alive": 30}
        # No environment trick: the one "today" rule reads the demo store's marker, for the server and the chat.
        assert get_settings().today() == date(2026, 10, 31)
        assert "as of: 2026-10-31" in result.output and "http://127.0.0.1:8765/" in result.output
        assert "pam:pam-01" in result.output
    finally:
        get_settings.cache_clear()


def test_terminal_turn_on_a_thread_busy_elsewhere_is_refused_and_nothing_runs(lumenware_db: Path, tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]
                                                                              ) -> None:
    # The terminal goes through the same turn service as the server: while another turn holds the thread, a
    # terminal turn on it says so and writes nothing (before, it ran beside the other turn).
    from langgraph.checkpoint.memory import InMemorySaver

    from agent.context import Context
    from agent.graph import build_graph
    from agent.services import configure
    from partnerpilot.cli.chat import ChatSession
    from readiness.db import make_engine
    from server.turn_service import TurnService

    db = tmp_path / "store.db"
    shutil.copyfile(lumenware_db, db)
    configure(make_engine(f"sqlite:///{db}"))
    saver = InMemorySaver()
    graph = build_graph(checkpointer=saver)
    settings = Settings(home=tmp_path / "home", database_url=f"sqlite:///{db}")
    turns = TurnService(settings, graph, saver)
    try:
        ctx = Context(role="pam", principal_id="pam-02", as_of=date.fromisoformat(LUMENWARE_AS_OF),
                      provider="offline")
        sess = ChatSession(turns, saver, ctx, "t-busy")
        assert turns._lock_local("t-busy")  # another turn (e.g. the web page's) is running on this thread
        sess.turn("how is the pipeline in my book?")
        assert "another turn is running on this thread" in capsys.readouterr().out
        assert saver.get_tuple({"configurable": {"thread_id": "t-busy"}}) is None
        turns._unlock_local("t-busy")
        sess.turn("how is the pipeline in my book?")
        out = capsys.readouterr().out
        assert "get_pipeline_summary" in out and "pilot ›" in out
        assert saver.get_tuple({"configurable": {"thread_id": "t-busy"}}) is not None
    finally:
        turns.close()
