"""Backtest: score every partner with data up to as_of only, then check who created NEW sourced pipeline
(a sourced opportunity created in (as_of, as_of + horizon])."""

from __future__ import annotations

from datetime import date

import numpy as np
from sqlalchemy.orm import Session

from readiness.scoring.config import ScoringConfig, TierConfig, load_config
from readiness.scoring.features import new_sourced_pipeline
from readiness.scoring.plays import DORMANT_PLAYS
from readiness.scoring.schemas import BacktestReport, TierRow
from readiness.scoring.segments import tier_labels


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    # Imported here: scikit-learn costs 0.9 s of CPU to import, and only backtests need it.
    from sklearn.metrics import roc_auc_score

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
    callable_ = np.isin(frame.plays.primary, DORMANT_PLAYS) & in_program
    precision = None
    if callable_.any():
        priority = frame.plays.priority(revenue_at_stake_array(session, frame))
        order = np.lexsort((-frame.total, -priority))
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
        base_rate_dormant=round(float(y[dormant].mean()), 4) if dormant.any() else None,
        auc_dormant=_auc(y[dormant], s[dormant]),
        k=k, precision_at_k=precision, top_decile_lift=lift,
        weights={kk: d.weight for kk, d in cfg.dimensions.items()},
        tiers=tier_table(s, y, cfg.tiers),
    )


def tier_table(scores: np.ndarray, y: np.ndarray, tiers_cfg: TierConfig) -> list[TierRow]:
    """Per tier: partners, how many went on to produce, the conversion rate and the share of all producers."""
    labels = tier_labels(scores, tiers_cfg)
    out = []
    for name in ("Tier 1", "Tier 2", "Tier 3", "Tier 4"):
        m = labels == name
        n, pos = int(m.sum()), int(y[m].sum())
        out.append(TierRow(tier=name, partners=n, positives=pos, conversion=round(pos / n, 4) if n else 0.0,
                           share_of_positives=round(pos / max(1, int(y.sum())), 4)))
    return out
