"""GTM gap diagnosis: a deterministic text rubric plus behaviour-backed assessment of six GTM dimensions.

Importing the package registers the text rubric with scoring's GTM hook (when scoring is installed), so GTM
readiness scores blend the partner's words with behaviour.
"""

from readiness.gtm.diagnosis import Diagnosis, GapAssessment, PlaybookRef, diagnose
from readiness.gtm.rubric import (
    RubricResult,
    assess_icp,
    assess_positioning,
    assess_sales_motion,
    assess_use_case,
    profile_text_scores,
)


def register_with_scoring() -> bool:
    """Plug the rubric into `readiness.scoring`'s text-scorer hook; False when scoring has no hook."""
    try:
        from readiness.scoring.gtm_behaviour import register_gtm_text_scorer
    except ImportError:
        return False
    register_gtm_text_scorer(profile_text_scores)
    return True


register_with_scoring()

__all__ = [
    "Diagnosis",
    "GapAssessment",
    "PlaybookRef",
    "RubricResult",
    "assess_icp",
    "assess_positioning",
    "assess_sales_motion",
    "assess_use_case",
    "diagnose",
    "profile_text_scores",
    "register_with_scoring",
]
