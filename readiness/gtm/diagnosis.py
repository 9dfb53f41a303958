"""GTM gap diagnosis: six dimensions per partner, each judged from the partner's words AND its behaviour.

Rules (deterministic, explainable; thresholds in `Thresholds`):
- Behaviour outweighs self-description. Text alone can earn at most "partial"; "strong" needs behaviour that backs
  it (opportunities in the stated ICP, wins on the use case, AE touches on registered deals, deliveries).
- Producing partners are judged mainly on what they do: a motion that keeps sourcing deals is not a gap even when
  it is not written down well (at most a minor, partial one).
- Trained-but-never-sold partners (enablement events, no deal registration, no opportunity) get a sales-motion gap.
Gaps (status partial/missing) are ranked by severity x impact x confidence; the first is "the one thing to fix next".
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from readiness.gtm import rubric
from readiness.gtm.facts import (
    AE_TOUCH_KINDS,
    ENABLEMENT_KINDS,
    PartnerFacts,
    lifecycle_phase,
    load_facts,
)
from readiness.models import ActivationPlan, Opportunity

log = logging.getLogger(__name__)
Status = Literal["strong", "partial", "missing"]

LABELS: dict[str, str] = {
    "icp": "ICP specificity",
    "use_case": "Use-case clarity and repeatability",
    "sales_motion": "Sales-motion maturity",
    "delivery_credibility": "Delivery credibility",
    "business_communication": "Business-level communication",
    "ae_engagement": "AE engagement",
}
# How much fixing each gap moves a partner toward sourced revenue; ties break in this order.
IMPACT: dict[str, float] = {
    "sales_motion": 1.0,
    "icp": 0.9,
    "use_case": 0.85,
    "ae_engagement": 0.8,
    "delivery_credibility": 0.7,
    "business_communication": 0.6,
}
SEVERITY: dict[str, float] = {"missing": 1.0, "partial": 0.5, "strong": 0.0}


class Thresholds(BaseModel):
    strong_text: float = 0.75
    partial_text: float = 0.4
    recent_days: int = 180  # "producing" = sourced pipeline or deal registration this recently
    ae_touch_ratio: float = 0.4  # AE touches per registered deal for "strong"
    focus_share: float = 0.7  # share of opportunities in one industry that reveals an unwritten ICP


class PlaybookRef(BaseModel):
    id: str
    title: str


class GapAssessment(BaseModel):
    gap: str
    label: str
    status: Status
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list)
    missing_elements: list[str] = Field(default_factory=list)
    playbooks: list[PlaybookRef] = Field(default_factory=list)
    priority: float = Field(0.0, description="severity x impact x confidence; 0 when strong")


class Diagnosis(BaseModel):
    partner_id: str
    name: str
    as_of: date
    phase: str = Field(description="30 | 60 | 90: the plan phase (or behavioural phase) used to pick playbooks")
    gaps: list[GapAssessment] = Field(description="partial/missing dimensions, most important first")
    top_gap: GapAssessment | None = Field(description="the one thing to fix next")
    assessments: list[GapAssessment] = Field(description="all six dimensions, in the fixed order")
    catalog_empty: bool = False
    summary: str


def _quote(text: str | None, limit: int = 90) -> str:
    text = " ".join((text or "").split())
    return f'"{text[: limit - 1]}…"' if len(text) > limit else f'"{text}"'


def _confidence(text_present: bool, behaviour_points: int) -> float:
    # More independent evidence -> more confident; text alone is weak evidence.
    return round(min(1.0, 0.3 + (0.15 if text_present else 0.0) + 0.12 * min(behaviour_points, 5)), 2)


# ---------- size and industry matching between an ICP and opportunities ----------

_BAND_RE = re.compile(r"(\d[\d,.]*)\s*(k)?\s*(?:-|–|—|to)\s*(\d[\d,.]*)\s*(k)?", re.I)
_PLUS_RE = re.compile(r"(\d[\d,.]*)\s*(k)?\s*\+", re.I)
_WORD_BANDS: tuple[tuple[re.Pattern[str], tuple[float, float]], ...] = (
    (re.compile(r"\bmid[- ]?market|mid[- ]?sized?\b", re.I), (100, 2000)),
    (re.compile(r"\bsmb|smes?|small businesses|small and mid\b", re.I), (1, 500)),
    (re.compile(r"\benterprises?|fortune\s*\d+|large\b", re.I), (1000, float("inf"))),
)


def _num(s: str, k: str | None) -> float:
    value = float(s.replace(",", ""))
    return value * 1000 if k else value


def size_range(text: str | None) -> tuple[float, float] | None:
    """Employee range named in an ICP or an opportunity band ("200-1,000 employees", "5000+", "mid-market")."""
    if not text:
        return None
    m = _BAND_RE.search(text)
    if m:
        return _num(m.group(1), m.group(2)), _num(m.group(3), m.group(4))
    m = _PLUS_RE.search(text)
    if m:
        return _num(m.group(1), m.group(2)), float("inf")
    for pattern, band in _WORD_BANDS:
        if pattern.search(text):
            return band
    return None


def _norm_industry(s: str) -> str:
    s = s.lower().strip()
    return re.sub(r"(?:ies|s)$", "", s)


def _icp_matches(icp_text: str, opp: Opportunity) -> bool:
    industries = {_norm_industry(m.group(0)) for m in rubric._INDUSTRY_RE.finditer(icp_text)}
    if industries and (not opp.industry or _norm_industry(opp.industry) not in industries):
        return False
    want, have = size_range(icp_text), size_range(opp.employee_band)
    if want and have and (have[1] < want[0] or have[0] > want[1]):
        return False
    return bool(industries) or want is not None


# ---------- one function per dimension ----------


def _icp(f: PartnerFacts, t: Thresholds) -> GapAssessment:
    text = f.profile.icp_statement if f.profile else None
    r = rubric.assess_icp(text)
    evidence = [f"ICP statement {_quote(text)}"] if text else ["no ICP statement in the GTM profile"]
    missing = list(r.missing)
    opps = f.opps()
    matching = [o for o in opps if text and _icp_matches(text, o)]
    industries = Counter((o.industry or "unknown").lower() for o in opps)
    if opps:
        top, n = industries.most_common(1)[0]
        matched = f", {len(matching)} match the ICP" if text else ""
        evidence.append(f"{len(opps)} opportunities; {n} in {top}{matched}")
    if r.score >= t.strong_text:
        if matching:
            status: Status = "strong"
        else:
            status = "partial"
            missing.append("opportunities in the stated ICP (industry and size band)")
    elif opps and len(opps) >= 3 and industries.most_common(1)[0][1] / len(opps) >= t.focus_share:
        # The deals show a focus the statement does not say: write down what already works.
        status = "partial"
        evidence.append("behaviour shows a vertical focus the ICP statement does not name")
    elif r.score >= t.partial_text:
        status = "partial"
    else:
        status = "missing"
    return _assessment("icp", status, _confidence(bool(text), 2 if opps else 0), evidence, missing)


def _use_case(f: PartnerFacts, t: Thresholds) -> GapAssessment:
    cases = list(f.profile.use_cases) if f.profile and f.profile.use_cases else []
    r = rubric.assess_use_case(cases)
    evidence = [f"use cases {_quote('; '.join(cases))}"] if cases else ["no use case in the GTM profile"]
    missing = list(r.missing)
    won = f.won()
    deliveries = f.count("demo_delivered", "workshop_delivered", "case_study_published")
    if won:
        evidence.append(f"{len(won)} closed-won opportunities (last {max(o.close_date or o.created_on for o in won)})")
    if deliveries:
        evidence.append(f"{deliveries} demos/workshops/case studies delivered")
    repeated = len(won) >= 2 or deliveries >= 2
    if r.score >= t.partial_text and repeated:
        status: Status = "strong" if r.score >= 0.6 else "partial"
    elif repeated:
        status = "partial"  # it sells, but nobody wrote down what it sells
        missing.append("a written use case (problem, outcome, proof) for what already sells")
    elif r.score >= t.partial_text:
        status = "partial"
        missing.append("a won deal or delivery that proves the use case repeats")
    else:
        status = "missing"
    if "proof" in r.present_elements or won:
        missing = [m for m in missing if m != "proof"]
    return _assessment("use_case", status, _confidence(bool(cases), len(won) + deliveries), evidence, missing)


def _sales_motion(f: PartnerFacts, t: Thresholds) -> GapAssessment:
    text = f.profile.sales_motion if f.profile else None
    r = rubric.assess_sales_motion(text)
    evidence = [f"sales motion {_quote(text)}"] if text else ["no sales motion described"]
    missing = list(r.missing)
    recent = f.as_of - timedelta(days=t.recent_days)
    sourced, influenced = f.opps("sourced"), f.opps("influenced")
    regs = f.of_kind("deal_registered")
    recent_sourced = f.opps("sourced", since=recent)
    recent_regs = [e for e in regs if e.on >= recent]
    enablement = f.count(*ENABLEMENT_KINDS)
    evidence.append(
        f"{len(regs)} deal registrations, {len(sourced)} sourced / {len(influenced)} influenced opportunities"
        + (f", {enablement} onboarding/training/certification events" if enablement else "")
    )
    if recent_sourced or recent_regs:
        status: Status = "strong" if r.score >= 0.5 else "partial"
        if status == "partial":
            missing.append("write down the motion that is already producing (how deals are found, when the AE joins)")
    elif sourced or regs:
        last = max([o.created_on for o in sourced if o.created_on] + [e.on for e in regs])
        evidence.append(f"no sourced opportunity or registration in the last {t.recent_days} days (last {last})")
        status = "partial"
        missing.append("a restarted sourcing motion (recent sourced pipeline)")
    elif influenced:
        status = "partial"
        missing.append("a first partner-sourced opportunity (influence only so far)")
    else:
        # Never sold: whatever the text says, there is no motion yet.
        status = "missing"
        missing.append("a first registered deal or sourced opportunity")
        if enablement:
            evidence.append("trained but has never registered a deal")
    return _assessment("sales_motion", status, _confidence(bool(text), 2 + min(len(regs), 3)), evidence, missing)


def _delivery(f: PartnerFacts, t: Thresholds) -> GapAssessment:
    certs = f.count("certification_earned")
    demos = f.count("demo_delivered", "workshop_delivered")
    studies = f.count("case_study_published")
    won = len(f.won("sourced"))
    evidence = [f"{certs} certifications, {demos} demos/workshops delivered, {studies} case studies published"
                + (f", {won} sourced wins" if won else "")]
    missing: list[str] = []
    if not certs:
        missing.append("a certification")
    if not demos:
        missing.append("a partner-led demo or workshop")
    if not studies:
        missing.append("a published case study")
    if certs and (demos >= 2 or studies):
        status: Status = "strong"
    elif certs or demos or studies or won:
        status = "partial"
    else:
        status = "missing"
    return _assessment("delivery_credibility", status, _confidence(False, certs + demos + studies + won + 1),
                       evidence, missing)


def _communication(f: PartnerFacts, t: Thresholds) -> GapAssessment:
    text = f.profile.positioning if f.profile else None
    pos = rubric.assess_positioning(text)
    uc = rubric.assess_use_case(list(f.profile.use_cases) if f.profile and f.profile.use_cases else [])
    studies = f.count("case_study_published")
    evidence = [f"positioning {_quote(text)}"] if text else ["no joint positioning statement"]
    missing = [f"positioning {m}" for m in pos.missing]
    outcome = "measurable_outcome" in uc.present_elements
    if outcome:
        evidence.append("use cases are stated as a measurable business outcome")
    else:
        missing.append("a business outcome with a number (not a technology list)")
    if studies:
        evidence.append(f"{studies} case studies published")
    score = 0.6 * pos.score + 0.25 * outcome + 0.15 * bool(studies)
    status: Status = "strong" if score >= 0.7 else "partial" if score >= 0.3 else "missing"
    return _assessment("business_communication", status, _confidence(bool(text), studies + 1), evidence, missing)


def _ae(f: PartnerFacts, t: Thresholds) -> GapAssessment:
    touches = f.of_kind(*AE_TOUCH_KINDS)
    regs = f.count("deal_registered")
    by_kind = Counter(e.kind for e in touches)
    evidence = [
        f"{len(touches)} AE touches ({', '.join(f'{n} {k}' for k, n in sorted(by_kind.items())) or 'none'}) "
        f"vs {regs} deal registrations"
    ]
    if touches:
        evidence[-1] += f"; last {touches[-1].on}"
    missing: list[str] = []
    if not touches:
        status: Status = "missing"
        missing.append("an AE meeting or joint call" + (" on the registered deals" if regs else ""))
    elif len(touches) >= 3 and len(touches) / max(regs, 1) >= t.ae_touch_ratio:
        status = "strong"
    else:
        status = "partial"
        missing.append("AE involvement on more of the registered deals" if regs else "a regular AE cadence")
    return _assessment("ae_engagement", status, _confidence(False, len(touches) + min(regs, 3) + 1), evidence, missing)


DIMENSIONS: dict[str, Callable[[PartnerFacts, Thresholds], GapAssessment]] = {
    "icp": _icp,
    "use_case": _use_case,
    "sales_motion": _sales_motion,
    "delivery_credibility": _delivery,
    "business_communication": _communication,
    "ae_engagement": _ae,
}


def _assessment(gap: str, status: Status, confidence: float, evidence: list[str], missing: list[str]) -> GapAssessment:
    return GapAssessment(
        gap=gap,
        label=LABELS[gap],
        status=status,
        confidence=confidence,
        evidence=evidence,
        missing_elements=list(dict.fromkeys(missing)),
        priority=round(SEVERITY[status] * IMPACT[gap] * (0.5 + 0.5 * confidence), 4),
    )


# ---------- playbooks ----------


def partner_phase(session: Session, facts: PartnerFacts) -> str:
    """The active plan's phase by days since it started, else the behavioural phase."""
    plan = session.scalars(
        select(ActivationPlan)
        .where(ActivationPlan.partner_id == facts.partner.partner_id, ActivationPlan.status == "active",
               ActivationPlan.started_on <= facts.as_of)
        .order_by(ActivationPlan.started_on.desc(), ActivationPlan.id.desc())
    ).first()
    if plan is None:
        return lifecycle_phase(facts)
    elapsed = (facts.as_of - plan.started_on).days
    return "30" if elapsed < 30 else "60" if elapsed < 60 else "90"


def playbooks_for(gap: str, phase: str, partner_type: str, catalog: Sequence[object],
                  has_customers: bool = True) -> list[PlaybookRef]:
    """Partner-facing playbooks for a gap in this phase (or any phase); other phases only when none fit. For a
    partner with no customer yet, playbooks that need customers are chosen only after those it can use today."""
    fitting = [
        p for p in catalog
        if gap in p.gaps and p.audience in ("partner", "both") and partner_type in p.partner_types  # type: ignore[attr-defined]
    ]

    def pick(pool: list[object]) -> list[object]:
        in_phase = [p for p in pool if p.phase in (phase, "any")]  # type: ignore[attr-defined]
        return in_phase or sorted(pool, key=lambda p: abs(int(p.phase) - int(phase)) if p.phase != "any" else 0)  # type: ignore[attr-defined]

    if has_customers:
        chosen = pick(fitting)
    else:
        needs = [p for p in fitting if getattr(p, "requires_customers", False)]
        chosen = pick([p for p in fitting if p not in needs]) + pick(needs)
    return [PlaybookRef(id=p.id, title=p.title) for p in chosen[:3]]  # type: ignore[attr-defined]


def default_catalog() -> tuple[object, ...]:
    """The configured playbook catalog, re-read only when a playbook file changes (parsing YAML per call is slow).

    A broken catalog must not break diagnosis: it is logged and treated as empty (the summary says so)."""
    from knowledge.catalog import CatalogError, playbook_dir

    folder = playbook_dir()
    try:
        stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.md")))
        return _load_catalog(folder, stamp)
    except (CatalogError, OSError) as exc:
        log.warning("playbook catalog unavailable: %s", exc)
        return ()


@lru_cache(maxsize=4)
def _load_catalog(folder: Path, stamp: tuple[tuple[str, int], ...]) -> tuple[object, ...]:
    from knowledge.catalog import load_catalog

    return tuple(load_catalog(folder))


# ---------- entry point ----------


def diagnose(
    session: Session,
    partner_id: str,
    as_of: date,
    catalog: Sequence[object] | None = None,
    thresholds: Thresholds | None = None,
    facts: PartnerFacts | None = None,
) -> Diagnosis:
    """Assess the six GTM dimensions of one partner as of a date and rank its gaps. `facts`: the partner's, when
    already loaded as of that date (`load_facts_many` for a book)."""
    t = thresholds or Thresholds()
    facts = facts if facts is not None else load_facts(session, partner_id, as_of)
    if catalog is None:
        catalog = default_catalog()
    phase = partner_phase(session, facts)
    assessments = [fn(facts, t) for fn in DIMENSIONS.values()]
    for a in assessments:
        if a.status != "strong":
            a.playbooks = playbooks_for(a.gap, phase, facts.partner.type, catalog, has_customers=bool(facts.won()))
    order = list(IMPACT)
    gaps = sorted((a for a in assessments if a.status != "strong"), key=lambda a: (-a.priority, order.index(a.gap)))
    top = gaps[0] if gaps else None
    return Diagnosis(
        partner_id=partner_id,
        name=facts.partner.name,
        as_of=as_of,
        phase=phase,
        gaps=gaps,
        top_gap=top,
        assessments=assessments,
        catalog_empty=not catalog,
        summary=_summary(facts.partner.name, gaps, top, not catalog),
    )


def _summary(name: str, gaps: list[GapAssessment], top: GapAssessment | None, catalog_empty: bool) -> str:
    if top is None:
        return f"{name}: no GTM gap found; all six dimensions are backed by behaviour."
    missing = sum(g.status == "missing" for g in gaps)
    what = f" (missing: {', '.join(top.missing_elements[:2])})" if top.missing_elements else ""
    text = (f"{name}: {len(gaps)} GTM gap(s), {missing} missing. Fix next: {top.label} — {top.status}{what}.")
    if catalog_empty:
        text += " The playbook catalog is empty, so no playbook can be suggested."
    return text


__all__ = ["LABELS", "Diagnosis", "GapAssessment", "PlaybookRef", "Thresholds", "diagnose", "size_range"]
