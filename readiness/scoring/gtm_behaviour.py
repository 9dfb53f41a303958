"""GTM readiness beside the four dimensions: behaviour-based sub-scores, plus an optional text scorer.

The text rubric (``readiness.gtm``) plugs in through :func:`register_gtm_text_scorer` (or the config's
``gtm.text_scorer: "module:function"``). A text scorer takes a partner's ``GTMProfile`` (or None) and returns
``{gtm_key: (score 0-1, [evidence, ...])}`` for the keys it can judge; its score is blended with behaviour by
``gtm.text_weight``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from readiness.scoring.config import GTM_KEYS, ScoringConfig
from readiness.scoring.dimensions import overlap_amount, saturate
from readiness.scoring.features import Features

GTMTextScorer = Callable[[Any], dict[str, tuple[float, list[str]]]]
GTM_LABELS = {
    "use_case": "Use-case clarity",
    "icp": "ICP specificity",
    "sales_motion": "Sales-motion maturity",
    "delivery_credibility": "Delivery credibility",
    "business_communication": "Business communication",
}
_registry: list[GTMTextScorer] = []


def register_gtm_text_scorer(fn: GTMTextScorer | None) -> None:
    """Install (or with None, remove) the text scorer every GTM score blends in."""
    _registry.clear()
    if fn is not None:
        _registry.append(fn)


def has_text_scorer(cfg: ScoringConfig) -> bool:
    """Whether a text scorer is installed or configured (without importing it)."""
    return bool(_registry or cfg.gtm.text_scorer)


def text_scorer(cfg: ScoringConfig) -> GTMTextScorer | None:
    if _registry:
        return _registry[0]
    if cfg.gtm.text_scorer:
        module, _, name = cfg.gtm.text_scorer.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    return None


def behaviour_amounts(f: Features) -> dict[str, tuple[np.ndarray, float, tuple[str, ...]]]:
    """Per GTM key: raw amount, half-saturation and the event kinds that evidence it."""
    k = f.kinds
    return {
        "use_case": (k["demo_delivered"].count + k["workshop_delivered"].count + 2 * k["case_study_published"].count,
                     2.0, ("demo_delivered", "workshop_delivered", "case_study_published")),
        "icp": (overlap_amount(f) / 10 + f.sourced.won, 2.0, ("customer_overlap_detected",)),
        "sales_motion": (f.sourced.count + k["co_sell_request"].count + 0.5 * k["ae_meeting"].count, 3.0,
                         ("deal_registered", "co_sell_request", "ae_meeting")),
        "delivery_credibility": (f.sourced.won + k["workshop_delivered"].count + 2 * k["case_study_published"].count,
                                 2.0, ("workshop_delivered", "case_study_published")),
        "business_communication": (k["plan_updated"].decayed + k["mdf_requested"].decayed + k["ae_meeting"].decayed
                                   + k["joint_call"].decayed, 2.0,
                                   ("plan_updated", "mdf_requested", "ae_meeting", "joint_call")),
    }


def gtm_behaviour_scores(f: Features) -> dict[str, np.ndarray]:
    return {key: 100.0 * saturate(raw, half) for key, (raw, half, _) in behaviour_amounts(f).items()}


__all__ = ["GTM_KEYS", "GTM_LABELS", "GTMTextScorer", "behaviour_amounts", "gtm_behaviour_scores",
           "register_gtm_text_scorer", "text_scorer"]
