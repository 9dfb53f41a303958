"""`generate_program`: a deterministic synthetic partner program as canonical rows, streamed per file."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from readiness.seed.gtm import gtm_texts
from readiness.seed.plan import PartnerPlan, Timeline, build_plans, day_to_date
from readiness.seed.simulate import (
    SimEvent,
    SimOpportunity,
    expected_generic_events,
    simulate_events,
    simulate_opportunities,
)

FIRST_NAMES = ["Dana", "Marco", "Priya", "Tomasz", "Aiko", "Lena", "Samuel", "Ines", "Rahul", "Grace", "Jonas", "Mei"]
LAST_NAMES = ["Whitfield", "Ruiz", "Natarajan", "Kowalski", "Tanaka", "Berg", "Okafor", "Duarte", "Mehta", "Lindqvist"]

CSV_COLUMNS: dict[str, list[str]] = {
    "pams.csv": ["pam_id", "name", "email"],
    "partners.csv": ["partner_id", "name", "type", "region", "country", "program_tier", "joined_on", "pam_id",
                     "specializations", "employee_count", "customer_overlap_accounts", "competitive_conflict"],
    "gtm_profiles.csv": ["partner_id", "icp_statement", "use_cases", "positioning", "sales_motion", "updated_on"],
    "opportunities.csv": ["opportunity_id", "partner_id", "account_name", "amount", "currency", "stage", "attribution",
                          "created_on", "close_date", "forecast_category", "industry", "employee_band"],
    "activity.csv": ["event_id", "partner_id", "occurred_at", "kind", "detail", "value"],
    "partner_attributes.csv": ["partner_id", "attribute", "valid_from", "value"],
}
DEFAULT_EVENTS_PER_PARTNER: float | None = None  # None: the archetypes' natural rates (~30 a partner)


@lru_cache(maxsize=4096)
def iso_day(day: int) -> str:
    return day_to_date(day).isoformat()


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:.2f}"


@dataclass
class SyntheticProgram:
    """Plans in memory; opportunities and activity re-derived per partner from its seed when streamed."""

    seed: int
    timeline: Timeline
    pams: list[dict[str, str]]
    plans: list[PartnerPlan]
    rate_scale: float = 1.0

    @property
    def as_of(self) -> date:
        return self.timeline.as_of

    def partner_opportunities(self, plan: PartnerPlan) -> list[SimOpportunity]:
        return simulate_opportunities(plan, self.timeline)

    def partner_events(self, plan: PartnerPlan, opps: list[SimOpportunity] | None = None) -> list[SimEvent]:
        opps = self.partner_opportunities(plan) if opps is None else opps
        return simulate_events(plan, self.timeline, opps, self.rate_scale)

    # Canonical rows, one generator per file; values as the CSV would hold them ("" = empty cell).
    def pam_rows(self) -> Iterator[dict[str, str]]:
        yield from self.pams

    def partner_rows(self) -> Iterator[dict[str, str]]:
        for p in self.plans:
            yield {
                "partner_id": p.partner_id, "name": p.name, "type": p.type, "region": p.region,
                "country": p.country, "program_tier": p.program_tier,
                "joined_on": iso_day(p.joined_day) if p.joined_day is not None else "", "pam_id": p.pam_id,
                "specializations": ";".join(p.specializations), "employee_count": str(p.employee_count),
                "customer_overlap_accounts": str(p.overlap), "competitive_conflict": p.conflict,
            }

    def gtm_rows(self) -> Iterator[dict[str, str]]:
        for p in self.plans:
            rng = random.Random(p.seed ^ 0x6A7)
            if p.joined_day is None and rng.random() < 0.7:
                continue  # most prospects never filled in a profile
            row = {"partner_id": p.partner_id, **gtm_texts(rng, p.latent, p.industry, p.band)}
            lo = max(p.joined_day or self.timeline.start_day, self.timeline.start_day)
            row["updated_on"] = iso_day(rng.randint(min(lo, self.timeline.as_of_day), self.timeline.as_of_day))
            yield row

    def opportunity_rows(self) -> Iterator[dict[str, str]]:
        for p in self.plans:
            for o in self.partner_opportunities(p):
                yield opportunity_row(p, o)

    def activity_rows(self) -> Iterator[dict[str, str]]:
        for p in self.plans:
            for e in self.partner_events(p):
                yield activity_row(p, e)

    def attribute_rows(self) -> Iterator[dict[str, str]]:
        for p in self.plans:
            for attribute, day, value in attribute_history(p, self.timeline):
                yield {"partner_id": p.partner_id, "attribute": attribute, "valid_from": iso_day(day), "value": value}

    def files(self) -> dict[str, Iterator[dict[str, str]]]:
        return {
            "pams.csv": self.pam_rows(),
            "partners.csv": self.partner_rows(),
            "gtm_profiles.csv": self.gtm_rows(),
            "partner_attributes.csv": self.attribute_rows(),
            "opportunities.csv": self.opportunity_rows(),
            "activity.csv": self.activity_rows(),
        }

    def latent_rows(self) -> Iterator[dict[str, str]]:
        for p in self.plans:
            yield {"partner_id": p.partner_id, "latent_readiness": f"{p.latent:.4f}", "archetype": p.archetype}


def attribute_history(p: PartnerPlan, tl: Timeline) -> list[tuple[str, int, str]]:
    """Dated values of the attributes that change (attribute, valid_from day, value), ending at the partner's
    current values: headcount grows into today's, customer overlap builds up to today's (for a ready-but-dormant
    partner late in the window: its customer base came to fit the vendor), a conflict holds from the day it began."""
    rng = random.Random(p.seed ^ 0xA77)
    start = max(tl.start_day, p.joined_day if p.joined_day is not None else tl.start_day)
    end = tl.as_of_day
    out: list[tuple[str, int, str]] = []

    def series(attribute: str, current: int, first: float, late: bool) -> None:
        earlier = max(0, round(current * first))
        if earlier == current or end - start < 60:
            out.append((attribute, start, str(current)))
            return
        lo = max(start + 30, end - 150) if late else start + 30
        out.extend([(attribute, start, str(earlier)), (attribute, rng.randint(lo, end - 1), str(current))])

    series("employee_count", p.employee_count, rng.uniform(0.7, 1.0), late=False)
    series("customer_overlap_accounts", p.overlap, rng.uniform(0.3, 0.8), late=p.archetype == "ready_dormant")
    # No conflict is a dated fact too (an empty value): a later export that adds one must not reach back in time.
    began = start if p.archetype == "misaligned" else rng.randint(start + 1, end)
    if not p.conflict or began > start:
        out.append(("competitive_conflict", start, ""))
    if p.conflict:
        out.append(("competitive_conflict", began, p.conflict))
    return out


def opportunity_row(p: PartnerPlan, o: SimOpportunity) -> dict[str, str]:
    return {
        "opportunity_id": o.opportunity_id, "partner_id": p.partner_id, "account_name": o.account_name,
        "amount": _num(o.amount), "currency": "USD", "stage": o.stage, "attribution": o.attribution,
        "created_on": iso_day(o.created_day), "close_date": iso_day(o.close_day),
        "forecast_category": o.forecast_category, "industry": o.industry, "employee_band": o.employee_band,
    }


def activity_row(p: PartnerPlan, e: SimEvent) -> dict[str, str]:
    event_id, day, secs, kind, detail, value = e
    return {
        "event_id": event_id, "partner_id": p.partner_id,
        "occurred_at": f"{iso_day(day)}T{secs // 3600:02d}:{secs % 3600 // 60:02d}:00Z",
        "kind": kind, "detail": detail, "value": "" if value is None else _num(value),
    }


def generate_program(partners: int, seed: int, as_of: date, months: int = 18,
                     events_per_partner: float | None = DEFAULT_EVENTS_PER_PARTNER,
                     shares: dict[str, float] | None = None) -> SyntheticProgram:
    """A realistic program of `partners` partners and 3-8 PAMs whose activity ends at `as_of`.

    Same arguments, same output. `events_per_partner` rescales generic engagement (portal logins, content,
    events) so the average partner has about that many events; opportunity-linked events are unchanged.
    """
    if partners < 1:
        raise ValueError("partners must be at least 1")
    if months < 3:
        raise ValueError("months must be at least 3")
    rng = random.Random(seed)
    n_pams = min(partners, rng.randint(3, 8))
    pams = []
    for k in range(n_pams):
        first, last = FIRST_NAMES[(seed + k) % len(FIRST_NAMES)], LAST_NAMES[(seed * 7 + k * 3) % len(LAST_NAMES)]
        pams.append({"pam_id": f"pam-{k + 1:02d}", "name": f"{first} {last}",
                     "email": f"{first.lower()}.{last.lower()}@vendor.example"})
    timeline = Timeline(as_of=as_of, months=months)
    plans = build_plans(partners, seed, timeline, [p["pam_id"] for p in pams], shares)
    scale = 1.0
    if events_per_partner is not None:
        expected = sum(expected_generic_events(p, timeline) for p in plans) / partners
        scale = events_per_partner / expected if expected > 0 else 1.0
    return SyntheticProgram(seed=seed, timeline=timeline, pams=pams, plans=plans, rate_scale=scale)


__all__ = ["CSV_COLUMNS", "SyntheticProgram", "activity_row", "attribute_history", "generate_program",
           "opportunity_row"]


