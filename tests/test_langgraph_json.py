"""`langgraph.json` serves the PartnerPilot graph with `langgraph dev`, offline, through its HTTP API.

From the raw data (evals/datasets/lumenware/partners.csv): p-004 is Thistle Networks.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from readiness.db import init_db, make_engine
from tests.conftest import LUMENWARE, LUMENWARE_AS_OF, ROOT

pytestmark = [pytest.mark.xdist_group("server"), pytest.mark.slow]
CONFIG = ROOT / "langgraph.json"
LANGGRAPH = Path(sys.executable).parent / "langgraph"


def test_config_points_at_the_compiled_graph() -> None:
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    assert config["dependencies"] == ["."]
    module_path, _, attr = config["graphs"]["partnerpilot"].partition(":")
    assert (ROOT / module_path).is_file() and attr == "graph"
    import agent.graph

    assert type(getattr(agent.graph, attr)).__name__ == "CompiledStateGraph"
    assert isinstance(config["env"], dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(not LANGGRAPH.exists(), reason="langgraph-cli[inmem] is not installed in this environment")
def test_langgraph_dev_answers_a_partner_offline(tmp_path: Path) -> None:
    from readiness.importers import import_dataset

    home = tmp_path / "home"
    home.mkdir()
    engine = make_engine(f"sqlite:///{home / 'partnerpilot.db'}")
    init_db(engine)
    import_dataset(engine, LUMENWARE)
    engine.dispose()

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARTNERPILOT_", "OPENAI_"))}
    env.update(PARTNERPILOT_HOME=str(home), PARTNERPILOT_AS_OF=LUMENWARE_AS_OF, PARTNERPILOT_PROVIDER="offline",
               PARTNERPILOT_MODELS_DIR=os.environ["PARTNERPILOT_MODELS_DIR"],  # the fitted intent model, shared
               LANGGRAPH_CLI_NO_ANALYTICS="1", LANGGRAPH_NO_VERSION_CHECK="1")
    log = (tmp_path / "langgraph.log").open("w")
    # `langgraph dev` keeps its runtime's files (.langgraph_api) in the cwd and resolves graph paths against it:
    # run it in a temp dir that shows the checkout's `agent` package, so the test leaves nothing in the checkout.
    (tmp_path / "agent").symlink_to(ROOT / "agent", target_is_directory=True)
    proc = subprocess.Popen([str(LANGGRAPH), "dev", "--config", str(CONFIG), "--port", str(port), "--no-reload",
                             "--no-browser"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "langgraph.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "langgraph dev did not answer /ok in time"
            try:
                if httpx.get(f"{base}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        thread = httpx.post(f"{base}/threads", json={}, timeout=10).json()["thread_id"]
        run = httpx.post(f"{base}/threads/{thread}/runs/wait", timeout=60, json={
            "assistant_id": "partnerpilot",
            "input": {"messages": [{"role": "user", "content": "hello"}]},
            "context": {"role": "partner", "principal_id": "p-004"},
        })
        assert run.status_code == 200, run.text
        state = run.json()
        assert "__error__" not in state, state
        last = state["messages"][-1]
        assert last["type"] == "ai" and "Thistle Networks" in last["content"]
        assert state["refused"] is False
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()
