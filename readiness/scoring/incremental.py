"""Incremental rescoring after an import: only partners whose data changed, plus those a move in the program's
rates could carry across a tier.

How it decides:
1. Partners whose events, opportunities, attributes or profile the import inserted or changed
   (`ImportReport.changed_partners`) are rescored. An import of activity alone cannot move the baselines below
   (they are computed from partners and opportunities only): the stored ones are used and step 2 is skipped.
2. A partner's score also depends on program-relative baselines (`Priors`): how often its type, region and
   specializations produce sourced pipeline, and the program's typical deal size. The baselines the snapshots were
   computed with are stored by the last full rescore (`scoring_runs`). They are recomputed now, and the largest
   change they can make to any partner's total is bounded from the baselines alone (`program_shift_points`: per
   sub-signal, the largest change of its 0-1 value over every type and region pair, every specialization and every
   deal size, times its weight in the total).
3. Below `incremental.tolerance_points` (default 0.5) nobody else is rescored: no score moves more than that. At or
   above it, every partner whose stored score lies within the bound of a tier threshold or the ready threshold is
   rescored too, so no tier or segment goes stale; the others move by less than the bound and keep their tier.
4. Without a full rescore for the date (no snapshots or no stored run), a full rescore runs instead.

Revenue at stake of partners not rescored keeps the stored activation curve; the call lists re-score their
shortlist live, so what a PAM sees is current.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import date
from typing import Literal

import numpy as np
from pydantic import BaseModel
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from readiness.models import ScoreSnapshot
from readiness.scoring.config import ScoringConfig, load_config
from readiness.scoring.dimensions import saturate
from readiness.scoring.priors import Priors, clear_cache, program_priors, remember
from readiness.scoring.runs import load_run


class IncrementalReport(BaseModel):
    as_of: date
    mode: Literal["incremental", "full", "nothing"]
    changed_partners: int
    rescored: int
    program_shift_points: float
    near_threshold: int
    seconds: float
    reason: str


def _weight(cfg: ScoringConfig, dim: str, key: str) -> float:
    """Points in the total for a sub-signal value of 1."""
    d = cfg.dimensions[dim]
    sub = d.subsignals.get(key)
    if sub is None:
        return 0.0
    return 100.0 * d.weight / cfg.total_weight() * sub.weight / sum(s.weight for s in d.subsignals.values())


def _sat(x: np.ndarray | float, half: float, cfg: ScoringConfig) -> np.ndarray:
    return saturate(np.asarray(x, dtype=float), half, cfg.saturation)


def program_shift_points(old: Priors, new: Priors, cfg: ScoringConfig) -> float:
    """An upper bound on how far any partner's total moves when the baselines go from `old` to `new`."""
    dims = cfg.dimensions
    shift = 0.0
    seg = dims["market_alignment"].subsignals.get("segment_fit")
    if seg is not None:
        pairs = [(t, r) for t in set(old.type_rate) | set(new.type_rate) for r in
                 set(old.region_rate) | set(new.region_rate)]

        def fit(p: Priors) -> np.ndarray:
            return np.array([np.sqrt(p.ratio(p.type_rate, t) * p.ratio(p.region_rate, r)) for t, r in pairs])

        if pairs:
            delta = np.abs(_sat(fit(new), seg.half, cfg) - _sat(fit(old), seg.half, cfg)).max()
            shift += float(delta) * _weight(cfg, "market_alignment", "segment_fit")
    spec = dims["market_alignment"].subsignals.get("specialization_fit")
    if spec is not None:
        specs = set(old.spec_rate) | set(new.spec_rate)
        if specs:
            # A partner's fit is the mean ratio of its specializations: it moves at most as far as the largest
            # single ratio does, and the value at most that times the curve's steepest slope (at 0).
            moved = max(abs(new.ratio(new.spec_rate, s) - old.ratio(old.spec_rate, s)) for s in specs)
            slope = float(_sat(1e-6, spec.half, cfg)) / 1e-6
            shift += min(1.0, slope * moved) * _weight(cfg, "market_alignment", "specialization_fit")
    cap = dims["revenue_potential"].subsignals.get("deal_size_capacity")
    if cap is not None and old.deal_size_program and new.deal_size_program:
        # value = f(0.5 x headcount ratio + 0.5 x deal / program deal): the largest change over any deal size.
        deals = np.linspace(0.0, 20.0, 2001)
        before = _sat(0.5 * deals, cap.half, cfg)
        after = _sat(0.5 * deals * old.deal_size_program / new.deal_size_program, cap.half, cfg)
        shift += float(np.abs(after - before).max()) * _weight(cfg, "revenue_potential", "deal_size_capacity")
    return round(shift, 4)


def _near_thresholds(session: Session, as_of: date, shift: float, cfg: ScoringConfig) -> list[str]:
    cuts = sorted({cfg.tiers.tier1, cfg.tiers.tier2, cfg.tiers.tier3, cfg.segments.ready_min_score})
    score = ScoreSnapshot.score
    stmt = select(ScoreSnapshot.partner_id).where(
        ScoreSnapshot.as_of == as_of, or_(*(score.between(c - shift, c + shift) for c in cuts)))
    return list(session.scalars(stmt))


def rescore_changed(session: Session, as_of: date, changed: Collection[str], config: ScoringConfig | None = None,
                    baselines_may_move: bool = True) -> IncrementalReport:
    """Re-score after an import: the changed partners, plus those near a threshold when the program's rates
    moved by at least `incremental.tolerance_points` (see the module docstring). `baselines_may_move=False`: the
    import brought no partner or opportunity rows (the only inputs of the baselines), so the stored baselines are
    still exact and are used as they are."""
    from readiness.scoring.revenue import remember_curve, stored_curve
    from readiness.scoring.snapshots import refresh_snapshots

    started = time.perf_counter()
    cfg = config or load_config()
    run = load_run(session, as_of, cfg)
    have = session.scalar(select(func.count()).select_from(ScoreSnapshot).where(ScoreSnapshot.as_of == as_of)) or 0
    if run is None or not have:
        n = refresh_snapshots(session, as_of, None, cfg)
        return IncrementalReport(as_of=as_of, mode="full", changed_partners=len(changed), rescored=n,
                                 program_shift_points=0.0, near_threshold=0,
                                 seconds=round(time.perf_counter() - started, 3),
                                 reason="no full rescore stored for this date and config: rescored everyone")
    if not changed:
        return IncrementalReport(as_of=as_of, mode="nothing", changed_partners=0, rescored=0, program_shift_points=0.0,
                                 near_threshold=0, seconds=round(time.perf_counter() - started, 3),
                                 reason="the import changed no partner's data")
    stored = Priors.from_json(run.priors)
    window = cfg.segments.active_window_days
    if baselines_may_move:
        clear_cache()  # the baselines are recomputed from the store as it is now
        shift = program_shift_points(stored, program_priors(session, as_of, window), cfg)
    else:
        remember(session, as_of, window, stored)
        shift = 0.0
    near: list[str] = []
    if shift >= cfg.incremental.tolerance_points:
        near = _near_thresholds(session, as_of, shift, cfg)
    curve = stored_curve(session, as_of, cfg)
    if curve is not None:
        remember_curve(session, as_of, cfg, curve)
    ids = sorted(set(changed) | set(near))
    n = refresh_snapshots(session, as_of, ids, cfg)
    if not baselines_may_move:
        reason = "no partner or opportunity rows changed, so the program's rates did not move: only changed partners"
    elif shift < cfg.incremental.tolerance_points:
        reason = (f"program rates moved scores by at most {shift:.2f} points (< {cfg.incremental.tolerance_points:g}):"
                  " only changed partners")
    else:
        reason = (f"program rates moved scores by up to {shift:.2f} points: also {len(near)} partners within that of "
                  "a tier or ready threshold")
    return IncrementalReport(as_of=as_of, mode="incremental", changed_partners=len(set(changed)), rescored=n,
                             program_shift_points=shift, near_threshold=len(near),
                             seconds=round(time.perf_counter() - started, 3), reason=reason)


__all__ = ["IncrementalReport", "program_shift_points", "rescore_changed"]
