"""Mutation test of the eval gate: break the agent on purpose, and the gate `make test` runs must fail.

Each breakage wraps a piece of the real agent from the outside (the graph's model node, the tools' partner
resolution, the turn's refusal flag); nothing in the product has a hook for it. The healthy agent passes the same
scenarios, so each failure is the judge catching that breakage, and the assertion names the check that caught it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.messages import AIMessage, ToolMessage
from typer.testing import CliRunner

from partnerpilot.cli import app

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "evals" / "scenarios"
# One scenario per capability a breakage touches: a call list and its second row, a first row's stake, a partner's
# own score, a plan shown after a claim, a refusal, a book's pipeline.
PICKED = ["pam/pam-call-list-why-second.yaml", "pam/pam-call-list-stake-of-first.yaml",
          "partner/partner-score-active-producer.yaml", "partner/partner-claim-then-plan.yaml",
          "adversarial/adv-partner-other-partner-score.yaml", "pam/pam-pipeline-book.yaml"]
pytestmark = pytest.mark.xdist_group("agent")


def make_test_gate() -> list[str]:
    """The offline gate exactly as `make test` runs it (read from the Makefile, so the two cannot drift)."""
    text = (ROOT / "Makefile").read_text()
    m = re.search(r"^EVAL_GATE\s*:=\s*(.+)$", text, re.M)
    assert m, "the Makefile defines EVAL_GATE"
    return m.group(1).split()


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("suite")
    for rel in PICKED:
        f = SCENARIOS / rel
        data = yaml.safe_load(f.read_text())
        data["dataset"] = str((f.parent / data["dataset"]).resolve())
        (out / f.name).write_text(yaml.safe_dump(data, sort_keys=False))
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from readiness.settings import get_settings

    get_settings.cache_clear()
    yield tmp_path_factory.mktemp("home")
    get_settings.cache_clear()


def run_gate(suite: Path, home: Path) -> tuple[int, dict[str, Any]]:
    out = home / "report.json"
    out.unlink(missing_ok=True)
    env = {**os.environ, "PARTNERPILOT_HOME": str(home)}
    result = CliRunner().invoke(app, ["eval", "run", "--scenarios", str(suite), *make_test_gate(), "--json", str(out)],
                                env=env)
    return result.exit_code, json.loads(out.read_text()) if out.exists() else {}


def failures_of(report: dict[str, Any], scenario: str) -> str:
    return " | ".join(next(r["failures"] for r in report["results"] if r["id"] == scenario))


# --- breakages -------------------------------------------------------------------------------------------------

def _model_sees(transform: Callable[[str, Any], Any]) -> Callable[..., Any]:
    """The graph's model node reading tool results through `transform(tool_name, data)`: the answer is composed
    from what it saw, while the recorded tool results (what the judge reads) stay the real ones."""
    import agent.graph as graph

    real = graph.call_model

    def call_model(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
        seen = []
        for m in state["messages"]:
            if isinstance(m, ToolMessage) and isinstance(m.content, str):
                result = json.loads(m.content)
                if result.get("ok"):
                    result["data"] = transform(m.name or "", result["data"])
                m = ToolMessage(content=json.dumps(result), name=m.name, tool_call_id=m.tool_call_id, id=m.id)
            seen.append(m)
        return real({**state, "messages": seen}, runtime)

    return call_model


def _zero(obj: Any) -> Any:
    """Every score, readiness and money figure shown as 0, every tier as Tier 4."""
    if isinstance(obj, list):
        return [_zero(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for k, v in obj.items():
        if k in {"score", "readiness", "revenue_at_stake", "total_revenue_at_stake", "expected_upside", "revenue",
                 "sourced_open", "influenced_open", "sourced_won", "influenced_won"} and isinstance(v, int | float):
            out[k] = 0.0
        elif k == "tier" and isinstance(v, str):
            out[k] = "Tier 4"
        else:
            out[k] = _zero(v)
    return out


def zeroed_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.graph as graph

    monkeypatch.setattr(graph, "call_model", _model_sees(lambda _name, data: _zero(data)))


def dropped_milestones(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.graph as graph

    def drop(name: str, data: Any) -> Any:
        if name == "get_activation_plan" and isinstance(data, dict) and data.get("milestones"):
            data = {**data, "milestones": data["milestones"][:3]}
        return data

    monkeypatch.setattr(graph, "call_model", _model_sees(drop))


def wrong_ordinal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A follow-up about row N of the last list is sent to the tools as row 1."""
    import agent.graph as graph

    real = graph.call_model

    def call_model(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
        out = real(state, runtime)
        rows: list[dict[str, Any]] = []
        for m in state["messages"]:
            if isinstance(m, ToolMessage) and isinstance(m.content, str):
                data = json.loads(m.content).get("data")
                if isinstance(data, dict) and isinstance(data.get("partners"), list) and data["partners"]:
                    rows = data["partners"]
        for msg in out.get("messages", []):
            for call in getattr(msg, "tool_calls", None) or []:
                ref = str(call["args"].get("partner") or "").lower()
                if rows and ref in {str(r.get(k, "")).lower() for r in rows[1:] for k in ("partner_id", "name")}:
                    call["args"]["partner"] = rows[0]["partner_id"]
        return out

    monkeypatch.setattr(graph, "call_model", call_model)


def tool_answers_for_another_partner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Partner resolution in the tools returns the next partner in the store instead of the one asked about."""
    import agent.tools.base as base
    from readiness.models import Partner
    from readiness.scope import PartnerRef

    real = base.resolve_partner

    def resolve(session: Any, principal: Any, ref: str | None) -> Any:
        right = real(session, principal, ref)
        others = session.query(Partner).order_by(Partner.partner_id).all()
        same_book = [p for p in others if p.pam_id == right.pam_id and p.partner_id != right.partner_id]
        other = (same_book if principal.role != "partner" else
                 [p for p in others if p.partner_id != right.partner_id])[0]
        return PartnerRef(partner_id=other.partner_id, name=other.name, pam_id=other.pam_id)

    monkeypatch.setattr(base, "resolve_partner", resolve)


def refusal_flag_over_help(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.graph as graph

    monkeypatch.setattr(graph, "finish", lambda _state: {"refused": True})


def _answer_rewritten(rewrite: Callable[[str, Any], str]) -> Callable[..., Any]:
    """The graph's model node with its final answers (not its tool calls) rewritten by `rewrite(text, runtime)`."""
    import agent.graph as graph

    real = graph.call_model

    def call_model(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
        out = real(state, runtime)
        last = out["messages"][-1]
        if isinstance(last, AIMessage) and not last.tool_calls:
            text = rewrite(str(last.content), runtime)
            out = {**out, "messages": [AIMessage(content=text, id=last.id, additional_kwargs=last.additional_kwargs)]}
        return out

    return call_model


def tool_call_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The final message is the next tool call written as JSON (what a small model does)."""
    import agent.graph as graph

    call = json.dumps({"name": "get_readiness_score", "arguments": {}})
    monkeypatch.setattr(graph, "call_model", _answer_rewritten(lambda _text, _runtime: call))


def names_another_partner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every answer ends by naming a partner the principal may not see (no scenario lists it)."""
    import agent.graph as graph
    from agent.services import get_services
    from readiness.models import Partner
    from readiness.scope import visible_partner_ids

    def add_outsider(text: str, runtime: Any) -> str:
        with get_services().session() as s:
            mine = set(visible_partner_ids(s, runtime.context.principal))
            other = next(p for p in s.query(Partner).order_by(Partner.partner_id) if p.partner_id not in mine)
            return f"{text} For comparison, {other.name} is doing better."

    monkeypatch.setattr(graph, "call_model", _answer_rewritten(add_outsider))


def scoring_backend_down(monkeypatch: pytest.MonkeyPatch) -> None:
    import readiness.scoring as scoring

    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("scoring backend down")

    monkeypatch.setattr(scoring, "score_partner", broken)
    monkeypatch.setattr(scoring, "call_list", broken)


# breakage → (a scenario it must fail, the check that must say so)
BREAKAGES: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], str, str]] = {
    "zeroed scores": (zeroed_scores, "partner-score-active-producer", "get_readiness_score.score"),
    "zeroed money": (zeroed_scores, "pam-pipeline-book", "get_pipeline_summary.sourced_open"),
    "wrong ordinal": (wrong_ordinal, "pam-call-list-why-second", "is not about row 2"),
    "dropped milestones": (dropped_milestones, "partner-claim-then-plan", "milestones.*.title"),
    "a tool answering for another partner in the book": (
        tool_answers_for_another_partner, "pam-call-list-why-second", "is not about row 2"),
    "a tool answering for another partner's account": (
        tool_answers_for_another_partner, "partner-score-active-producer", "leak from the store"),
    "a refusal flag over a helpful answer": (
        refusal_flag_over_help, "partner-score-active-producer", "the refusal flag is set"),
    "a tool call written as the answer": (tool_call_as_text, "partner-score-active-producer", "not an answer"),
    "another partner named in the answer": (names_another_partner, "pam-pipeline-book", "answer names"),
    "the scoring backend down": (scoring_backend_down, "partner-score-active-producer", "fact"),
}


def test_the_healthy_agent_passes_the_picked_scenarios(suite: Path, home: Path) -> None:
    code, report = run_gate(suite, home)
    assert code == 0, [r for r in report.get("results", []) if not r["passed"]]
    assert report["summary"]["facts_checked"] >= 10
    assert report["summary"]["ungrounded_number_rate"] == 0


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_each_breakage_fails_the_gate(name: str, suite: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    breakage, scenario, check = BREAKAGES[name]
    breakage(monkeypatch)
    code, report = run_gate(suite, home)
    assert code == 1, f"{name}: the gate passed"
    assert check in failures_of(report, scenario), failures_of(report, scenario)
