"""Pydantic models the scoring API returns."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

Segment = Literal["active", "ready", "developing", "inactive"]
Outlook = Literal["not_yet", "not_ever"]
Gap = Literal["icp", "use_case", "sales_motion", "delivery_credibility", "business_communication", "ae_engagement",
              "enablement", "pipeline_hygiene", "co_sell"]
Play = Literal["reactivate", "first_deal", "event_to_registration", "open_overlap", "grow_to_sourcing"]


class SubSignal(BaseModel):
    key: str
    label: str
    value: float = Field(description="saturated value, 0-1")
    weight: float = Field(description="share of the dimension, 0-100 (sub-signal weights of a dimension sum to 100)")
    contribution: float = Field(description="points this sub-signal adds to the dimension score (0-100)")
    evidence: list[str] = Field(default_factory=list)


class DimensionScore(BaseModel):
    key: str
    label: str
    score: float = Field(description="0-100")
    weight: float = Field(description="weight in the total (0-100; 0 when shown only, e.g. GTM)")
    contribution: float = Field(description="points this dimension adds to the total score")
    subsignals: list[SubSignal] = Field(default_factory=list)
    adjustments: list[str] = Field(default_factory=list, description="readiness signals applied to this dimension")


class DormantFlag(BaseModel):
    code: str
    label: str
    evidence: list[str] = Field(default_factory=list)


class PlayEvidence(BaseModel):
    code: Play
    label: str
    strength: float = Field(description="evidence strength 0-1: weight x magnitude x recency")
    evidence: list[str] = Field(default_factory=list)


class PartnerScore(BaseModel):
    partner_id: str
    name: str
    pam_id: str | None
    as_of: date
    score: float
    tier: str
    segment: Segment
    outlook: Outlook | None
    outlook_reason: str | None
    dimensions: list[DimensionScore]
    gtm: list[DimensionScore]
    momentum_30: float | None = None
    momentum_90: float | None = None
    dormant_flags: list[DormantFlag] = Field(default_factory=list)
    revenue_at_stake: float | None = None
    play: Play | None = Field(None, description="primary call play (None: not worth a call)")
    plays: list[PlayEvidence] = Field(default_factory=list, description="applicable plays, primary first")
    recent_engagement: list[str] = Field(default_factory=list, description="touches in the last 90 days")
    priority: float | None = Field(None, description="call-list order: stake x evidence strength x urgency")
    opener: str | None = Field(None, description="the line to open the call with, from the primary play's evidence")
    next_step: str | None = None
    open_with_gap: Gap | None = None

    def strengths(self, n: int = 3) -> list[str]:
        """Top contributing sub-signals (by points to the total)."""
        rows = sorted(self._weighted(), key=lambda r: r[0], reverse=True)[:n]
        return [f"{label}: {s.label} ({s.value:.2f})" for _, label, s in rows if s.value > 0]

    def weaknesses(self, n: int = 3) -> list[str]:
        """Sub-signals with the most points left on the table (weight x (1 - value))."""
        rows = sorted(self._missing(), key=lambda r: r[0], reverse=True)[:n]
        return [f"{label}: {s.label} ({s.value:.2f})" for _, label, s in rows]

    def _weighted(self) -> list[tuple[float, str, SubSignal]]:
        return [(d.contribution * s.contribution / max(d.score, 1e-9), d.label, s)
                for d in self.dimensions for s in d.subsignals]

    def _missing(self) -> list[tuple[float, str, SubSignal]]:
        return [(d.weight * s.weight * (1 - s.value), d.label, s) for d in self.dimensions for s in d.subsignals]


class CallListEntry(BaseModel):
    """One line of the dormant call list, as shown: `readiness` is the score rounded once for display."""

    rank: int
    partner_id: str
    name: str
    pam_id: str | None
    segment: Segment
    readiness: int
    tier: str
    revenue_at_stake: float
    play: Play
    plays: list[PlayEvidence]
    priority: float = Field(description="the list's order: revenue at stake x evidence strength x urgency")
    recent_engagement: list[str]
    reasons: list[str]
    open_with_gap: Gap
    next_step: str
    opener: str
    dormant_flags: list[DormantFlag]
    as_of: date


class GrowthEntry(BaseModel):
    """One partner of the grow-co-sell-into-sourcing list (co-sells on vendor deals, has never sourced one)."""

    rank: int
    partner_id: str
    name: str
    pam_id: str | None
    readiness: int
    tier: str
    revenue_at_stake: float
    influenced_count: int
    influenced_open: float = Field(description="open influenced pipeline (amount)")
    recent_engagement: list[str]
    reasons: list[str]
    next_step: str
    as_of: date


class RevenueImpact(BaseModel):
    partner_id: str
    name: str
    as_of: date
    score: float
    activation_probability: float
    probability_basis: str
    typical_deal_size: float
    deal_size_basis: str
    deals_per_year: float
    deals_per_year_basis: str
    expected_upside: float = Field(description="probability x typical deal size x deals per year (a year)")
    cost_of_inaction_per_quarter: float
    activation_cost: float
    activation_roi: float = Field(description="(expected upside - activation cost) / activation cost")
    trace: list[str]


class ProgramImpact(BaseModel):
    as_of: date
    partners_considered: int
    ready_dormant_count: int
    ready_dormant_revenue: float = Field(description="yearly revenue the ready dormant partners represent if active")
    expected_upside: float = Field(description="sum of their probability-weighted upside")
    activation_share: float
    lift: float = Field(description="activation_share x ready_dormant_revenue")
    top_partners: list[str]
    trace: list[str]


class BacktestReport(BaseModel):
    as_of: date
    horizon_days: int
    partners: int
    positives: int
    base_rate: float
    auc: float | None
    auc_dormant: float | None = Field(None, description="AUC among partners not active at as_of")
    base_rate_dormant: float | None = Field(None, description="share of the partners not active at as_of that went "
                                            "on to create sourced pipeline: what the call list's precision beats")
    k: int
    precision_at_k: float | None = Field(None, description="share of the top-k call list with new sourced pipeline")
    top_decile_lift: float | None
    weights: dict[str, float]
    tiers: list[TierRow] = Field(default_factory=list, description="conversion per tier (scores as of as_of)")


class TierRow(BaseModel):
    tier: str
    partners: int
    positives: int = Field(description="partners that created new sourced pipeline within the horizon")
    conversion: float
    share_of_positives: float


class TierFit(BaseModel):
    fit_as_of: date
    partners: int
    positives: int
    tiers: Any = Field(description="the fitted TierConfig")
    table: list[TierRow]
    ordered: bool = Field(description="conversion rates strictly decrease from Tier 1 to Tier 4")


class CalibrationReport(BaseModel):
    as_of: date
    horizon_days: int
    fit_as_of: date
    fit_partners: int
    fit_positives: int
    fitted_weights: dict[str, float]
    before: BacktestReport
    after: BacktestReport
    written_to: str | None = None
    note: str | None = None
