"""Backtest: score every partner with data up to as_of only, then check who created NEW sourced pipeline
(a sourced opportunity created in (as_of, as_of + horizon])."""

from __future__ import annotations

from datetime import date

import numpy as np
from sklearn.metrics import roc_auc_score
from sqlalchemy.orm import Session

from readiness.scoring.config import ScoringConfig, load_config
from readiness.scoring.dormant import CALLABLE_FLAGS
from readiness.scoring.features import new_sourced_pipeline
from readiness.scoring.schemas import BacktestReport


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    if y.size == 0 or y.all() or not y.any():
        return None
    return round(float(roc_auc_score(y, s)), 4)


def backtest(session: Session, as_of: date, horizon_days: int = 90, config: ScoringConfig | None = None,
             k: int = 10) -> BacktestReport:
    from readiness.scoring.revenue import revenue_at_stake_array
    from readiness.scoring.score import compute_frame

    cfg = config or load_config()
    frame = compute_frame(session, as_of, None, cfg, historical=True)
    in_program = frame.feats.joined <= frame.feats.as_of_day  # partners that had joined by as_of
    outcome = new_sourced_pipeline(session, as_of, horizon_days)
    y_all = np.array([pid in outcome for pid in frame.ids], dtype=bool)
    y, s = y_all[in_program], frame.total[in_program]
    dormant = ~frame.active[in_program]
    callable_ = np.zeros(frame.feats.n, dtype=bool)
    for code in CALLABLE_FLAGS:
        callable_ |= frame.flags[code]
    callable_ &= np.array([o == "not_yet" for o in frame.outlook], dtype=bool) & in_program
    precision = None
    if callable_.any():
        stake = revenue_at_stake_array(session, frame)
        order = np.lexsort((-frame.total, -stake))
        top = [j for j in order if callable_[j]][:k]
        precision = round(float(y_all[top].mean()), 4)
    lift = None
    if y.any():
        n_top = max(1, int(np.ceil(0.1 * y.size)))
        top_decile = np.argsort(-s, kind="stable")[:n_top]
        lift = round(float(y[top_decile].mean() / y.mean()), 3)
    return BacktestReport(
        as_of=as_of, horizon_days=horizon_days, partners=int(y.size), positives=int(y.sum()),
        base_rate=round(float(y.mean()), 4) if y.size else 0.0, auc=_auc(y, s),
        auc_dormant=_auc(y[dormant], s[dormant]),
        k=k, precision_at_k=precision, top_decile_lift=lift,
        weights={kk: d.weight for kk, d in cfg.dimensions.items()},
    )
