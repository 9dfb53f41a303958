"""The conversation eval suite's scenarios are well-formed and point at things that exist.

A scenario that silently fails to load, cites a playbook that is not in the catalogue, names a principal the dataset
does not have or expects a tool the agent does not offer would make the suite measure nothing; these checks keep
the suite honest without running the agent.
"""

from __future__ import annotations

import csv
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from agent.tools import ALL_TOOLS, PAM_TOOLS
from evals.scenario import Scenario, load_scenarios
from knowledge.catalog import load_catalog

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "evals" / "scenarios"
PLAYBOOKS = ROOT / "knowledge" / "playbooks"
MINIMUMS = {"partner": 45, "pam": 27, "adversarial": 16}
OVERSIZE_CHARS = 5_000


@cache
def suite() -> tuple[Scenario, ...]:
    scenarios, errors = load_scenarios([SCENARIOS])
    assert not errors, "scenarios failed to load:\n" + "\n".join(f"{e.path}: {e.error}" for e in errors)
    return tuple(scenarios)


def group_of(s: Scenario) -> str:
    assert s.path is not None
    return s.path.parent.name


@cache
def dataset_ids(dataset: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(pam ids, partner ids) of a dataset folder in the canonical CSV format."""
    with (dataset / "pams.csv").open(encoding="utf-8") as f:
        pams = frozenset(r["pam_id"] for r in csv.DictReader(f))
    with (dataset / "partners.csv").open(encoding="utf-8") as f:
        partners = frozenset(r["partner_id"] for r in csv.DictReader(f))
    return pams, partners


def test_every_scenario_file_loads_under_the_strict_schema_and_is_named_by_its_id() -> None:
    files = sorted(SCENARIOS.rglob("*.yaml"))
    scenarios = suite()
    assert len(scenarios) == len(files)
    for s in scenarios:
        assert s.path is not None and s.path.stem == s.id, f"{s.path} holds scenario {s.id!r}"


def test_scenario_ids_are_unique_across_groups() -> None:
    dupes = [i for i, n in Counter(s.id for s in suite()).items() if n > 1]
    assert not dupes


def test_each_group_meets_its_minimum_and_matches_the_principal_role() -> None:
    counts = Counter(group_of(s) for s in suite())
    for group, minimum in MINIMUMS.items():
        assert counts[group] >= minimum, f"{group}: {counts[group]} scenarios, need {minimum}"
    assert set(counts) <= set(MINIMUMS), f"unexpected scenario folders: {set(counts) - set(MINIMUMS)}"
    for s in suite():
        if group_of(s) in {"partner", "pam"}:
            assert s.principal.role == group_of(s), f"{s.id}: a {s.principal.role} in the {group_of(s)} group"


def test_every_principal_exists_in_the_scenario_dataset() -> None:
    for s in suite():
        pams, partners = dataset_ids(s.dataset_path)
        known = pams if s.principal.role == "pam" else partners
        assert s.principal.id in known, f"{s.id}: {s.principal.role} {s.principal.id!r} is not in {s.dataset_path}"


def test_citations_exist_in_the_catalogue_and_partners_are_never_cited_pam_guides() -> None:
    catalog = {p.id: p for p in load_catalog(PLAYBOOKS)}
    for s in suite():
        for turn in s.turns:
            for pid in turn.expect.citations:
                assert pid in catalog, f"{s.id}: cites {pid!r}, not in knowledge/playbooks"
                if s.principal.role == "partner":
                    assert catalog[pid].audience != "pam", f"{s.id}: a partner is expected to cite PAM guide {pid}"


def test_expected_tools_are_the_agents_tools_and_partners_never_need_pam_tools() -> None:
    offered = {t.name for t in ALL_TOOLS}
    pam_only = {t.name for t in PAM_TOOLS}
    for s in suite():
        for turn in s.turns:
            named = set(turn.expect.tools or []) | set(turn.expect.tool_args or {})
            assert named <= offered, f"{s.id}: unknown tools {named - offered}"
            # A subset expectation lists what is *allowed* (e.g. a refusing tool); superset/strict what is required.
            if s.principal.role == "partner" and turn.expect.match != "subset":
                assert not named & pam_only, f"{s.id}: a partner turn requires PAM-only tools {named & pam_only}"


def test_adversarial_scenarios_check_refusal_or_leaks_and_cover_oversize_input() -> None:
    adversarial = [s for s in suite() if group_of(s) == "adversarial"]
    for s in adversarial:
        guarded = any(t.expect.refuses or t.expect.not_mentions for t in s.turns)
        assert guarded, f"{s.id}: an adversarial scenario must expect a refusal or name what must not leak"
    oversize = [s for s in adversarial if any(len(t.user) > OVERSIZE_CHARS for t in s.turns)]
    assert oversize, f"no adversarial scenario sends more than {OVERSIZE_CHARS:,} characters"
    assert all(t.expect.refuses for s in oversize for t in s.turns if len(t.user) > OVERSIZE_CHARS)


@pytest.mark.parametrize("role", ["partner", "pam"])
def test_scenarios_spread_over_many_principals(role: str) -> None:
    """A suite written against two or three principals would miss scope bugs in everyone else's data."""
    principals = {s.principal.id for s in suite() if s.principal.role == role}
    assert len(principals) >= (30 if role == "partner" else 3)


# Tools whose result carries the figures a question asks for (scores, money, counts, rows of a list).
NUMBER_TOOLS = {"get_readiness_score", "explain_score", "list_dormant_partners", "get_pipeline_summary",
                "get_revenue_impact", "get_activation_plan", "list_partners", "get_book_health", "compare_partners",
                "list_growth_partners"}
# Turns with nothing a fact could name, each with the reason (read from the data, not from an answer).
NO_FACT_TO_STATE = {
    ("partner-pipeline-then-reminders", 1): "p-013 has no nudge due: the answer has nothing to state",
    ("partner-plan-overdue", 0): "what is overdue is the plan's `overdue` count, which get_activation_plan does "
                                 "not return yet (docs/TOOLS.md adds it)",
}


def test_every_follow_up_and_number_bearing_turn_states_facts_from_tool_output() -> None:
    """A follow-up or a question answered with figures is checked against the tool output (`facts`), not only for
    words: otherwise a wrong row or a wrong number passes (issue 12)."""
    missing = []
    for s in suite():
        for i, turn in enumerate(s.turns):
            number = bool(set(turn.expect.tools or []) & NUMBER_TOOLS) and turn.expect.match != "subset"
            if (i > 0 or number) and not turn.expect.facts and (s.id, i) not in NO_FACT_TO_STATE:
                missing.append(f"{s.id} turn {i + 1}: {turn.user[:60]!r}")
    assert not missing, "turns without facts:\n" + "\n".join(missing)
