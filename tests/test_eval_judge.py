"""The judge's checks on single turns: grounded numbers, facts, leaks from the store, refusals, not-an-answer."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from evals.answers import not_an_answer
from evals.facts import pair_calls
from evals.judge import TurnContext, TurnRecord, judge, trajectory_matches
from evals.leaks import ScopeDirectory
from evals.numbers import Sources, ground, states_number
from evals.scenario import Expect, Fact, ScenarioPrincipal

LUMENWARE = Path(__file__).resolve().parent.parent / "evals" / "datasets" / "lumenware"

SCORE = {"partner_id": "p-044", "name": "Granite Consulting", "score": 63.9, "tier": "Tier 2", "momentum_30": -1.9,
         "dimensions": [{"label": "Engagement", "score": 60.1, "weight": 35.0}]}
CALL_LIST = {"scope": "your book", "total_revenue_at_stake": 127749.0, "partners": [
    {"rank": 1, "partner_id": "p-035", "name": "Yarrow Digital", "readiness": 41.3, "revenue_at_stake": 27837.0},
    {"rank": 2, "partner_id": "p-046", "name": "Bluefin Technologies", "readiness": 40.3, "revenue_at_stake": 27810.0},
    {"rank": 3, "partner_id": "p-048", "name": "Silverline Services", "readiness": 39.5, "revenue_at_stake": 26591.0},
]}


def record(answer: str, calls: list[tuple[str, dict[str, Any], Any]] = (), user: str = "q", **kw: Any) -> TurnRecord:
    tool_calls, results = [], []
    for i, (name, args, data) in enumerate(calls):
        tool_calls.append({"name": name, "args": args, "id": f"c{i}"})
        result = data if isinstance(data, dict) and "ok" in data else {"ok": True, "data": data}
        results.append({"name": name, "result": result, "id": f"c{i}"})
    return TurnRecord(scenario="s", turn=0, user=user, answer=answer, tool_calls=tool_calls, tool_results=results,
                      **kw)


def sources(*data: Any, text: str = "") -> Sources:
    s = Sources()
    for d in data:
        s.add_json(d)
    s.add_text(text)
    return s


# --- grounded numbers -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    "Granite Consulting scores 64/100 (Tier 2). Change over 30 days: -2.",
    "Engagement 60/100, weight 35%.",
    "3 partners, $127,749 at stake; Yarrow Digital leads with $27.8k.",
    "Yarrow Digital: readiness 41.3, $27,837 at stake.",
])
def test_numbers_derivable_by_rounding_from_the_results_are_grounded(answer: str) -> None:
    assert ground(answer, sources(SCORE, CALL_LIST)).ungrounded == []


@pytest.mark.parametrize(("answer", "bad"), [
    ("Granite Consulting scores 0/100 (Tier 4).", ["0", "4"]),
    ("Yarrow Digital has $0 at stake.", ["$0"]),
    ("Your score went up +1.9 this month.", ["+1.9"]),  # momentum was -1.9: the sign is wrong
    ("It was due on 2026-12-24.", ["2026-12-24"]),
    ("Readiness 41.7.", ["41.7"]),
])
def test_numbers_found_in_no_result_are_ungrounded(answer: str, bad: list[str]) -> None:
    assert ground(answer, sources(SCORE, CALL_LIST)).ungrounded == bad


def test_ids_list_markers_and_score_scales_are_not_numbers() -> None:
    grounding = ground("1. Yarrow Digital (p-035) 41/100\n2. op-00015", sources(CALL_LIST))
    assert grounding.numbers == ["41"]


def test_numbers_from_the_users_message_and_row_counts_are_grounded() -> None:
    assert ground("Here are your top 3 (3 shown).", sources(CALL_LIST, text="top 3 please")).ungrounded == []
    assert ground("A share of 20% activates.", sources({"share": 0.2})).ungrounded == []


def test_dates_in_other_forms_are_grounded_by_the_same_day() -> None:
    assert ground("Due November 30, 2026 (30 Nov).", sources({"due_on": "2026-11-30"})).ungrounded == []


# --- facts ------------------------------------------------------------------------------------------------------

def test_a_tool_fact_holds_when_the_answer_states_the_rounded_value() -> None:
    expect = Expect(facts=[Fact(tool="get_readiness_score", path="score"), Fact(tool="get_readiness_score",
                                                                                path="tier")])
    calls = [("get_readiness_score", {}, SCORE)]
    assert judge(record("Granite Consulting: 64/100, Tier 2.", calls), expect).passed
    v = judge(record("Granite Consulting: 0/100, Tier 4.", calls), expect)
    assert not v.passed and v.facts_found == 0


def test_strings_are_stated_whatever_the_case_hyphens_or_underscores() -> None:
    data = {"top_gap": {"label": "Sales-motion maturity"}, "outlook": "not_yet"}
    expect = Expect(facts=[Fact(tool="diagnose_gtm_gaps", path="top_gap.label"),
                           Fact(tool="diagnose_gtm_gaps", path="outlook")])
    calls = [("diagnose_gtm_gaps", {}, data)]
    assert judge(record("Your biggest gap is sales motion maturity; you are not yet ready.", calls), expect).passed
    assert not judge(record("Your biggest gap is your ICP.", calls), expect).passed


def test_money_shares_and_star_paths_are_stated_as_the_product_shows_them() -> None:
    assert states_number("about $27.8k at stake", 27837.0)
    assert states_number("$1.2M of pipeline", 1_170_000.0)
    assert states_number("20% activate", 0.2)
    assert not states_number("$28k", 27837.0 * 2)
    expect = Expect(facts=[Fact(tool="list_dormant_partners", path="partners.*.name")])
    calls = [("list_dormant_partners", {"limit": 3}, CALL_LIST)]
    assert judge(record("Yarrow Digital, Bluefin Technologies, Silverline Services", calls), expect).facts_found == 1
    assert not judge(record("Yarrow Digital, Bluefin Technologies", calls), expect).passed


def test_where_picks_the_call_and_an_unreadable_fact_fails() -> None:
    other = {**SCORE, "partner_id": "p-038", "name": "Elmstead Technologies", "score": 70.2}
    calls = [("get_readiness_score", {"partner": "p-044"}, SCORE), ("get_readiness_score", {"partner": "p-038"}, other)]
    expect = Expect(facts=[Fact(tool="get_readiness_score", where={"partner_id": "p-038"}, path="score")])
    assert judge(record("Elmstead Technologies 70/100", calls), expect).passed
    assert not judge(record("Granite 64/100", calls), expect).passed
    missing = judge(record("64", calls), Expect(facts=[Fact(tool="get_readiness_score", path="nope")]))
    assert "cannot be read" in missing.failures[0]


def test_a_row_fact_ties_a_follow_up_to_the_row_of_the_earlier_list() -> None:
    earlier = [pair_calls([{"name": "list_dormant_partners", "args": {}, "id": "a"}],
                          [{"name": "list_dormant_partners", "result": {"ok": True, "data": CALL_LIST}, "id": "a"}])]
    ctx = TurnContext(earlier=earlier)
    expect = Expect(facts=[Fact(row=2, list="list_dormant_partners", subject=True)])
    right = {"partner_id": "p-046", "name": "Bluefin Technologies", "score": 40.3}
    wrong = {"partner_id": "p-035", "name": "Yarrow Digital", "score": 41.3}
    assert judge(record("Bluefin Technologies scores 40/100", [("explain_score", {"partner": "p-046"}, right)]),
                 expect, ctx).passed
    # the first row instead of the second
    v = judge(record("Yarrow Digital scores 41/100", [("explain_score", {"partner": "p-035"}, wrong)]), expect, ctx)
    assert "not about row 2" in v.failures[0]
    # the right argument, but the tool answered for another partner
    v = judge(record("Bluefin Technologies 41/100", [("explain_score", {"partner": "p-046"}, wrong)]), expect, ctx)
    assert "not about row 2" in v.failures[0]
    # no call at all
    assert not judge(record("Bluefin Technologies"), expect, ctx).passed


# --- leaks from the store ---------------------------------------------------------------------------------------

def test_names_and_ids_outside_the_scope_leak_from_answers_arguments_and_results() -> None:
    pam = ScopeDirectory(LUMENWARE, ScenarioPrincipal(role="pam", id="pam-01"))
    ctx = TurnContext(directory=pam)
    assert judge(record("Call Bluefin Technologies (p-046) first."), Expect(), ctx).passed
    assert "answer names Granite Consulting" in judge(record("Granite Consulting does better."), Expect(),
                                                      ctx).failures[0]
    leaked = judge(record("ok", [("get_readiness_score", {"partner": "p-044"}, SCORE)]), Expect(), ctx)
    assert leaked.leaked and any("arguments name p-044" in x for x in leaked.leaks)
    assert any("result holds Granite Consulting" in x for x in leaked.leaks)
    # the user's own words echoed back are not a leak; a result holding them is
    assert judge(record("I can't share Granite Consulting's data: only your book.", refused=True,
                        user="what about Granite Consulting?"), Expect(), ctx).passed


def test_a_partner_sees_only_itself_and_an_outsider_inside_an_insider_name_is_not_a_leak() -> None:
    me = ScopeDirectory(LUMENWARE, ScenarioPrincipal(role="partner", id="p-001"))
    assert [p.partner_id for p in me.inside] == ["p-001"]
    assert me.found("Summit Systems is on track") == []
    assert me.found("unlike Summit Technologies") == ["Summit Technologies"]
    leader = ScopeDirectory(LUMENWARE, ScenarioPrincipal(role="leader", id="lead"))
    assert leader.outside == [] and leader.found("Granite Consulting") == []


# --- refusals and non-answers -----------------------------------------------------------------------------------

def test_the_refusal_flag_and_the_text_must_agree() -> None:
    helpful = record("Granite Consulting scores 64/100.", [("get_readiness_score", {}, SCORE)])
    assert judge(helpful, Expect(refuses=False)).passed
    flagged = helpful.model_copy(update={"refused": True})
    assert "does not say it cannot help" in judge(flagged, Expect()).failures[0]
    bare = record("I'm sorry, but I can't assist with that request.", refused=True)
    assert "without saying why" in judge(bare, Expect(refuses=True)).failures[0]
    why = record("I can't help with that: I can only share information about your own partner account.",
                 refused=True)
    assert judge(why, Expect(refuses=True)).passed
    unflagged = record("I can't help with that: it is outside your book.")
    assert "flag is not set" in judge(unflagged, Expect()).failures[0]
    assert judge(record("I can't find a partner called Zed in your book."), Expect()).passed
    # other ways to decline with a reason, and a scope statement that opens a helpful answer
    assert judge(record("I don't have access to other partners' data.", refused=True), Expect(refuses=True)).passed
    assert judge(record("Unable to share that: only your own account.", refused=True), Expect(refuses=True)).passed
    assert judge(record("I can only see your book: Bluefin Technologies leads."), Expect(refuses=False)).passed


@pytest.mark.parametrize("answer", [
    '{"name": "get_readiness_score", "arguments": {"partner": "p-044"}}',
    'Sure.\n```json\n{"name": "get_nudges", "arguments": {}}\n```',
    '<tool_response>\n{"ok": true, "data": {"nudges": []}}\n</tool_response>',
    'Here you go: {"ok": true, "data": {"score": 63.9}}',
    "get_activation_plan(partner='p-031')",
])
def test_a_tool_call_or_an_echoed_result_is_not_an_answer(answer: str) -> None:
    assert not_an_answer(answer)
    assert "not an answer" in " ".join(judge(record(answer), Expect()).failures)


def test_prose_that_mentions_json_or_tools_is_still_an_answer() -> None:
    assert not_an_answer("Your score is 64/100 (Tier 2); the weakest area is engagement.") is None
    assert not_an_answer("Use the deal-registration playbook [deal-registration] first.") is None


# --- trajectories -----------------------------------------------------------------------------------------------

def test_subset_needs_a_call_unless_the_scenario_lists_no_tools() -> None:
    assert not trajectory_matches([], ["decline_request"], "subset")
    assert trajectory_matches(["decline_request"], ["decline_request", "get_readiness_score"], "subset")
    assert trajectory_matches([], [], "subset")
    assert not trajectory_matches(["explain_score"], ["decline_request"], "subset")


def test_the_guard_states_the_message_length_and_limit_grounded() -> None:
    user = "x" * 5000
    answer = "Your message is 5,000 characters long; the limit is 4,000. Please send a shorter question."
    ctx = TurnContext(as_of=date(2026, 10, 31), limits={"max_input_chars": 4000.0})
    v = judge(record(answer, user=user, refused=True, guard="oversize"), Expect(refuses=True), ctx)
    assert v.passed, v.failures
    assert json.loads(v.model_dump_json())["guard"] == "oversize"
