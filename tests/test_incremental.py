"""Incremental rescoring after an import (readiness.scoring.incremental): only changed partners, unless the
program's rates move far enough to carry someone else across a threshold; never a stale tier."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select

from readiness.db import session_scope
from readiness.importers import import_dataset
from readiness.models import ScoreSnapshot
from readiness.scoring import clear_caches, load_config, refresh_snapshots, rescore_changed
from readiness.scoring.score import compute_frame
from tests.test_scoring import lumenware_engine

AS_OF = date(2026, 10, 31)
ACTIVITY = ["event_id", "partner_id", "occurred_at", "kind", "detail", "value"]
OPPORTUNITY = ["opportunity_id", "partner_id", "account_name", "amount", "currency", "stage", "attribution",
               "created_on", "close_date", "forecast_category", "industry", "employee_band"]


def _write(folder: Path, name: str, columns: list[str], rows: list[dict[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / name).open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return folder


def _snapshots(engine: Engine) -> dict[str, tuple[float, str, str]]:
    with session_scope(engine) as s:
        rows = s.execute(select(ScoreSnapshot.partner_id, ScoreSnapshot.score, ScoreSnapshot.tier,
                                ScoreSnapshot.segment).where(ScoreSnapshot.as_of == AS_OF)).all()
    return {pid: (score, tier, seg) for pid, score, tier, seg in rows}


def _fresh(engine: Engine) -> dict[str, tuple[float, str, str]]:
    clear_caches()
    with session_scope(engine) as s:
        f = compute_frame(s, AS_OF, None, load_config())
    return {pid: (float(f.total[i]), str(f.tier[i]), str(f.segment[i])) for i, pid in enumerate(f.ids)}


@pytest.fixture
def scored(tmp_path: Path) -> Engine:
    engine = lumenware_engine(tmp_path)
    with session_scope(engine) as s:
        refresh_snapshots(s, AS_OF)
    return engine


def test_an_import_of_events_rescores_only_the_partners_it_touched(scored: Engine, tmp_path: Path) -> None:
    """Three AE meetings for p-013 and a login for p-004 (pam-02): two partners rescored, exactly as a full rescore
    would score them; every other snapshot is left as it was."""
    before = _snapshots(scored)
    folder = _write(tmp_path / "new", "activity.csv", ACTIVITY, [
        {"event_id": "n-1", "partner_id": "p-013", "occurred_at": "2026-10-20T10:00:00Z", "kind": "ae_meeting"},
        {"event_id": "n-2", "partner_id": "p-013", "occurred_at": "2026-10-27T10:00:00Z", "kind": "ae_meeting"},
        {"event_id": "n-3", "partner_id": "p-013", "occurred_at": "2026-10-29T10:00:00Z", "kind": "ae_meeting"},
        {"event_id": "n-4", "partner_id": "p-004", "occurred_at": "2026-10-30T10:00:00Z", "kind": "portal_login"},
    ])
    report = import_dataset(scored, folder)
    assert report.changed_partners == {"p-013", "p-004"}
    assert not report.moves_baselines  # activity alone: the stored baselines are still exact
    with session_scope(scored) as s:
        result = rescore_changed(s, AS_OF, report.changed_partners, baselines_may_move=report.moves_baselines)
    assert (result.mode, result.rescored, result.near_threshold) == ("incremental", 2, 0)
    after, fresh = _snapshots(scored), _fresh(scored)
    assert after["p-013"][0] > before["p-013"][0]
    for pid in ("p-013", "p-004"):
        assert after[pid][0] == pytest.approx(fresh[pid][0], abs=1e-6) and after[pid][1:] == fresh[pid][1:]
    assert {pid: v for pid, v in after.items() if pid not in ("p-013", "p-004")} == {
        pid: v for pid, v in before.items() if pid not in ("p-013", "p-004")}
    # Re-importing the same file changes nothing, so nothing is rescored.
    again = import_dataset(scored, folder)
    with session_scope(scored) as s:
        assert again.changed_partners == set() and rescore_changed(s, AS_OF, set()).mode == "nothing"


def test_when_program_rates_move_no_tier_goes_stale(scored: Engine, tmp_path: Path) -> None:
    """Sixty new sourced deals for the isv partners move the isv production rate (a baseline behind every isv
    partner's segment fit): partners near a threshold are rescored too, and afterwards every stored tier and
    segment equals a full rescore's, every score within the bound the decision used."""
    with session_scope(scored) as s:
        isv = [pid for pid, in s.execute(select(ScoreSnapshot.partner_id).where(ScoreSnapshot.as_of == AS_OF))]
    partners = {r["partner_id"]: r for r in csv.DictReader(
        (Path(__file__).resolve().parent.parent / "evals/datasets/lumenware/partners.csv").open(encoding="utf-8"))}
    isv = [pid for pid in isv if partners[pid]["type"] == "isv"][:4]
    rows = [{"opportunity_id": f"n-{k}", "partner_id": isv[k % len(isv)], "account_name": f"Acme {k}",
             "amount": "50000", "currency": "USD", "stage": "discovery", "attribution": "sourced",
             "created_on": "2026-10-30", "close_date": "2027-01-30", "forecast_category": "pipeline",
             "industry": "retail", "employee_band": "200-1000"} for k in range(60)]
    report = import_dataset(scored, _write(tmp_path / "deals", "opportunities.csv", OPPORTUNITY, rows))
    assert report.changed_partners == set(isv) and report.moves_baselines
    with session_scope(scored) as s:
        result = rescore_changed(s, AS_OF, report.changed_partners)
    assert result.mode == "incremental"
    assert result.program_shift_points >= load_config().incremental.tolerance_points
    near = set(_near(scored, result.program_shift_points))
    assert result.near_threshold > 0 and result.rescored == len(set(isv) | near)
    after, fresh = _snapshots(scored), _fresh(scored)
    assert after.keys() == fresh.keys()
    assert all(after[p][1:] == fresh[p][1:] for p in after), [p for p in after if after[p][1:] != fresh[p][1:]]
    drift = max(abs(after[p][0] - fresh[p][0]) for p in after)
    assert drift <= result.program_shift_points + 1e-6


def _near(engine: Engine, shift: float) -> list[str]:
    from readiness.scoring.incremental import _near_thresholds

    with session_scope(engine) as s:
        return _near_thresholds(s, AS_OF, shift, load_config())


def test_without_a_stored_full_rescore_everyone_is_scored(tmp_path: Path) -> None:
    engine = lumenware_engine(tmp_path)
    with session_scope(engine) as s:
        result = rescore_changed(s, AS_OF, {"p-013"})
    assert result.mode == "full" and result.rescored == 48


def test_program_shift_bound_is_zero_for_unchanged_baselines_and_covers_a_real_move(scored: Engine) -> None:
    from readiness.scoring.incremental import program_shift_points
    from readiness.scoring.priors import program_priors

    cfg = load_config()
    with session_scope(scored) as s:
        priors = program_priors(s, AS_OF, cfg.segments.active_window_days)
    assert program_shift_points(priors, priors, cfg) == 0.0
    moved = type(priors)(**{**priors.__dict__, "type_rate": {k: v * 1.5 for k, v in priors.type_rate.items()}})
    assert program_shift_points(priors, moved, cfg) > 0
    assert np.isfinite(program_shift_points(priors, moved, cfg))
