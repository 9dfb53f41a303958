"""Readiness scoring: explainable 0-100 scores, segments, dormant flags, call list, revenue impact, backtest."""

from datetime import date

from sqlalchemy.orm import Session

from readiness.scoring import frame_cache as _frames
from readiness.scoring import history as _history
from readiness.scoring import priors as _priors
from readiness.scoring import revenue as _revenue
from readiness.scoring.backtest import backtest
from readiness.scoring.calibrate import calibrate
from readiness.scoring.call_list import call_list, growth_list, list_counts
from readiness.scoring.config import ScoringConfig, load_config
from readiness.scoring.dormant import flag_arrays
from readiness.scoring.gtm_behaviour import register_gtm_text_scorer
from readiness.scoring.incremental import IncrementalReport, rescore_changed
from readiness.scoring.revenue import program_impact, revenue_impact
from readiness.scoring.schemas import (
    BacktestReport,
    CalibrationReport,
    CallListEntry,
    DimensionScore,
    DormantFlag,
    GrowthEntry,
    PartnerScore,
    PlayEvidence,
    ProgramImpact,
    RevenueImpact,
    SubSignal,
)
from readiness.scoring.score import compute_frame, score_all, score_partner
from readiness.scoring.snapshots import refresh_snapshots, rescore_partner


def dormant_flags(session: Session, partner_id: str, as_of: date,
                  config: ScoringConfig | None = None) -> list[DormantFlag]:
    """The dormant flags of one partner as of a date (each with evidence)."""
    return score_partner(session, partner_id, as_of, config).dormant_flags


def clear_caches() -> None:
    """Forget cached program baselines, activation curves and whether the store has dated attribute values (call
    after an import)."""
    _priors.clear_cache()
    _revenue.clear_cache()
    _history.clear_cache()
    _frames.clear()


__all__ = [
    "BacktestReport", "CalibrationReport", "CallListEntry", "DimensionScore", "DormantFlag", "GrowthEntry",
    "IncrementalReport", "PartnerScore", "PlayEvidence", "ProgramImpact", "RevenueImpact", "ScoringConfig",
    "SubSignal", "backtest", "calibrate", "call_list", "clear_caches", "compute_frame", "dormant_flags",
    "flag_arrays", "growth_list", "list_counts", "load_config", "program_impact", "refresh_snapshots",
    "register_gtm_text_scorer", "rescore_changed", "rescore_partner", "revenue_impact", "score_all",
    "score_partner",
]
