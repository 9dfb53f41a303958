"""Replay reports two things apart: whether the recordings are reproduced (the gate), and the model's own scores
(reported, its failures written to the report file rather than printed)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evals import runner
from evals.runner import cassette_header, replay_report
from partnerpilot.cli import app

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "evals" / "scenarios"
PICKED = ["partner/partner-score-tier.yaml", "adversarial/adv-out-of-scope-poem.yaml"]
pytestmark = pytest.mark.xdist_group("agent")


def check(**kw: object) -> dict[str, object]:
    return {"id": "s", "recorded": "pass", "now": "pass", "stale": False, "unplayed": 0, "verdict_comparable": True,
            **kw}


def test_a_recording_is_reproduced_only_when_replayed_exactly_and_its_verdict_holds() -> None:
    assert replay_report([check()])["reproduced"] == 1
    assert replay_report([check(stale=True)])["changed_or_stale"] == ["s"]  # a request had no recorded answer
    assert replay_report([check(unplayed=1)])["changed_or_stale"] == ["s"]  # a recorded answer was never asked for
    assert replay_report([check(now="fail")])["changed_or_stale"] == ["s"]  # same judge, another verdict
    # a verdict recorded by an older judge is not compared: the judge changed, not the recording
    assert replay_report([check(now="fail", verdict_comparable=False)])["reproduced"] == 1


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")  # one knowledge index for the module


@pytest.fixture
def replay_env(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
               ) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """Two real scenarios and a private copy of their cassettes (so a test may tamper with them)."""
    from readiness.settings import get_settings

    suite, cassettes = tmp_path / "suite", tmp_path / "cassettes"
    suite.mkdir()
    cassettes.mkdir()
    for rel in PICKED:
        f = SCENARIOS / rel
        data = yaml.safe_load(f.read_text())
        data["dataset"] = str((f.parent / data["dataset"]).resolve())
        (suite / f.name).write_text(yaml.safe_dump(data, sort_keys=False))
        shutil.copy(ROOT / "evals" / "cassettes" / f.name, cassettes / f.name)
    monkeypatch.setattr(runner, "CASSETTES", cassettes)
    get_settings.cache_clear()
    yield suite, cassettes, {**os.environ, "PARTNERPILOT_HOME": str(home)}
    get_settings.cache_clear()


def replay(suite: Path, env: dict[str, str], out: Path) -> tuple[int, str, dict]:
    result = CliRunner().invoke(app, ["eval", "run", "--mode", "replay", "--scenarios", str(suite),
                                      "--json", str(out / "replay.json"), "--report", str(out / "replay.md")], env=env)
    return result.exit_code, result.output, json.loads((out / "replay.json").read_text())


def test_replay_prints_reproducibility_and_the_models_own_score_on_two_lines(
        replay_env: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    suite, _cassettes, env = replay_env
    code, output, report = replay(suite, env, tmp_path)
    assert code == 0, output
    assert "reproducibility: 2/2 recordings replayed exactly" in output
    s = report["summary"]
    assert f"passed {s['passed']}/2" in output
    assert "FAIL" not in output  # the model's failures are in the report file, not the console
    if s["passed"] < 2:
        assert "The model's failures" in (tmp_path / "replay.md").read_text()


def test_a_cassette_that_no_longer_matches_fails_the_reproducibility_gate(
        replay_env: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    suite, cassettes, env = replay_env
    path = cassettes / "partner-score-tier.yaml"
    header = "".join(line + "\n" for line in path.read_text().splitlines() if line.startswith("#"))
    recorded = yaml.safe_load(path.read_text())
    assert len(recorded["interactions"]) >= 2 and cassette_header(path)["model"]
    recorded["interactions"] = recorded["interactions"][:-1]  # the model's last answer is gone
    path.write_text(header + yaml.safe_dump(recorded, sort_keys=False))
    code, output, report = replay(suite, env, tmp_path)
    assert code == 1
    assert report["replay"]["changed_or_stale"] == ["partner-score-tier"]
    assert "reproducibility: 1/2" in output
