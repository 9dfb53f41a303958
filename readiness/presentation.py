"""How numbers are shown: the one place a score is rounded for people.

Domain objects keep full precision. Every output (CLI, agent tools, API, web) shows a score through
:func:`shown_score`, exactly once, so a partner scored 39.46 reads "39" everywhere, never "40" in one line and
"39" in the next (rounding an already-rounded 39.5 again gives 40).
"""

from __future__ import annotations

import math
from datetime import date


def shown_score(value: float | None) -> int | None:
    """A 0-100 score as people see it: a whole number, halves rounded up (39.5 -> 40, 39.46 -> 39).

    Python's round() rounds halves to even (round(38.5) == 38), which reads as a bug to anyone checking by hand.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return math.floor(float(value) + 0.5)


def shown_tier_line(score: float, tier: str) -> str:
    """"readiness 39 (Tier 4)": the score as shown, with its tier."""
    return f"readiness {shown_score(score)} ({tier})"


def as_of_text(as_of: date) -> str:
    """How an answer states the date it was computed for."""
    return f"as of {as_of.isoformat()}"


__all__ = ["as_of_text", "shown_score", "shown_tier_line"]
