"""Request and response bodies of the REST API (`/v1`) that are not domain models already, with OpenAPI examples.

Domain results (scores, diagnoses, plans, nudges, pipeline, lifecycle, program health, import reports) are returned
as the domain's own Pydantic models, so a field the domain adds reaches API clients without a copy here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from readiness.claims import ClaimsAwaiting
from readiness.importers import ImportReport
from readiness.keys import KeyInfo, KeyRole
from readiness.lifecycle import LifecycleReport
from readiness.nudges import Nudge
from readiness.plans import PlanView
from readiness.scoring import CallListEntry, DimensionScore, DormantFlag, GrowthEntry

Level = Literal["low", "medium", "high"]
SignalDimension = Literal[
    "engagement", "revenue_potential", "market_alignment", "capability", "icp", "use_case", "sales_motion",
    "delivery_credibility", "business_communication", "ae_engagement",
]


def _examples(*examples: dict[str, object]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class Me(BaseModel):
    model_config = _examples({"role": "pam", "principal_id": "pam-02", "name": "Priya Raman", "credential": "key"})

    role: str
    principal_id: str
    name: str | None
    credential: str = Field(description="token | key | oidc | demo")


class SnapshotFacts(BaseModel):
    as_of: date
    score: float
    tier: str
    segment: str
    revenue_at_stake: float | None = None


class PartnerSummary(BaseModel):
    partner_id: str
    name: str
    type: str
    region: str | None
    country: str | None
    program_tier: str | None
    pam_id: str | None
    joined_on: date | None
    latest: SnapshotFacts | None = Field(None, description="the latest stored score on or before today")


class PartnerPage(BaseModel):
    model_config = _examples({
        "total": 16, "limit": 50, "offset": 0,
        "items": [{"partner_id": "p-004", "name": "Thistle Networks", "type": "reseller", "region": "EMEA",
                   "country": "GB", "program_tier": "silver", "pam_id": "pam-02", "joined_on": "2025-03-14",
                   "latest": {"as_of": "2026-10-31", "score": 41, "tier": "C", "segment": "developing",
                              "revenue_at_stake": 58000.0}}],
    })

    total: int
    limit: int
    offset: int
    items: list[PartnerSummary]


class GTMProfileView(BaseModel):
    icp_statement: str | None
    use_cases: list[str]
    positioning: str | None
    sales_motion: str | None
    updated_on: date | None


class PartnerDetail(PartnerSummary):
    model_config = _examples({
        "partner_id": "p-004", "name": "Thistle Networks", "type": "reseller", "region": "EMEA", "country": "GB",
        "program_tier": "silver", "pam_id": "pam-02", "pam_name": "Priya Raman", "joined_on": "2025-03-14",
        "specializations": ["networking"], "employee_count": 42, "customer_overlap_accounts": 12,
        "latest": {"as_of": "2026-10-31", "score": 41, "tier": "C", "segment": "developing"},
        "gtm_profile": {"icp_statement": "Mid-market retailers in the UK", "use_cases": ["store connectivity"],
                        "positioning": None, "sales_motion": None, "updated_on": "2026-05-02"},
    })

    pam_name: str | None
    specializations: list[str]
    employee_count: int | None
    customer_overlap_accounts: int | None
    gtm_profile: GTMProfileView | None


class TrendPoint(BaseModel):
    as_of: date
    score: float
    tier: str
    segment: str


class ScoreResponse(BaseModel):
    model_config = _examples({
        "partner_id": "p-004", "name": "Thistle Networks", "as_of": "2026-10-31", "score": 41, "tier": "C",
        "segment": "developing", "outlook": "not_yet", "outlook_reason": "engaged but no sourced deal yet",
        "weights": {"engagement": 30.0, "revenue_potential": 30.0, "market_alignment": 20.0, "capability": 20.0},
        "dimensions": [{"key": "engagement", "label": "Engagement", "score": 55.0, "weight": 30.0,
                        "contribution": 16.5, "subsignals": [{"key": "logins", "label": "Portal logins",
                                                               "value": 0.62, "weight": 40.0, "contribution": 24.8,
                                                               "evidence": ["9 logins in the last 90 days"]}],
                        "adjustments": []}],
        "gtm": [], "dormant_flags": [], "momentum_30": 2.1, "momentum_90": -4.0, "revenue_at_stake": 58000.0,
        "strengths": ["Engagement: Portal logins (0.62)"], "weaknesses": ["Capability: Certifications (0.00)"],
        "trend": [{"as_of": "2026-09-30", "score": 39, "tier": "C", "segment": "developing"},
                  {"as_of": "2026-10-31", "score": 41, "tier": "C", "segment": "developing"}],
    })

    partner_id: str
    name: str
    as_of: date
    score: float = Field(description="0-100, as shown everywhere: rounded once, to a whole number")
    tier: str
    segment: str
    outlook: str | None
    outlook_reason: str | None
    weights: dict[str, float] = Field(description="dimension weights in the total (0-100)")
    dimensions: list[DimensionScore]
    gtm: list[DimensionScore]
    dormant_flags: list[DormantFlag]
    momentum_30: float | None
    momentum_90: float | None
    revenue_at_stake: float | None
    strengths: list[str] = Field(description="top contributing sub-signals, with their evidence in `dimensions`")
    weaknesses: list[str] = Field(description="sub-signals with the most points left on the table")
    trend: list[TrendPoint] = Field(description="stored scores, oldest first, today's included")


class MilestoneAction(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"action": "claim", "note": "ran the ICP workshop with the sales team on Tuesday"},
        {"action": "confirm"}, {"action": "reject", "note": "no target list attached yet"}]})

    action: Literal["claim", "confirm", "reject"] = Field(
        description="claim: a partner says it is done; confirm / reject: the partner's PAM decides")
    note: str | None = Field(None, max_length=1000)


class ActivePlan(BaseModel):
    active: PlanView | None = Field(description="the active 30/60/90-day plan; null: none yet (POST …/plan creates it)")


class SignalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"dimension": "capability", "level": "high", "evidence": "Two more engineers certified in October"},
        {"dimension": "engagement", "value": 70, "evidence": "Weekly pipeline calls since September"}]})

    dimension: SignalDimension
    level: Level | None = None
    value: float | None = Field(None, ge=0, le=100)
    evidence: str = Field(min_length=1, max_length=1000)


class SignalReview(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"decision": "confirm"}, {"decision": "override", "level": "medium", "note": "one engineer, not two"}]})

    decision: Literal["confirm", "reject", "override"]
    value: float | None = Field(None, ge=0, le=100)
    level: Level | None = None
    note: str | None = Field(None, max_length=1000)


class NudgesResponse(BaseModel):
    model_config = _examples({"as_of": "2026-10-31", "scope": "pam:pam-02", "nudges": [
        {"partner_id": "p-004", "name": "Thistle Networks", "audience": "pam", "code": "no_login",
         "reason": "no portal login for 41 days", "next_step": "Call the partner's sales lead.",
         "due_since": "2026-10-20"}]})

    as_of: date
    scope: str
    nudges: list[Nudge]


class CallListResponse(BaseModel):
    model_config = _examples({"as_of": "2026-10-31", "pam_id": "pam-02", "entries": [
        {"rank": 1, "partner_id": "p-017", "name": "Summit Technologies", "pam_id": "pam-02", "segment": "ready",
         "readiness": 58, "tier": "B", "revenue_at_stake": 120000.0,
         "reasons": ["Trained, never sold: 3 certifications, no deal registered"],
         "open_with_gap": "use_case", "next_step": "Turn their enablement into one repeatable use case.",
         "dormant_flags": [{"code": "trained_never_sold", "label": "Trained, never sold", "evidence": []}]}]})

    as_of: date
    pam_id: str | None = Field(description="the book; null: the whole program")
    entries: list[CallListEntry]


class GrowListResponse(BaseModel):
    model_config = _examples({"as_of": "2026-10-31", "pam_id": "pam-02", "entries": [
        {"rank": 1, "partner_id": "p-039", "name": "Harbor Cloud", "pam_id": "pam-02", "readiness": 40,
         "tier": "Tier 3", "revenue_at_stake": 27232.52, "influenced_count": 6, "influenced_open": 90000.0,
         "recent_engagement": [],
         "reasons": ["Co-sells on vendor deals but never sources: 6 influenced opportunities, 0 sourced"],
         "next_step": "Register the next co-sold deal as partner-sourced.", "as_of": "2026-10-31"}]})

    as_of: date
    pam_id: str | None = Field(description="the book; null: the whole program")
    entries: list[GrowthEntry]


class BookHealth(BaseModel):
    model_config = _examples({"as_of": "2026-10-31", "pam_id": "pam-02", "partners": 16, "scored": 16,
                              "segments": {"active": 3, "ready": 4, "developing": 6, "inactive": 3},
                              "tiers": {"A": 1, "B": 4, "C": 8, "D": 3}, "lifecycle": {
                                  "as_of": "2026-10-31", "partners": 16, "bottleneck": "onboarding",
                                  "bottleneck_reason": "only 40% of 10 partners that reached onboarding moved on",
                                  "thresholds": {"signed": 45, "onboarding": 60, "activated": 180},
                                  "stages": [{"stage": "onboarding", "current": 6, "reached": 10,
                                              "conversion_to_next": 0.4, "median_days_to_next": 52.0,
                                              "stalled": 3}],
                                  "stalled": []}})

    as_of: date
    pam_id: str | None
    partners: int
    scored: int = Field(description="partners with a stored score for today")
    segments: dict[str, int]
    tiers: dict[str, int]
    lifecycle: LifecycleReport


class ClaimsResponse(ClaimsAwaiting):
    model_config = _examples({"milestones": [
        {"partner_id": "p-004", "name": "Thistle Networks", "plan_id": 7, "key": "icp_workshop",
         "title": "Run an ICP workshop", "phase": 30, "claimed_by": "partner:p-004",
         "claimed_at": "2026-10-28T12:00:00Z", "evidence": ["claimed by partner:p-004 on 2026-10-28"]}],
        "signals": []})


class PlaybookSummary(BaseModel):
    id: str
    title: str
    gaps: list[str]
    phase: str
    partner_types: list[str]
    audience: str
    requires_customers: bool
    updated_on: date
    word_count: int


class PlaybookDocument(PlaybookSummary):
    model_config = _examples({"id": "icp-worksheet", "title": "ICP worksheet", "gaps": ["icp"], "phase": "30",
                              "partner_types": ["reseller", "si"], "audience": "both", "requires_customers": False,
                              "updated_on": "2026-04-01", "word_count": 812, "markdown": "# ICP worksheet\n...",
                              "html": "<h1>ICP worksheet</h1>..."})

    markdown: str
    html: str = Field(description="rendered Markdown, sanitised (no scripts, no inline handlers)")


class PlaybookHit(BaseModel):
    playbook_id: str
    title: str
    heading_path: str
    anchor: str
    excerpt: str
    score: float


class PlaybookSearch(BaseModel):
    model_config = _examples({"query": "how do I write an ICP", "gap": None, "results": [
        {"playbook_id": "icp-worksheet", "title": "ICP worksheet", "heading_path": "ICP worksheet > Steps",
         "anchor": "icp-worksheet#steps", "excerpt": "Pick one industry...", "score": 0.82}]})

    query: str
    gap: str | None
    results: list[PlaybookHit]


class ImportResponse(BaseModel):
    model_config = _examples({"report": {"run_id": "imp-3f2a", "files": {"partners.csv": {
        "inserted": 2, "updated": 0, "unchanged": 46, "quarantined": 1}}, "total": {
        "inserted": 2, "updated": 0, "unchanged": 46, "quarantined": 1}, "quarantine": [
        {"file": "partners.csv", "row": 7, "reason": "type: must be one of reseller, si, isv, msp, referral"}],
        "quarantine_truncated": False}, "rescored": 48, "seconds": 1.9})

    report: ImportReport
    rescored: int | None = Field(description="partners rescored after the import (None: not asked)")
    seconds: float


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"role": "pam", "principal_id": "pam-02", "name": "CRM sync"}, {"role": "leader", "name": "VP dashboard"}]})

    role: KeyRole
    principal_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
                                     description="the partner or PAM id (partner and pam keys)")
    name: str | None = Field(None, max_length=200)
    expires_on: date | None = Field(None, description="last valid day (UTC)")


class KeyCreated(BaseModel):
    model_config = _examples({"key": "pp_3f2a9c1d0b4e_…", "info": {
        "key_id": "3f2a9c1d0b4e", "role": "pam", "principal_id": "pam-02", "name": "CRM sync",
        "created_at": "2026-10-31T09:12:00Z", "created_by": "admin:1a2b3c4d5e6f", "expires_at": None,
        "revoked_at": None, "status": "active"}})

    key: str = Field(description="shown once; only its hash is stored")
    info: KeyInfo


class LogoutResponse(BaseModel):
    revoked: bool
    expired_at: datetime | None = None


__all__ = [
    "ActivePlan", "BookHealth", "CallListResponse", "ClaimsResponse", "GTMProfileView", "GrowListResponse",
    "ImportResponse", "KeyCreate",
    "KeyCreated", "Level", "LogoutResponse", "Me", "MilestoneAction", "NudgesResponse", "PartnerDetail",
    "PartnerPage", "PartnerSummary", "PlaybookDocument", "PlaybookHit", "PlaybookSearch", "PlaybookSummary",
    "ScoreResponse", "SignalCreate", "SignalDimension", "SignalReview", "SnapshotFacts", "TrendPoint",
]
