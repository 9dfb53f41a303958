"""The conversation eval suite's scenarios are well-formed and point at things that exist.

A scenario that silently fails to load, cites a playbook that is not in the catalogue, names a principal the dataset
does not have or expects a tool outside the tool contract would make the suite measure nothing; these checks keep
the suite honest without running the agent.
"""

from __future__ import annotations

import csv
import re
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
TOOL_CONTRACT = ROOT / "docs" / "TOOLS.md"
MINIMUMS = {"partner": 80, "pam": 60, "adversarial": 70}
# Principals each group may hold: program-level (channel leader) scenarios sit with the PAM ones.
GROUP_ROLES = {"partner": {"partner"}, "pam": {"pam", "leader"}}
OVERSIZE_CHARS = 5_000


@cache
def contract_tools() -> tuple[frozenset[str], frozenset[str]]:
    """(every tool, the PAM/leader-only tools) named in docs/TOOLS.md's table: the contract scenarios are written
    against, which can run ahead of the agent (a scenario for a contracted tool not built yet simply fails)."""
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", TOOL_CONTRACT.read_text(encoding="utf-8"), flags=re.M)
    assert rows, f"no tool table found in {TOOL_CONTRACT}"
    return frozenset(n for n, _ in rows), frozenset(n for n, who in rows if who.strip().startswith("PAM"))


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
        if group_of(s) in GROUP_ROLES:
            role, group = s.principal.role, group_of(s)
            assert role in GROUP_ROLES[group], f"{s.id}: a {role} in the {group} group"


def test_every_principal_exists_in_the_scenario_dataset() -> None:
    for s in suite():
        if s.principal.role == "leader":  # the canonical format has no leaders file: a leader sees everyone
            continue
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


def test_expected_tools_are_contract_tools_and_partners_never_need_pam_tools() -> None:
    contract, contract_pam_only = contract_tools()
    offered = {t.name for t in ALL_TOOLS} | contract
    pam_only = {t.name for t in PAM_TOOLS} | contract_pam_only
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
            if turn.expect.refuses:  # a refusal states nothing from a tool; the judge checks its text instead
                continue
            if (i > 0 or number) and not turn.expect.facts and (s.id, i) not in NO_FACT_TO_STATE:
                missing.append(f"{s.id} turn {i + 1}: {turn.user[:60]!r}")
    assert not missing, "turns without facts:\n" + "\n".join(missing)


@cache
def intent_roles() -> dict[str, frozenset[str]]:
    import yaml

    spec = yaml.safe_load((ROOT / "agent" / "prompts" / "intent_definitions.yaml").read_text(encoding="utf-8"))
    return {name: frozenset(d["roles"]) for name, d in spec["intents"].items()}


def test_intent_labels_are_defined_intents_of_the_principals_role() -> None:
    """A misspelt label, or one the principal's role cannot have, would score the classifier against nonsense."""
    roles = intent_roles()
    for s in suite():
        for n, turn in enumerate(s.turns, 1):
            for label in turn.expect.intents:
                assert label in roles, f"{s.id} turn {n}: unknown intent {label!r}"
                assert s.principal.role in roles[label], f"{s.id} turn {n}: a {s.principal.role} cannot mean {label}"
