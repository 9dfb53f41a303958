"""The runner reports scenarios that fail to load (the gate under breakage: tests/test_eval_mutations.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "evals" / "scenarios"
pytestmark = pytest.mark.xdist_group("agent")


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
