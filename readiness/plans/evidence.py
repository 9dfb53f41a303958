"""Milestone acceptance evidence: the data a milestone needs (as pydantic specs) and its evaluation on the store.

Evidence is read from `PartnerFacts` (everything dated up to as_of) restricted to a window `[since, until]`, so
the same spec answers both "was this already true when the plan started?" and "is it done as of today?".
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from readiness.gtm import rubric
from readiness.gtm.facts import PartnerFacts

PROFILE_FIELDS = ("icp_statement", "use_cases", "positioning", "sales_motion")


class EventAcceptance(BaseModel):
    kind: Literal["event"] = "event"
    event_kinds: list[str] = Field(min_length=1)
    min_count: int = Field(1, ge=1)

    def describe(self) -> str:
        kinds = " or ".join(k.replace("_", " ") for k in self.event_kinds)
        return f"at least {self.min_count} {kinds} event(s) recorded"


class RubricAcceptance(BaseModel):
    kind: Literal["rubric"] = "rubric"
    field: Literal["icp_statement", "use_cases", "positioning", "sales_motion"]
    min_score: float = Field(ge=0.0, le=1.0)

    def describe(self) -> str:
        return f"the GTM profile's {self.field.replace('_', ' ')} scores at least {self.min_score:.2f} on the rubric"


class OpportunityAcceptance(BaseModel):
    kind: Literal["opportunities"] = "opportunities"
    attribution: Literal["sourced", "influenced", "any"] = "sourced"
    min_count: int = Field(1, ge=1)

    def describe(self) -> str:
        what = "" if self.attribution == "any" else f"{self.attribution} "
        return f"at least {self.min_count} {what}opportunit{'y' if self.min_count == 1 else 'ies'} created"


class ConfirmationAcceptance(BaseModel):
    kind: Literal["confirmation"] = "confirmation"

    def describe(self) -> str:
        return "confirmed by the partner's PAM"


Acceptance = Annotated[
    EventAcceptance | RubricAcceptance | OpportunityAcceptance | ConfirmationAcceptance, Field(discriminator="kind")
]
_ADAPTER: TypeAdapter[Acceptance] = TypeAdapter(Acceptance)


def parse_acceptance(data: dict[str, object]) -> Acceptance:
    return _ADAPTER.validate_python(data)


class EvidenceResult(BaseModel):
    met: bool
    count: int = Field(description="matching items found (1/0 for a rubric)")
    needed: int
    items: list[str] = Field(default_factory=list, description="what was found, briefly")
    last_on: date | None = Field(None, description="date of the newest matching item (progress marker)")


def evaluate(spec: Acceptance, facts: PartnerFacts, since: date | None, until: date) -> EvidenceResult:
    """Does the store hold the acceptance evidence dated within [since, until]?"""
    if isinstance(spec, EventAcceptance):
        hits = facts.of_kind(*spec.event_kinds, since=since, until=until)
        items = [f"{e.kind} {e.on}" + (f" ({e.detail})" if e.detail else "") for e in hits[-5:]]
        return EvidenceResult(met=len(hits) >= spec.min_count, count=len(hits), needed=spec.min_count, items=items,
                              last_on=hits[-1].on if hits else None)
    if isinstance(spec, OpportunityAcceptance):
        opps = [
            o for o in facts.opps(None if spec.attribution == "any" else spec.attribution, since=since)
            if o.created_on is not None and o.created_on <= until
        ]
        items = [f"{o.opportunity_id} {o.attribution} {o.account_name or ''} created {o.created_on}".replace("  ", " ")
                 for o in opps[-5:]]
        return EvidenceResult(met=len(opps) >= spec.min_count, count=len(opps), needed=spec.min_count, items=items,
                              last_on=opps[-1].created_on if opps else None)
    if isinstance(spec, RubricAcceptance):
        profile = facts.profile
        # The profile holds only its latest text; it counts from its last edit date.
        if profile is None or (profile.updated_on is not None and profile.updated_on > until):
            return EvidenceResult(met=False, count=0, needed=1)
        r = rubric.assess_field(spec.field, getattr(profile, spec.field))
        met = r.score >= spec.min_score
        item = f"{spec.field} scores {r.score:.2f}" + (f" (missing: {', '.join(r.missing)})" if r.missing else "")
        dated = profile.updated_on if profile.updated_on and (since is None or profile.updated_on >= since) else None
        return EvidenceResult(met=met, count=int(met), needed=1, items=[item], last_on=dated)
    return EvidenceResult(met=False, count=0, needed=1)  # confirmation: only a PAM completes it


__all__ = [
    "PROFILE_FIELDS",
    "Acceptance",
    "ConfirmationAcceptance",
    "EventAcceptance",
    "EvidenceResult",
    "OpportunityAcceptance",
    "RubricAcceptance",
    "evaluate",
    "parse_acceptance",
]
