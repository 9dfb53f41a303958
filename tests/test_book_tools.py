"""The book and program tools chat needs (docs/TOOLS.md): list_partners, get_book_health, compare_partners, and the
plan's overdue/on_track fields. Figures are checked against the domain functions they wrap, scope against the
principal; a partner gets none of them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.context import Context
from agent.services import configure, get_services
from readiness.db import make_engine
from tests.conftest import AGENT_AS_OF

PAM01 = "pam-01"


@pytest.fixture
def store(lumenware_db: Path, tmp_path: Path) -> Iterator[None]:
    db = tmp_path / "store.db"
    shutil.copyfile(lumenware_db, db)
    engine = make_engine(f"sqlite:///{db}")
    configure(engine)
    yield
    engine.dispose()


def call(tool: Any, role: str, pid: str, **args: Any) -> dict[str, Any]:
    class Runtime:
        context = Context(role=role, principal_id=pid, as_of=AGENT_AS_OF, provider="offline")
        config: dict[str, Any] = {"configurable": {"thread_id": "t"}}
        state: dict[str, Any] = {"messages": []}

    return json.loads(tool.func(runtime=Runtime(), **args))


def book_of(pam: str) -> list[str]:
    from readiness.scope import Principal, visible_partner_ids

    with get_services().session() as s:
        return visible_partner_ids(s, Principal(role="pam", id=pam))


def test_list_partners_counts_all_matches_and_filters_by_stage(store: None) -> None:
    from agent.tools.book import list_partners
    from readiness.lifecycle import LifecycleFacts

    ids = book_of(PAM01)
    everyone = call(list_partners, "pam", PAM01, limit=50)["data"]
    assert everyone["total"] == len(ids) and {p["partner_id"] for p in everyone["partners"]} == set(ids)
    with get_services().session() as s:
        facts = LifecycleFacts(s, AGENT_AS_OF, ids)
        onboarding = {p for p in ids if facts.lifecycle(p).stage == "onboarding"}
        stuck = {p for p in onboarding if facts.lifecycle(p).stalled}
    got = call(list_partners, "pam", PAM01, stage="onboarding", limit=1)["data"]
    assert got["total"] == len(onboarding) and len(got["partners"]) == min(1, len(onboarding))
    stalled = call(list_partners, "pam", PAM01, stage="onboarding", stalled=True)["data"]
    assert {p["partner_id"] for p in stalled["partners"]} == stuck
    not_ever = call(list_partners, "pam", PAM01, outlook="not_ever")["data"]
    assert {"p-033", "p-040"} <= {p["partner_id"] for p in not_ever["partners"]}


def test_book_health_of_a_pam_and_of_the_program(store: None) -> None:
    from agent.tools.book import get_book_health

    book = call(get_book_health, "pam", PAM01)["data"]
    assert book["partners"] == len(book_of(PAM01)) == sum(book["segments"].values())
    assert sum(stage["count"] for stage in book["lifecycle"]) == book["partners"]
    assert book["not_ever"] >= 2 and 0 <= book["activation_rate"] <= 1 and "books" not in book
    program = call(get_book_health, "leader", "lead-1")["data"]
    assert program["partners"] > book["partners"]
    assert sum(b["partners"] for b in program["books"]) == program["partners"]


def test_compare_partners_side_by_side_and_in_scope_only(store: None) -> None:
    from agent.tools.book import compare_partners

    data = call(compare_partners, "pam", PAM01, partners=["Bluefin Technologies", "p-033"])["data"]
    scores = {p["partner_id"]: p["score"] for p in data["partners"]}
    assert set(scores) == {"p-046", "p-033"} and data["leader"] == max(scores, key=lambda k: scores[k])
    outside = call(compare_partners, "pam", PAM01, partners=["Bluefin Technologies", "Thistle Networks"])
    assert outside["ok"] is False and outside["refused"] is True
    alone = call(compare_partners, "pam", PAM01, partners=["p-046"])
    assert alone["ok"] is False and alone["refused"] is False


def test_partners_get_no_book_views(store: None) -> None:
    from agent.tools.book import compare_partners, get_book_health, list_partners

    for tool, args in ((list_partners, {}), (get_book_health, {}), (compare_partners, {"partners": ["a", "b"]})):
        out = call(tool, "partner", "p-004", **args)
        assert out["refused"] is True


def test_activation_plan_says_whether_it_is_on_track(store: None) -> None:
    from agent.tools.plans import get_activation_plan

    plan = call(get_activation_plan, "partner", "p-004")["data"]
    overdue = sum(m["status"] == "overdue" for m in plan["milestones"])
    assert plan["overdue"] == overdue and plan["on_track"] is (overdue == 0)
