"""How numbers are shown over the API: scores (the total, each dimension, momentum) exactly as every other output
shows them (`readiness.presentation.shown_score`: rounded once, to a whole number), so the API, the web pages, the
CLI and the chat state the same figure; weights and contributions to one decimal, 0-1 values to two.
"""

from __future__ import annotations

from readiness.presentation import shown_score
from readiness.scoring import DimensionScore, PartnerScore, SubSignal


def points(x: float | None) -> float | None:
    """A weight or contribution on a 0-100 scale."""
    return None if x is None else round(float(x), 1)


def fraction(x: float) -> float:
    """A saturated 0-1 value."""
    return round(float(x), 2)


def _subsignal(s: SubSignal) -> SubSignal:
    return s.model_copy(update={"value": fraction(s.value), "weight": points(s.weight),
                                "contribution": points(s.contribution)})


def _dimension(d: DimensionScore) -> DimensionScore:
    return d.model_copy(update={"score": shown_score(d.score), "weight": points(d.weight),
                                "contribution": points(d.contribution),
                                "subsignals": [_subsignal(s) for s in d.subsignals]})


def present_score(score: PartnerScore) -> PartnerScore:
    """The score with every number rounded for display (the stored and computed values are untouched)."""
    return score.model_copy(update={
        "score": shown_score(score.score), "dimensions": [_dimension(d) for d in score.dimensions],
        "gtm": [_dimension(d) for d in score.gtm], "momentum_30": shown_score(score.momentum_30),
        "momentum_90": shown_score(score.momentum_90),
        "revenue_at_stake": None if score.revenue_at_stake is None else round(score.revenue_at_stake, 0),
    })


__all__ = ["fraction", "points", "present_score", "shown_score"]
