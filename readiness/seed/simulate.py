"""One partner's 18 months: opportunities driven by lagged engagement, and the behavioural events around them.

Sourced deals in month m are drawn at a rate of ``latent^1.5 * engagement(m - lag)``: rising engagement
precedes sourced pipeline by 1-3 months, which is what makes readiness scores backtestable.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

from readiness.seed import vocab
from readiness.seed.plan import MONTH_DAYS, PartnerPlan, Timeline

OPEN_STAGES = ["discovery", "validation", "proposal", "negotiation"]
GENERIC_KINDS = [
    "portal_login", "content_downloaded", "content_shared", "event_attended", "ae_meeting", "joint_call",
    "demo_delivered", "workshop_delivered", "plan_updated", "mdf_requested", "co_sell_request",
]


@dataclass(slots=True)
class SimOpportunity:
    opportunity_id: str
    account_name: str
    amount: float
    stage: str
    attribution: str
    created_day: int
    close_day: int
    forecast_category: str
    industry: str
    employee_band: str


# (event_id, day, seconds_of_day, kind, detail, value)
SimEvent = tuple[str, int, int, str, str, float | None]


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation keeps big benchmark rates O(1)
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def month_ranges(plan: PartnerPlan, tl: Timeline) -> list[tuple[int, int, int]]:
    """(month index, first day, last day) of each window month in which the partner had signed."""
    if plan.joined_day is None:
        return []
    out = []
    for m in range(tl.months):
        lo = max(plan.joined_day, tl.start_day + round(m * MONTH_DAYS))
        hi = min(tl.as_of_day, tl.start_day + round((m + 1) * MONTH_DAYS) - 1)
        if lo <= hi:
            out.append((m, lo, hi))
    return out


def simulate_opportunities(plan: PartnerPlan, tl: Timeline) -> list[SimOpportunity]:
    rng = random.Random(plan.seed ^ 0x5EED0)
    opps: list[SimOpportunity] = []
    L = plan.latent
    sourced_rate = plan.deal_mult * L**1.5
    influenced_rate = plan.influenced_mult * 0.35
    for m, lo, hi in month_ranges(plan, tl):
        driver = plan.engagement(m - plan.lag)
        for attribution, rate in (("sourced", sourced_rate * driver), ("influenced", influenced_rate * driver)):
            for _ in range(poisson(rng, rate)):
                created = rng.randint(lo, hi)
                if attribution == "sourced" and plan.deals_until_day is not None and created > plan.deals_until_day:
                    continue
                attr = "none" if attribution == "sourced" and rng.random() < 0.04 else attribution
                opps.append(_opportunity(rng, plan, tl, f"op-{plan.partner_id[2:]}-{len(opps) + 1:03d}", attr, created))
    return opps


def _opportunity(rng: random.Random, plan: PartnerPlan, tl: Timeline, oid: str, attribution: str,
                 created: int) -> SimOpportunity:
    L = plan.latent
    cycle = rng.randint(30, 150) if rng.random() < 0.8 else rng.randint(150, 320)
    close = created + cycle
    amount = float(round(rng.lognormvariate(10.6 + 0.6 * L, 0.6) / 500) * 500) or 500.0
    industry = plan.industry if rng.random() < 0.7 else rng.choice(vocab.INDUSTRIES)
    band = plan.band if rng.random() < 0.6 else rng.choice(vocab.EMPLOYEE_BANDS)
    if close <= tl.as_of_day:
        if rng.random() < 0.1 + 0.15 * (1 - L):
            # CRM hygiene: the deal never got closed out, its close date is in the past (a stalled opp).
            stage = rng.choice(OPEN_STAGES)
            forecast = rng.choice(["commit", "best_case", "pipeline"])
        else:
            stage = "closed_won" if rng.random() < 0.25 + 0.5 * L else "closed_lost"
            forecast = "closed"
    else:
        progress = (tl.as_of_day - created) / cycle
        stage = OPEN_STAGES[min(3, int(progress * 4))]
        forecast = {"discovery": "pipeline", "validation": "best_case", "proposal": "commit",
                    "negotiation": "commit"}[stage]
        if stage == "proposal" and rng.random() < 0.4:
            forecast = "best_case"
        if rng.random() < 0.05:
            forecast = "omitted"
    return SimOpportunity(oid, vocab.account_name(rng, industry), amount, stage, attribution, created, close,
                          forecast, industry, band)


def _kind_table(L: float) -> tuple[list[str], list[float]]:
    weights = [0.85 - 0.25 * L, 0.08, 0.02 + 0.08 * L, 0.06, 0.01 + 0.04 * L, 0.01 + 0.03 * L,
               0.005 + 0.03 * L, 0.02 * L + 0.002, 0.005 + 0.01 * L, 0.01 * L + 0.001, 0.02 * L + 0.002]
    cum: list[float] = []
    acc = 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    return GENERIC_KINDS, cum


def _detail(rng: random.Random, kind: str, plan: PartnerPlan) -> tuple[str, float | None]:
    if kind in ("content_downloaded", "content_shared"):
        return rng.choice(vocab.CONTENT), None
    if kind == "event_attended":
        return rng.choice(vocab.EVENTS), None
    if kind == "mdf_requested":
        return "Joint campaign", float(rng.choice([2500, 5000, 10000, 15000]))
    if kind in ("workshop_delivered", "demo_delivered"):
        return vocab.account_name(rng, plan.industry), None
    if kind == "plan_updated":
        return "Joint business plan", None
    return "", None


def expected_generic_events(plan: PartnerPlan, tl: Timeline) -> float:
    ranges = month_ranges(plan, tl)
    return sum(plan.event_rate * plan.engagement(m) * (hi - lo + 1) / MONTH_DAYS for m, lo, hi in ranges)


def simulate_events(plan: PartnerPlan, tl: Timeline, opps: list[SimOpportunity], rate_scale: float) -> list[SimEvent]:
    rng = random.Random(plan.seed ^ 0xAC71)
    ranges = month_ranges(plan, tl)
    if not ranges:
        return []
    first_day, last_day = ranges[0][1], tl.as_of_day
    raw: list[tuple[int, int, str, str, float | None]] = []

    def at(day: int, kind: str, detail: str = "", value: float | None = None) -> None:
        if first_day <= day <= last_day:
            raw.append((day, rng.randint(7 * 3600, 19 * 3600) // 60 * 60, kind, detail, value))

    weights = [plan.engagement(m) for m, _, _ in ranges]

    def engaged_day() -> int:
        # A day drawn in proportion to engagement, so milestones land when the partner is active.
        _, lo, hi = rng.choices(ranges, weights=weights)[0]
        return rng.randint(lo, hi)

    L = plan.latent
    ready = plan.archetype in ("ready_dormant", "producer", "emerging")
    if plan.joined_day is not None and plan.joined_day >= tl.start_day:
        at(plan.joined_day + rng.randint(1, 20), "onboarding_started", "Partner onboarding")
    # Enablement ladder: each next course or certification is less likely, more so for weak partners.
    boost = 0.3 if ready else 0.0
    trainings = [t for k, t in enumerate(vocab.TRAININGS) if rng.random() < (L + boost) * (0.95 - 0.22 * k)]
    certs = [c for k, c in enumerate(vocab.CERTIFICATIONS)
             if rng.random() < L**1.3 * (0.9 - 0.3 * k) + (boost if k == 0 else 0.0)]
    if plan.archetype == "ready_dormant":
        trainings = trainings or [vocab.TRAININGS[0]]
        certs = certs or [vocab.CERTIFICATIONS[0]]
    for day, name in zip(sorted(engaged_day() for _ in trainings), trainings, strict=True):
        at(day, "training_completed", f"Lumen {name}")
    for day, name in zip(sorted(engaged_day() for _ in certs), certs, strict=True):
        at(day, "certification_earned", f"Lumen {name}")
    if plan.overlap > 0:
        for _ in range(poisson(rng, 0.5 + plan.overlap / 30)):
            at(engaged_day(), "customer_overlap_detected", "CRM account match", float(rng.randint(1, plan.overlap)))

    kinds, cum = _kind_table(L)
    total = cum[-1]
    for m, lo, hi in ranges:
        share = (hi - lo + 1) / MONTH_DAYS
        n = poisson(rng, plan.event_rate * rate_scale * plan.engagement(m) * share * rng.uniform(0.7, 1.3))
        for _ in range(n):
            kind = kinds[bisect.bisect_right(cum, rng.random() * total)]
            detail, value = _detail(rng, kind, plan)
            at(rng.randint(lo, hi), kind, detail, value)

    for opp in opps:
        end = min(opp.close_day, last_day)
        if opp.attribution == "sourced":
            at(opp.created_day, "deal_registered", opp.account_name, opp.amount)
            if rng.random() < 0.6:
                at(rng.randint(opp.created_day, end), "ae_meeting", opp.account_name)
            if rng.random() < 0.35:
                at(rng.randint(opp.created_day, end), "demo_delivered", opp.account_name)
            if opp.stage == "closed_won" and rng.random() < 0.12:
                at(opp.close_day + rng.randint(20, 90), "case_study_published", opp.account_name)
        if opp.attribution in ("sourced", "influenced") and rng.random() < 0.4:
            at(opp.created_day + rng.randint(0, 10), "co_sell_request", opp.account_name)
        if opp.attribution == "influenced" and rng.random() < 0.5:
            at(rng.randint(opp.created_day, end), "joint_call", opp.account_name)

    raw.sort(key=lambda e: (e[0], e[1]))
    pid = plan.partner_id[2:]
    return [(f"ev-{pid}-{k:05d}", d, s, kind, det, val) for k, (d, s, kind, det, val) in enumerate(raw, 1)]
