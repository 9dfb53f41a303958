"""The eval gate fails when a tool breaks, and the runner reports scenarios that fail to load."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from partnerpilot.cli import app

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "evals" / "scenarios"
pytestmark = pytest.mark.xdist_group("agent")
HEALTHY_PAM = ["pam-ambiguous-keystone", "pam-ambiguous-summit", "pam-ambiguous-zephyr", "pam-call-list-jargon",
               "pam-call-list-misspelled", "pam-call-list-second-then-stake"]
HEALTHY_PARTNER = ["partner-claim-demo", "partner-claim-icp-statement", "partner-claim-then-plan",
                   "partner-claim-workshop"]


@pytest.fixture
def small_suite(tmp_path: Path) -> Path:
    """A handful of real scenarios the offline agent passes (PAM lookups and call lists, partner claims), copied with
    their dataset path fixed. Named, not globbed: new scenarios for capabilities not built yet must not land here."""
    picked = [SCENARIOS / "pam" / f"{n}.yaml" for n in HEALTHY_PAM] + [
        SCENARIOS / "partner" / f"{n}.yaml" for n in HEALTHY_PARTNER]
    out = tmp_path / "suite"
    out.mkdir()
    for f in picked:
        data = yaml.safe_load(f.read_text())
        data["dataset"] = str((f.parent / data["dataset"]).resolve())
        (out / f.name).write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def _run(args: list[str], home: Path) -> tuple[int, dict]:
    env = {**os.environ, "PARTNERPILOT_HOME": str(home)}
    out = home / "report.json"
    result = CliRunner().invoke(app, ["eval", "run", *args, "--json", str(out)], env=env)
    return result.exit_code, json.loads(out.read_text()) if out.exists() else {}


def test_a_broken_tool_makes_the_gate_fail(small_suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from readiness.settings import get_settings

    get_settings.cache_clear()
    gate = ["--scenarios", str(small_suite), "--fail-under", "pass_rate=0.9", "--fail-over", "leak_rate=0"]
    code, healthy = _run(gate, tmp_path / "home")
    assert code == 0, healthy.get("results")

    import readiness.scoring as scoring

    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("scoring backend down")

    monkeypatch.setattr(scoring, "score_partner", broken)
    monkeypatch.setattr(scoring, "call_list", broken)
    code, report = _run(gate, tmp_path / "home")
    assert code == 1
    assert report["summary"]["pass_rate"] < healthy["summary"]["pass_rate"]
    get_settings.cache_clear()


def test_unknown_keys_and_broken_files_are_reported_not_skipped(tmp_path: Path) -> None:
    from evals.scenario import load_scenarios

    good = yaml.safe_load(next(iter(sorted((SCENARIOS / "pam").glob("*.yaml")))).read_text())
    good["dataset"] = str((SCENARIOS / "pam" / good["dataset"]).resolve())
    (tmp_path / "ok.yaml").write_text(yaml.safe_dump(good))
    bad = dict(good, id="bad-key", surprise=True)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    (tmp_path / "broken.yaml").write_text("id: [unclosed")
    scenarios, errors = load_scenarios([tmp_path])
    assert [s.id for s in scenarios] == [good["id"]]
    assert {Path(e.path).name for e in errors} == {"bad.yaml", "broken.yaml"}
    assert any("surprise" in e.error for e in errors)
