"""Calibration: fit dimension weights from outcomes already known on as_of.

Features are the dimension scores as of (as_of - horizon); outcomes are new sourced pipeline in
(as_of - horizon, as_of]. Nothing after as_of is used to fit. The fitted weights are then backtested at as_of
(outcomes in (as_of, as_of + horizon]) beside the current weights.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.orm import Session

from readiness.scoring.backtest import backtest, tier_table
from readiness.scoring.config import DIMENSION_KEYS, ScoringConfig, TierConfig, load_config
from readiness.scoring.features import new_sourced_pipeline
from readiness.scoring.schemas import CalibrationReport, TierFit

if TYPE_CHECKING:
    from readiness.scoring.score import ScoreFrame

L2 = 1e-3


def _fit_nonnegative_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logistic regression with non-negative coefficients (a readiness dimension should never count against)."""
    from scipy.optimize import minimize  # imported here: only calibration needs it
    n, d = x.shape
    yf = y.astype(float)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] + x @ theta[1:]
        p = 1.0 / (1.0 + np.exp(-z))
        eps = 1e-12
        nll = -np.mean(yf * np.log(p + eps) + (1 - yf) * np.log(1 - p + eps)) + L2 * np.sum(theta[1:] ** 2)
        g = p - yf
        grad = np.concatenate([[g.mean()], x.T @ g / n + 2 * L2 * theta[1:]])
        return float(nll), grad

    theta0 = np.zeros(d + 1)
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", bounds=[(None, None)] + [(0.0, None)] * d)
    return np.asarray(res.x[1:])


def fit_data(session: Session, as_of: date, horizon_days: int, cfg: ScoringConfig) -> tuple[ScoreFrame, np.ndarray,
                                                                                        np.ndarray]:
    """What a fit learns from, all known on as_of: the program scored as of (as_of - horizon), which of its
    partners (those that had joined by then) created new sourced pipeline in (as_of - horizon, as_of]."""
    from readiness.scoring.score import compute_frame

    t0 = as_of - timedelta(days=horizon_days)
    frame = compute_frame(session, t0, None, cfg, historical=True)
    keep = frame.feats.joined <= frame.feats.as_of_day
    outcome = new_sourced_pipeline(session, t0, horizon_days)
    return frame, keep, np.array([pid in outcome for pid in frame.ids], dtype=bool)[keep]


def calibrate(session: Session, as_of: date, horizon_days: int = 90, config: ScoringConfig | None = None,
              write: str | Path | None = None) -> CalibrationReport:
    cfg = config or load_config()
    t0 = as_of - timedelta(days=horizon_days)
    frame, keep, y = fit_data(session, as_of, horizon_days, cfg)
    x = np.column_stack([frame.dims.scores[k][keep] / 100.0 for k in DIMENSION_KEYS])
    before = backtest(session, as_of, horizon_days, cfg)
    note = None
    if y.sum() < 3 or (~y).sum() < 3:
        fitted = {k: cfg.dimensions[k].weight for k in DIMENSION_KEYS}
        note = f"too few outcomes to fit ({int(y.sum())} positives of {y.size}); weights unchanged"
    else:
        coef = _fit_nonnegative_logistic(x, y)
        if coef.sum() <= 0:
            fitted = {k: cfg.dimensions[k].weight for k in DIMENSION_KEYS}
            note = "no dimension predicts the outcome on this history; weights unchanged"
        else:
            fitted = {k: round(float(100 * c / coef.sum()), 1) for k, c in zip(DIMENSION_KEYS, coef, strict=True)}
    new_cfg = cfg.with_dimension_weights(fitted)
    after = backtest(session, as_of, horizon_days, new_cfg)
    written = None
    if write is not None:
        Path(write).write_text(new_cfg.to_yaml(), encoding="utf-8")
        written = str(write)
    return CalibrationReport(as_of=as_of, horizon_days=horizon_days, fit_as_of=t0, fit_partners=int(y.size),
                             fit_positives=int(y.sum()), fitted_weights=fitted, before=before, after=after,
                             written_to=written, note=note)


def fit_tiers(session: Session, as_of: date, horizon_days: int = 90, config: ScoringConfig | None = None,
              recall: tuple[float, float, float] = (0.5, 0.8, 0.95)) -> TierFit:
    """Tier thresholds from outcomes known on as_of: scores as of (as_of - horizon), outcomes (new sourced
    pipeline) in (as_of - horizon, as_of]. Each threshold is the score above which the given share of the
    partners that went on to produce lie (`recall`: Tier 1, Tier 1-2, Tier 1-3), rounded down to a whole point;
    the fit is accepted only when the tiers' conversion rates come out strictly ordered."""
    cfg = config or load_config()
    frame, keep, y = fit_data(session, as_of, horizon_days, cfg)
    scores = frame.total[keep]
    if y.sum() < 3:
        raise ValueError(f"too few outcomes to fit tiers ({int(y.sum())} positives of {y.size})")
    cuts = [float(np.floor(np.quantile(scores[y], 1 - r))) for r in recall]
    fitted = TierConfig(tier1=cuts[0], tier2=cuts[1], tier3=cuts[2])
    table = tier_table(scores, y, fitted)
    rates = [row.conversion for row in table]
    ordered = all(a > b for a, b in itertools.pairwise(rates))
    return TierFit(fit_as_of=frame.feats.as_of, partners=int(y.size), positives=int(y.sum()), tiers=fitted, table=table,
                   ordered=ordered)

