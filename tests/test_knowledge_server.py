"""The knowledge base against a real Chroma server (the deployment path), selected by PARTNERPILOT_CHROMA_URL."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.index import build_index, make_client
from knowledge.retriever import KnowledgeBase
from readiness.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "playbooks"
CHROMA = Path(sys.executable).parent / "chroma"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_url(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path / "chroma.log").open("wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"chroma server did not start: {(tmp_path / 'chroma.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_index_and_search_through_a_chroma_server(
    chroma_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "playbooks"
    shutil.copytree(FIXTURES, corpus)
    monkeypatch.setenv("PARTNERPILOT_CHROMA_URL", chroma_url)
    settings = Settings(home=tmp_path / "home", knowledge_dir=corpus)
    assert settings.chroma_url == chroma_url
    client = make_client(settings)
    assert type(client).__name__ != "PersistentClient" and client.heartbeat() > 0

    first = build_index(settings=settings)
    assert first.added == first.chunks > 0
    (corpus / "fx-co-sell.md").unlink()
    second = build_index(settings=settings)
    assert second.removed > 0 and second.added == 0
    assert not (tmp_path / "home" / "chroma").exists(), "server mode must not write an embedded index"

    kb = KnowledgeBase(settings)
    hits = kb.search("who is our ideal customer, trigger events", k=3)
    assert hits[0].playbook_id == "fx-icp-basics"
    assert all(h.playbook_id != "fx-pam-dormant" for h in kb.search("revenue at stake call list", k=10))
    assert kb.search("revenue at stake call list", k=1, audience="pam")[0].playbook_id == "fx-pam-dormant"
