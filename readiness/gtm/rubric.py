"""Deterministic, explainable rubric for a partner's own go-to-market text.

Each statement type has a fixed list of elements; an element is present when one of its lexicon entries or
patterns matches. The score is the share of elements present. Vague blanket phrases ("businesses of all sizes",
"any company looking to modernise") cancel the element they pretend to fill and cap the score, because a
statement that claims everyone targets no one. Results say which elements were found (with the matching words)
and which are missing, so a person or an LLM can phrase the advice, but never change the verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field

# Industries and verticals; multi-word entries first so "financial services" wins over "services".
INDUSTRIES: tuple[str, ...] = (
    "financial services", "public sector", "higher education", "life sciences", "oil and gas", "real estate",
    "professional services", "consumer goods", "state and local government", "k-12", "e-commerce", "ecommerce",
    "healthcare", "health care", "hospitals", "hospital", "retail", "retailers", "manufacturing", "manufacturers",
    "insurance", "insurers", "banking", "banks", "fintech", "government", "federal", "education", "universities",
    "university", "logistics", "transportation", "supply chain", "energy", "utilities", "telecom",
    "telecommunications", "media", "pharma", "pharmaceutical", "biotech", "automotive", "hospitality", "travel",
    "construction", "legal", "law firms", "nonprofit", "non-profit", "agriculture", "mining", "aerospace",
    "defense", "defence", "gaming", "saas", "software companies", "cpg", "chemicals", "food and beverage",
    "restaurants", "airlines", "shipping", "wholesale", "distribution", "credit unions", "clinics",
)
_INDUSTRY_RE = re.compile(r"\b(" + "|".join(re.escape(i) for i in INDUSTRIES) + r")\b", re.IGNORECASE)

_NUM = r"\d[\d,.]*\s*[kK]?"
_SIZE_RES = (
    re.compile(rf"\b{_NUM}\s*(?:-|–|—|to)\s*{_NUM}\s*(?:employees|staff|people|seats|users|fte|headcount)\b", re.I),
    re.compile(rf"\b(?:over|more than|under|fewer than|less than|at least|up to)?\s*{_NUM}\+?\s*"
               r"(?:employees|staff|people|seats|fte)\b", re.I),
    re.compile(r"\b(?:mid[- ]?market|mid[- ]?sized?|smb|smes?|small and mid[- ]?sized?|small[- ]to[- ]mid[- ]?sized?|"
               r"enterprises?|enterprise[- ]class|large enterprises?|fortune\s*\d+|global\s*\d+|"
               r"small businesses|startups?|scale[- ]?ups?)\b", re.I),
    re.compile(rf"\$\s*{_NUM}\s*(?:m|mm|million|bn|b|billion)?\s*(?:-|–|to)\s*\$?\s*{_NUM}\s*"
               r"(?:m|mm|million|bn|b|billion)\b\s*(?:in\s*)?(?:revenue|arr|turnover)?", re.I),
)
_ROLE_RES = (
    re.compile(r"\b(?:(?:ceo|cfo|cio|cto|ciso|coo|cmo|cdo|cro|chro|vp|svp|evp)s?|vice presidents?|"
               r"chief [a-z]+ officers?|heads? of [a-z]+|directors? of [a-z]+|[a-z]+ directors?)\b", re.I),
    re.compile(r"\b(?:operations|ops|it|data|engineering|finance|security|compliance|risk|procurement|platform|"
               r"analytics|sales|marketing|supply chain|clinical|plant|network|infrastructure|devops|hr|"
               r"business|line[- ]of[- ]business)\s+(?:leaders?|leadership|managers?|teams?|owners?|buyers?|"
               r"executives?|heads?|directors?|officers?|architects?)\b", re.I),
    re.compile(r"\b(?:decision[- ]makers?|economic buyers?|budget holders?|practitioners?|controllers?|"
               r"administrators?|architects?|plant managers?)\b", re.I),
)
_TRIGGER_RES = (
    re.compile(r"\b(?:triggered by|trigger(?:s|ed)?|following|after (?:a|an|the)|when (?:they|a|an|the|their)|"
               r"in the wake of|ahead of|facing|preparing for)\b", re.I),
    re.compile(r"\b(?:migrations?|audits?|new regulations?|regulatory (?:change|deadline)s?|compliance deadlines?|"
               r"mergers?|acquisitions?|m&a|renewals?|end[- ]of[- ](?:life|support)|outages?|breach(?:es)?|"
               r"incidents?|funding rounds?|re-?platforming|expansion into|new (?:cio|cto|leadership))\b", re.I),
)
# Blanket claims that target everyone; each cancels the element it pretends to fill.
_VAGUE_ICP: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:all|any) sizes?\b|\bof every size\b|\bsmall to large\b", re.I), "size_band"),
    (re.compile(r"\bacross (?:all )?industries\b|\b(?:any|all|every) (?:industry|industries|sector|vertical)s?\b"
                r"|\bindustry[- ]agnostic\b", re.I), "industry"),
    (re.compile(r"\b(?:any|all|every) (?:company|companies|business|businesses|organi[sz]ations?|customers?)\b"
                r"|\banyone\b|\beveryone\b", re.I), "buyer_role"),
    (re.compile(r"\blooking to (?:modernis|moderniz|grow|transform|innovate)\w*|\bthat want to grow\b", re.I),
     "trigger"),
)

_PROBLEM_RE = re.compile(
    r"\b(?:cut|cuts|reduce[sd]?|reducing|lower|eliminate[sd]?|prevent[sd]?|avoid|fix|stop|speed up|shorten|"
    r"automate[sd]?|automated|detect|triage|downtime|outages?|incidents?|errors?|failures?|delays?|backlogs?|"
    r"churn|fraud|risk|cost|costs|manual|slow|bottlenecks?|compliance|breach(?:es)?|waste|rework|"
    r"stockouts?|defects?|overruns?|leakage)\b", re.I)
_COUNT = r"(?:an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|\d+)"
_UNIT = r"(?:minutes?|hours?|days?|weeks?|months?|quarters?|years?|closes?|sprints?)"
_OUTCOME_RES = (
    re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:%|percent|pct|x\b|×)", re.I),
    re.compile(rf"\b(?:within|in|under|by|less than)\s+{_COUNT}\s*{_UNIT}\b", re.I),
    re.compile(rf"\bfrom\s+(?:{_COUNT}\s+)?{_UNIT}\s+to\s+(?:under |less than )?(?:{_COUNT}\s+)?{_UNIT}\b", re.I),
    re.compile(r"[$€£]\s*\d[\d,.]*\s*(?:k|m|mm|million|bn)?\b|\b\d[\d,.]*\s*(?:hours|days|minutes)\s+(?:saved|less)\b",
               re.I),
)
_PROOF_RE = re.compile(
    r"\b(?:references?|referenceable|case stud(?:y|ies)|customers? like|customer stories|proven (?:at|with|in)|"
    r"deployed (?:at|for|with)|live (?:at|with)|results? (?:at|for|with)|as (?:we|seen) (?:did|delivered) (?:at|for)|"
    r"for example|e\.g\.|pilot(?:ed)? (?:at|with)|measured (?:in|at|with)|proof of value|proof[- ]of[- ]concept|"
    r"benchmarks?|testimonials?)\b", re.I)

_SOURCING_RE = re.compile(
    r"\b(?:outbound|inbound|named accounts?|target accounts?|account[- ]based|abm|prospecting|cold (?:call|email)s?|"
    r"referrals?|referral[- ]led|installed base|existing customers|customer base|events?|webinars?|"
    r"marketplace|trigger[- ]based|lead generation|sdrs?|bdrs?|sourc(?:e|es|ing) (?:deals|opportunities|pipeline)|"
    r"renewals?|roundtables?|(?:generate|generates|generating) (?:leads|pipeline|demand)|"
    r"(?:deals|leads|pipeline|opportunities) comes? from|we (?:find|prospect|register))\b",
    re.I)
_NO_SOURCING_RE = re.compile(r"\b(?:does not|doesn't|do not|don't|never) sources?\b|\bno sourcing\b", re.I)
_AE_RE = re.compile(r"\b(?:vendor(?:'s)? (?:ae|account executives?|sales(?: team)?|reps?)|aes?|account executives?|"
                    r"co-?sell(?:ing)?|hand[- ]?offs?|hands? off|joint (?:calls?|selling|account plans?))\b", re.I)
_AE_TIMING_RE = re.compile(
    r"\b(?:at|from|in|during|after|before|once|when|on|by) (?:the )?(?:first |initial )?"
    r"(?:discovery|validation|qualification|proposal|negotiation|demo|pilot|poc|stage \d|larger deals|"
    r"deals? (?:over|above)|qualified|first (?:call|meeting)|registration|deal registration)\b"
    r"|\bjoins? (?:at|from|in|after|when|on|once)\b|\bhand(?:s|ed)? (?:off|over) (?:at|after|when|once)\b",
    re.I)

_WHO_RE = re.compile(r"\b(?:for|give|gives|help|helps|helping|enable|enables|lets?)\s+(?:[a-z&-]+\s+){0,4}"
                     r"(?:teams?|leaders?|companies|organi[sz]ations|customers|buyers|operators|hospitals|banks|"
                     r"insurers|retailers|manufacturers|agencies|schools|universities|clinics)\b", re.I)
_VALUE_RE = re.compile(r"\b(?:so (?:that|they)|to (?:cut|reduce|get|gain|see|achieve|improve|ship|prove)|"
                       r"one view|single view|visibility|faster|fewer|without|in (?:\d+|one|two|a) "
                       r"(?:days?|weeks?|months?)|\d+[- ]day|\d+\s*%)\b", re.I)
_UNLIKE_RE = re.compile(r"\b(?:unlike|instead of|rather than|compared (?:to|with)|versus|vs\.?|the only|only "
                        r"(?:partner|team|firm)|differentiat\w*|uniquely|no other|proof)\b", re.I)


class RubricResult(BaseModel):
    """A rubric verdict: share of elements present, with the words that matched and what is missing."""

    score: float = Field(ge=0.0, le=1.0)
    present: list[str] = Field(default_factory=list, description="element: matched words")
    missing: list[str] = Field(default_factory=list, description="elements not named, or named only vaguely")
    vague: list[str] = Field(default_factory=list, description="blanket phrases that cancelled an element")

    @property
    def present_elements(self) -> list[str]:
        return [p.split(":", 1)[0] for p in self.present]


def _first(patterns: Sequence[re.Pattern[str]], text: str) -> str | None:
    for pattern in patterns:
        m = pattern.search(text)
        if m:
            return m.group(0).strip()
    return None


def _grade(
    text: str | None,
    checks: Sequence[tuple[str, Callable[[str], str | None]]],
    vague_rules: Sequence[tuple[re.Pattern[str], str]] = (),
) -> RubricResult:
    text = (text or "").strip()
    if not text:
        return RubricResult(score=0.0, missing=[name for name, _ in checks])
    cancelled: dict[str, str] = {}
    for pattern, element in vague_rules:
        m = pattern.search(text)
        if m:
            cancelled[element] = m.group(0)
    present: list[str] = []
    missing: list[str] = []
    for name, check in checks:
        hit = check(text)
        if hit and name not in cancelled:
            present.append(f"{name}: {hit}")
        else:
            missing.append(f"{name} (vague: '{cancelled[name]}')" if name in cancelled else name)
    score = len(present) / len(checks)
    if cancelled:
        # A blanket claim anywhere makes the statement untargeted: cap it below the 'partial' line.
        score = min(score, 0.25)
    return RubricResult(score=round(score, 3), present=present, missing=missing, vague=sorted(set(cancelled.values())))


def _industry(text: str) -> str | None:
    m = _INDUSTRY_RE.search(text)
    return m.group(0) if m else None


def assess_icp(text: str | None) -> RubricResult:
    """An ICP names an industry, a size band, a buyer role and a buying trigger."""
    return _grade(
        text,
        (
            ("industry", _industry),
            ("size_band", lambda t: _first(_SIZE_RES, t)),
            ("buyer_role", lambda t: _first(_ROLE_RES, t)),
            ("trigger", lambda t: _first(_TRIGGER_RES, t)),
        ),
        _VAGUE_ICP,
    )


def assess_use_case(text: str | Sequence[str] | None) -> RubricResult:
    """A use case names a customer problem, a measurable outcome (number, percent or time target) and proof."""
    if text is not None and not isinstance(text, str):
        text = "; ".join(t for t in text if t)
    return _grade(
        text,
        (
            ("customer_problem", lambda t: _first((_PROBLEM_RE,), t)),
            ("measurable_outcome", lambda t: _first(_OUTCOME_RES, t)),
            ("proof", lambda t: _first((_PROOF_RE,), t)),
        ),
    )


def _sourcing(text: str) -> str | None:
    if _NO_SOURCING_RE.search(text):
        return None  # "influences vendor-led deals, does not source": no way of finding deals
    return _first((_SOURCING_RE,), text)


def _ae_timing(text: str) -> str | None:
    if not _AE_RE.search(text):
        return None
    return _first((_AE_TIMING_RE,), text)


def assess_sales_motion(text: str | None) -> RubricResult:
    """A sales motion names how deals are found and when the vendor's AE joins."""
    return _grade(text, (("deal_sourcing", _sourcing), ("ae_handoff", _ae_timing)))


def assess_positioning(text: str | None) -> RubricResult:
    """Positioning names who it is for, what they get, and how it differs (unlike / proof)."""
    return _grade(
        text,
        (
            ("who", lambda t: _first((_WHO_RE, *_ROLE_RES), t) or _industry(t)),
            ("for_value", lambda t: _first((_VALUE_RE,), t)),
            ("unlike", lambda t: _first((_UNLIKE_RE,), t)),
        ),
    )


RUBRICS: dict[str, Callable[[str | None], RubricResult]] = {
    "icp_statement": assess_icp,
    "use_cases": assess_use_case,
    "sales_motion": assess_sales_motion,
    "positioning": assess_positioning,
}


def assess_field(field: str, text: str | Sequence[str] | None) -> RubricResult:
    """Rubric for a GTM profile field by its column name (icp_statement, use_cases, sales_motion, positioning)."""
    if field not in RUBRICS:
        raise KeyError(f"no rubric for field {field!r}; known: {', '.join(RUBRICS)}")
    if field == "use_cases":
        return assess_use_case(text)
    if text is not None and not isinstance(text, str):
        text = "; ".join(text)
    return RUBRICS[field](text)




def profile_text_scores(profile: object | None) -> dict[str, tuple[float, list[str]]]:
    """Scoring's GTM text hook: `{gtm_key: (score 0-1, evidence)}` for the keys the partner's own words can judge.

    Delivery credibility is left to behaviour: no self-description proves delivery."""
    if profile is None:
        return {}

    def text(field: str) -> str | list[str] | None:
        return getattr(profile, field, None)

    results = {
        "icp": assess_icp(text("icp_statement")),  # type: ignore[arg-type]
        "use_case": assess_use_case(text("use_cases")),
        "sales_motion": assess_sales_motion(text("sales_motion")),  # type: ignore[arg-type]
        "business_communication": assess_positioning(text("positioning")),  # type: ignore[arg-type]
    }
    return {
        key: (r.score, [f"text rubric {r.score:.2f}: present {', '.join(r.present) or 'none'}; "
                        f"missing {', '.join(r.missing) or 'none'}"])
        for key, r in results.items()
    }


__all__ = [
    "INDUSTRIES",
    "RUBRICS",
    "RubricResult",
    "assess_field",
    "assess_icp",
    "assess_positioning",
    "assess_sales_motion",
    "assess_use_case",
    "profile_text_scores",
]
