"""What keeps a chat turn cheap without changing its answer (issue 15's streaming figures).

- The principal's partner directory is read once per turn, shared by the input guard and every planner step, and
  read again by the next turn (agent.turn_memo).
- The read tools' results and small scoring frames are reused only while the store's data version holds: a change
  committed by anyone shows in the next turn, and a transaction's own uncommitted writes are never hidden by a
  cached frame (agent.tools.read_cache, readiness.scoring.frame_cache).
- The offline planner streams phrase-sized chunks that add up to the answer exactly.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from agent.planner.model import CHUNK_CHARS, _pieces
from readiness.db import make_engine, session_scope
from readiness.scoring import score_partner
from readiness.signals import record_signal
from tests.conftest import AGENT_AS_OF, signal_from_elsewhere


def test_a_turn_reads_the_directory_once_and_the_next_turn_reads_it_again(chat: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.models

    reads: list[str] = []
    real = agent.models.visible_partners

    def counting(session: Any, principal: Any) -> Any:
        reads.append(principal.id)
        return real(session, principal)

    monkeypatch.setattr(agent.models, "visible_partners", counting)
    say = chat("partner", "p-004")
    first = say("hello")
    steps = sum(1 for m in first["state"]["messages"][-8:] if getattr(m, "type", "") == "ai")
    assert len(first["calls"]) >= 2 and steps >= 3, "a greeting runs several planner steps"
    assert reads == ["p-004"], "the guard and every planner step of the turn share one read"
    say("what's my readiness score?")
    assert reads == ["p-004", "p-004"], "the next turn reads the directory again"


def _plan_rows(result: dict[str, Any]) -> dict[str, str]:
    data = next(r["data"] for r in result["results"] if r.get("ok") and "milestones" in r.get("data", {}))
    return {m["key"]: m["status"] for m in data["milestones"]}


def test_a_change_committed_elsewhere_shows_in_the_next_turn(chat: Any, lumenware_db: Path) -> None:
    from agent.services import get_services

    say = chat("partner", "p-004")
    before = say("how is my plan going?")
    again = say("how is my plan going?")
    assert _plan_rows(again) == _plan_rows(before)
    score = say("what's my readiness score?")["results"][0]["data"]
    # Another process (the CLI, a second worker, the REST API) records a signal through its own engine.
    signal_from_elsewhere(str(get_services().engine.url), "p-004", "three engineers passed the advanced certification",
                          "pam:pam-01", AGENT_AS_OF)
    after = say("what's my readiness score?")["results"][0]["data"]
    assert after != score, "the cached result of the same call is not served across a committed change"


def test_a_transaction_sees_its_own_writes_not_a_cached_frame(lumenware_db: Path, tmp_path: Path) -> None:
    import shutil

    db = tmp_path / "store.db"
    shutil.copyfile(lumenware_db, db)
    engine = make_engine(f"sqlite:///{db}")
    as_of = date(2026, 10, 31)
    try:
        with session_scope(engine) as s:
            cached = score_partner(s, "p-004", as_of)
            assert score_partner(s, "p-004", as_of) == cached
            record_signal(s, {"partner_id": "p-004", "dimension": "capability", "level": "high",
                                    "evidence": "passed the advanced certification", "actor": "pam:pam-01",
                                    "source": "pam"}, as_of=as_of)
            # Rescored inside the writing transaction, before its commit: computed, not the cached frame.
            capability = {d.key: d for d in score_partner(s, "p-004", as_of).dimensions}["capability"]
            assert capability.adjustments, "the uncommitted signal counts in the same transaction"
            assert not {d.key: d for d in cached.dimensions}["capability"].adjustments
        with session_scope(engine) as s:
            fresh = score_partner(s, "p-004", as_of)
            assert {d.key: d for d in fresh.dimensions}["capability"].adjustments
    finally:
        engine.dispose()


def test_the_planner_streams_phrases_that_add_up_to_the_answer() -> None:
    answer = ("Hello Thistle Networks. You are in the ready segment with a readiness score of 39/100 (Tier 3).\n\n"
              "- [open] One use case tied to a specific customer problem (day 30, due 2026-11-30)\n"
              "- [open] An ICP statement that passes the rubric (day 30, due 2026-11-30)\n" + "word " * 60)
    pieces = _pieces(answer)
    assert "".join(pieces) == answer
    assert len(pieces) <= len(answer.split()) / 4, "a chunk per phrase, not per word"
    for piece in pieces[:-1]:
        assert piece.endswith((" ", "\n")), "cut after whole words"
        assert len(piece) < CHUNK_CHARS + 40 or "\n" not in piece.rstrip("\n")
    assert _pieces("") == [""]
